"""The CPU-spill doctor: what is loaded and where, against the memory fit and the history."""

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
