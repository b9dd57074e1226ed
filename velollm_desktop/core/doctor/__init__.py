"""The CPU-spill doctor: what is loaded and where, against the memory fit and the history.

Every name loads when first used: the tray imports `core.doctor.watch` alone (which runs this
file first), and loading the diagnosis there (memory fit, hashlib, benchmark history in SQLite)
cost its RSS (tests/ui/test_tray_rss.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from velollm_desktop.core.doctor.gather import diagnose
    from velollm_desktop.core.doctor.model import (
        DoctorReport,
        Finding,
        FindingKind,
        Fix,
        FixKind,
    )
    from velollm_desktop.core.doctor.ollama import OllamaSettings, diagnose_ollama
    from velollm_desktop.core.doctor.watch import SpillWatch

_WHERE = {
    "diagnose": "gather",
    "DoctorReport": "model",
    "Finding": "model",
    "FindingKind": "model",
    "Fix": "model",
    "FixKind": "model",
    "OllamaSettings": "ollama",
    "diagnose_ollama": "ollama",
    "SpillWatch": "watch",
}

__all__ = [
    "DoctorReport",
    "Finding",
    "FindingKind",
    "Fix",
    "FixKind",
    "OllamaSettings",
    "SpillWatch",
    "diagnose",
    "diagnose_ollama",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
