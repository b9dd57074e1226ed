"""Hardware detection across vendors: `detect_hardware()` returns one frozen `HardwareSpec`.

Order of GPU sources: NVML (all OSes), else nvidia-smi; AMD by rocm-smi, else sysfs; Intel by
sysfs; Apple by system_profiler; on Windows the registry for any GPU NVML did not report.
"""

from __future__ import annotations

import sys

from velollm_desktop.core.hardware.amd import detect_rocm_smi
from velollm_desktop.core.hardware.apple import detect_apple
from velollm_desktop.core.hardware.host import detect_cpu, detect_memory, detect_os
from velollm_desktop.core.hardware.model import (
    CpuInfo,
    GpuInfo,
    GpuVendor,
    HardwareSpec,
    MemoryInfo,
)
from velollm_desktop.core.hardware.nvidia import NVML, Nvml, detect_nvidia_nvml, detect_nvidia_smi
from velollm_desktop.core.hardware.sysfs import detect_sysfs_gpus
from velollm_desktop.core.hardware.windows import detect_windows_registry

__all__ = [
    "CpuInfo",
    "GpuInfo",
    "GpuVendor",
    "HardwareSpec",
    "MemoryInfo",
    "detect_gpus",
    "detect_hardware",
]


def detect_gpus(nvml: Nvml = NVML) -> tuple[list[GpuInfo], list[str]]:
    """Return (GPUs, notes). Never raises; each source that is absent simply adds nothing."""
    notes: list[str] = []
    gpus = detect_nvidia_nvml(nvml)
    if not gpus:
        gpus = detect_nvidia_smi()
        if nvml.failed_reason and gpus:
            notes.append(f"{nvml.failed_reason}; used nvidia-smi instead")
    if sys.platform.startswith("linux"):
        amd = detect_rocm_smi() or detect_sysfs_gpus(vendors=(GpuVendor.AMD,))
        gpus += amd
        gpus += detect_sysfs_gpus(vendors=(GpuVendor.INTEL,))
    elif sys.platform == "darwin":
        gpus += detect_apple()
    elif sys.platform == "win32":
        seen = {g.name for g in gpus}
        gpus += [g for g in detect_windows_registry() if g.name not in seen]
    return gpus, notes


def detect_hardware(nvml: Nvml = NVML) -> HardwareSpec:
    """Probe the machine once and return what was found (missing metrics are `None`)."""
    gpus, notes = detect_gpus(nvml)
    os_name, os_version, arch = detect_os()
    return HardwareSpec(
        gpus=tuple(gpus),
        cpu=detect_cpu(),
        memory=detect_memory(),
        os=os_name,
        os_version=os_version,
        arch=arch,
        notes=tuple(notes),
    )
