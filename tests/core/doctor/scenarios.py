"""Placement scenarios for the stand-in Ollama: real /api/show bodies, synthetic GPUs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from tests.fakes import FIXTURES
from velollm_desktop.core.hardware.model import (
    CpuInfo,
    GpuInfo,
    GpuVendor,
    HardwareSpec,
    MemoryInfo,
)

GIB = 1024**3
SHOW_8B = json.loads((FIXTURES / "ollama_show" / "llama3.1-8b.json").read_text())
SHOW_1B = json.loads((FIXTURES / "ollama_show" / "llama3.2-1b.json").read_text())


def gpu_machine(
    total_mib: int, used_mib: int = 0, name: str = "NVIDIA GeForce RTX 4070"
) -> HardwareSpec:
    gpu = GpuInfo(
        GpuVendor.NVIDIA,
        name,
        0,
        total_mib,
        used_mib,
        total_mib - used_mib,
        "580.159.04",
        "8.9",
        source="test",
    )
    return HardwareSpec(
        (gpu,), CpuInfo("test CPU", 8, 16), MemoryInfo(65536, 60000, 5536), "Linux", "6.8", "x86_64"
    )


def cpu_machine() -> HardwareSpec:
    return HardwareSpec(
        (), CpuInfo("test CPU", 8, 16), MemoryInfo(65536, 60000, 5536), "Linux", "6.8", "x86_64"
    )


def ps(name: str, size: float, vram: float, ctx: int, digest: str = "sha256:aa") -> dict:
    expires = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    return {
        "name": name,
        "model": name,
        "size": int(size),
        "size_vram": int(vram),
        "context_length": ctx,
        "digest": digest,
        "expires_at": expires,
        "details": {"format": "gguf", "family": "llama"},
    }


def install(fake) -> None:
    fake.extra_models = {
        "llama3.1:8b": {"show": SHOW_8B, "size": SHOW_8B["size"]},
        "llama3.2:1b": {"show": SHOW_1B, "size": SHOW_1B["size"]},
    }
