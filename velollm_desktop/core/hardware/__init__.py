"""Hardware detection: `detect_hardware()` returns one frozen `HardwareSpec` (see detect.py).

The names below are loaded on first use (PEP 562), so importing one submodule — the tray's
sampler needs only `model` and `nvidia` — does not load every vendor probe at start-up.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CpuInfo",
    "GpuInfo",
    "GpuVendor",
    "HardwareSpec",
    "MemoryInfo",
    "detect_gpus",
    "detect_hardware",
]


def __getattr__(name: str) -> Any:
    if name in ("CpuInfo", "GpuInfo", "GpuVendor", "HardwareSpec", "MemoryInfo"):
        from velollm_desktop.core.hardware import model  # noqa: PLC0415

        return getattr(model, name)
    if name in ("detect_gpus", "detect_hardware"):
        from velollm_desktop.core.hardware import detect  # noqa: PLC0415

        return getattr(detect, name)
    raise AttributeError(name)
