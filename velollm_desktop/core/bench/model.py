"""Benchmark records. Units in the names: `_ms` milliseconds, `_per_s` per second."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from velollm_desktop.core.bench.stats import Stats


@dataclass(frozen=True)
class RunMeasurement:
    """One generation, measured by the client clock and, where available, by the server."""

    ttft_ms: float | None
    """Request sent → first non-empty token, client clock."""
    decode_tokens_per_s: float | None
    """Client clock: (tokens − 1) / (last token time − first token time)."""
    server_decode_tokens_per_s: float | None
    """The server's own counters (Ollama eval_count/eval_duration, llama.cpp predicted_per_second)."""
    prompt_tokens_per_s: float | None
    prompt_tokens: int | None
    eval_count: int | None
    """Generated tokens."""
    load_ms: float | None
    total_ms: float
    """Request sent → stream closed, client clock."""
    cached_prompt_tokens: int | None = None
    draft_n: int | None = None
    draft_n_accepted: int | None = None
    text: str = ""


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
