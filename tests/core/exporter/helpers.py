"""Shared pieces of the exporter tests: a recorded H100 with an energy counter, /api/ps models."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from tests.fakes import FakePynvml
from velollm_desktop.core.hardware.nvidia import Nvml
from velollm_desktop.core.monitor.sampler import Sampler

GIB = 1024**3


class EnergyPynvml(FakePynvml):
    """The recorded H100 (tests/fixtures/h100/nvml.json) plus NVML's total-energy counter (mJ),
    which grows by 1 J per read, as a busy GPU's would."""

    def __init__(self) -> None:
        super().__init__()
        self.energy_mj = 123_456_000

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
        self._gpu(h)
        self.energy_mj += 1000
        return self.energy_mj


def h100_sampler() -> Sampler:
    return Sampler(nvml=Nvml(EnergyPynvml()), sysfs_gpus=[])


def ps_model(name: str, size: int, vram: int, ctx: int = 4096, expires_s: float = 300.0) -> dict:
    """One /api/ps entry as Ollama writes it."""
    expires = datetime.now(timezone.utc) + timedelta(seconds=expires_s)
    return {
        "name": name,
        "model": name,
        "size": size,
        "digest": "9f438cb9cd581fc025612d27f7c1a6669ff83a8bb0ed86c94fcf4c5440555697",
        "details": {"format": "gguf", "family": "llama"},
        "expires_at": expires.isoformat(),
        "size_vram": vram,
        "context_length": ctx,
    }


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def promtool_check(text: str) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    assert exe, "promtool missing (Debian package prometheus): run bash build_scripts/setup.sh test"
    return subprocess.run(
        [exe, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
