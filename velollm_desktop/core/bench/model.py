"""Benchmark records. Units in the names: `_ms` milliseconds, `_per_s` per second."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from velollm_desktop.core.bench.stats import Stats
from velollm_desktop.core.energy.model import EnergyReading
from velollm_desktop.core.measurement import RunMeasurement

__all__ = ["BenchmarkResult", "RunMeasurement", "ServerInfo", "TestResult"]


@dataclass(frozen=True)
class TestResult:
    """All runs of one test plus their summaries."""

    name: str
    max_tokens: int
    runs: tuple[RunMeasurement, ...]
    decode_tokens_per_s: Stats | None
    server_decode_tokens_per_s: Stats | None
    ttft_ms: Stats | None
    prompt_tokens_per_s: Stats | None
    warmup_load_ms: float | None = None
    runs_requested: int | None = None
    """How many runs the suite asked for (fewer in `runs` means cancelled or failed runs)."""
    energy: EnergyReading | None = None
    """The energy of this test's runs (J per generated token, tokens per Wh, method); None in
    results saved before energy was measured."""


@dataclass(frozen=True)
class ServerInfo:
    """What was measured: which server, where, which version."""

    kind: str
    """"ollama", "llamacpp" or "openai"."""
    url: str
    version: str | None = None


@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark session (saved in the history, exported as JSON)."""

    app_version: str
    started_at: str
    """ISO 8601, UTC."""
    server: ServerInfo
    model: str
    model_digest: str | None
    suite: str
    options: dict[str, Any]
    results: tuple[TestResult, ...]
    hardware: Any = None
    """A HardwareSpec (kept untyped here to avoid a hard dependency between the modules)."""
    wall_s: float = 0.0
    cancelled: bool = False
    notes: tuple[str, ...] = field(default=())
    model_memory_bytes: int | None = None
    """What the server reported the loaded model to take after the warm-up (Ollama /api/ps
    size); None where the server does not say."""
