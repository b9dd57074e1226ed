"""Hardware × model profiles for the optimizer's golden tests."""

from __future__ import annotations

import json

from tests.fakes import FIXTURES
from velollm_desktop.core.hardware.model import (
    CpuInfo,
    GpuInfo,
    GpuVendor,
    HardwareSpec,
    MemoryInfo,
)
from velollm_desktop.core.optimize.models import ModelProfile, profile_from_show


def model(name: str) -> ModelProfile:
    data = json.loads((FIXTURES / "ollama_show" / f"{name}.json").read_text())
    return profile_from_show(name, data, data["size"])


def nvidia(gib: int, cc: str = "8.6", ram_gib: int = 32, cores: int = 8) -> HardwareSpec:
    mib = gib * 1024 - 400 if gib != 80 else 81559
    gpu = GpuInfo(GpuVendor.NVIDIA, f"NVIDIA {gib} GB", 0, mib, 300, mib - 300, "580.1", cc)
    return HardwareSpec(
        (gpu,),
        CpuInfo("x86", cores, cores * 2),
        MemoryInfo(ram_gib * 1024, ram_gib * 1024 - 2048, 2048),
        "Linux",
        "test",
        "x86_64",
    )


def apple(gib: int) -> HardwareSpec:
    gpu = GpuInfo(
        GpuVendor.APPLE,
        "Apple M2",
        0,
        gib * 1024,
        unified_memory=True,
        integrated=True,
        gpu_cores=10,
    )
    return HardwareSpec(
        (gpu,),
        CpuInfo("Apple M2", 8, 8),
        MemoryInfo(gib * 1024, gib * 1024 - 3072, 3072),
        "macOS",
        "15",
        "arm64",
    )


def cpu_only(cores: int, ram_gib: int) -> HardwareSpec:
    return HardwareSpec(
        (),
        CpuInfo("x86", cores, cores * 2),
        MemoryInfo(ram_gib * 1024, ram_gib * 1024 - 2048, 2048),
        "Linux",
        "test",
        "x86_64",
    )


PROFILES = {
    "nvidia-4gb": nvidia(4, cc="6.1", ram_gib=16),
    "nvidia-8gb": nvidia(8, ram_gib=16),
    "nvidia-12gb": nvidia(12),
    "nvidia-24gb": nvidia(24, cc="8.9", ram_gib=64),
    "nvidia-48gb": nvidia(48, cc="8.6", ram_gib=128),
    "nvidia-80gb-h100": nvidia(80, cc="9.0", ram_gib=128),
    "nvidia-8gb-volta-xavier": nvidia(8, cc="7.2", ram_gib=16),
    "apple-16gb": apple(16),
    "apple-64gb": apple(64),
    "cpu-2-cores": cpu_only(2, 8),
    "cpu-16-cores": cpu_only(16, 64),
}
MODEL_SETS = {
    "1b": ["llama3.2-1b"],
    "8b": ["llama3.1-8b"],
    "70b": ["llama3.1-70b"],
    "1b+8b": ["llama3.2-1b", "llama3.1-8b"],
}
