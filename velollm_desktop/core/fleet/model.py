"""What a fleet probe reports: dataclasses with units in the names; None = not exposed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

TARGET_JSON_KEYS = (
    "url",
    "kind",
    "host",
    "up",
    "error",
    "probe_ms",
    "cpu_pct",
    "ram_used_bytes",
    "ram_total_bytes",
    "gpus",
    "models",
    "requests_running",
    "requests_waiting",
    "tokens_per_s",
    "model_rows",
)
"""The keys of one target in `velollm fleet --once --json` (docs/guides/FLEET.md)."""


@dataclass(frozen=True)
class GpuStatus:
    """One GPU as dcgm-exporter reports it."""

    name: str
    load_pct: float | None = None
    vram_used_bytes: int | None = None
    vram_total_bytes: int | None = None
    temperature_c: float | None = None
    power_w: float | None = None


@dataclass(frozen=True)
class ModelRow:
    """One loaded model as VeloLLM's exporter reports it."""

    name: str
    digest: str
    processor: str
    """"gpu", "cpu" or "gpu+cpu" (as `ollama ps` PROCESSOR)."""
    size_bytes: int | None
    vram_bytes: int | None
    context_tokens: int | None = None
    unload_s: float | None = None
    spills: bool | None = None


@dataclass(frozen=True)
class Counters:
    """Raw counter readings kept between probes to compute rates."""

    monotonic_s: float
    cpu_idle_s: float | None = None
    cpu_total_s: float | None = None
    tokens: float | None = None


@dataclass
class TargetStatus:
    """One probe of one target."""

    url: str
    kind: str | None
    host: str
    up: bool
    error: str | None = None
    probe_ms: float | None = None
    cpu_pct: float | None = None
    ram_used_bytes: int | None = None
    ram_total_bytes: int | None = None
    gpus: list[GpuStatus] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    requests_running: int | None = None
    requests_waiting: int | None = None
    tokens_per_s: float | None = None
    model_rows: list[ModelRow] = field(default_factory=list)
    """Per-model rows (VeloLLM's exporter only; empty for other kinds)."""
    version: str | None = None
    """Ollama's version (shown in the dashboard; not part of the JSON object)."""
    note: str | None = None
    """A hint for an up target that hides something (e.g. llama-server without --metrics)."""

    def to_json(self) -> dict:
        """The documented JSON object (exactly TARGET_JSON_KEYS)."""
        plain = asdict(self)
        return {key: plain[key] for key in TARGET_JSON_KEYS}


@dataclass
class HostStatus:
    """All targets of one host, with the worst level among them and why."""

    host: str
    targets: list[TargetStatus]
    level: str = "ok"
    """"ok", "warn" (a threshold crossed) or "down" (a target does not answer)."""
    reasons: list[str] = field(default_factory=list)
