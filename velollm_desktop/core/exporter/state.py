"""What the exporter knows, as frozen snapshots swapped under one lock.

Pollers (the system sampler, the Ollama watch, the history reader) build a snapshot and swap
it in; a scrape only reads the current references, so it never waits on Ollama, NVML or
SQLite. Label values come only from `label_text` / `model_label`: model names, digest
prefixes and fixed words, capped in length; never a path, a prompt or an environment value.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from velollm_desktop.core.doctor.ollama import on_cpu
from velollm_desktop.core.monitor.sampler import SystemSample
from velollm_desktop.core.monitor.text import parse_expiry
from velollm_desktop.core.ollama.models import LoadedModel

MAX_MODELS = 256
"""Label sets per model metric; more loaded models are counted in `..._models_dropped`."""
MAX_BENCH_ROWS = 256
LABEL_MAX_CHARS = 128
DIGEST_CHARS = 12
"""`ollama ps` shows the first 12 hex digits of the digest as the model's ID."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEX = re.compile(r"[0-9a-f]+")
_PATHLIKE = re.compile(r"^(?:/|~|\.{1,2}[/\\]|[A-Za-z]:[/\\])|\\")


def label_text(value: object, limit: int = LABEL_MAX_CHARS) -> str:
    """A label value: control characters removed, at most `limit` characters."""
    return _CONTROL.sub("", str(value)).strip()[:limit]


def model_label(name: object) -> str:
    """A model's label: its name; a file path (a llama-server model) becomes the file's name."""
    text = _CONTROL.sub("", str(name)).strip()
    if _PATHLIKE.search(text):
        text = re.split(r"[/\\]", text)[-1]
    return text[:LABEL_MAX_CHARS] or "?"


def digest_prefix(digest: object) -> str:
    """The first 12 hex digits of `sha256:…` (as `ollama ps` shows the ID); "" if not hex."""
    text = str(digest or "").lower().removeprefix("sha256:")[:DIGEST_CHARS]
    return text if _HEX.fullmatch(text) else ""


def processor(size_bytes: int, vram_bytes: int) -> str:
    """ "gpu" (all in VRAM), "cpu" (none) or "gpu+cpu" (split), as `ollama ps` PROCESSOR."""
    if size_bytes <= 0 or vram_bytes >= size_bytes:
        return "gpu" if vram_bytes > 0 else "cpu"
    return "cpu" if vram_bytes <= 0 else "gpu+cpu"


def spill_verdict(model: LoadedModel) -> bool | None:
    """Whether the model spills to system RAM: part of it in VRAM, the rest not.

    The doctor's rule (`core.doctor.ollama.on_cpu`) for a model that is partly in VRAM; a model
    wholly on the CPU is `processor="cpu"`, not a spill (no GPU, or num_gpu 0); None when the
    size is unknown.
    """
    if model.size_bytes <= 0:
        return None
    return model.size_vram_bytes > 0 and on_cpu(model)


@dataclass(frozen=True)
class ModelSnapshot:
    """One loaded model, as labels and numbers."""

    name: str
    digest: str
    processor: str
    size_bytes: int
    vram_bytes: int
    context_tokens: int | None
    expires_at_s: float | None
    """Unix seconds when Ollama unloads it (None: never / not said)."""
    spills: bool | None

    @property
    def ram_bytes(self) -> int:
        return max(0, self.size_bytes - self.vram_bytes)


def model_snapshot(model: LoadedModel) -> ModelSnapshot:
    expiry = parse_expiry(model.expires_at)
    size = max(0, int(model.size_bytes))
    vram = min(max(0, int(model.size_vram_bytes)), size) if size else max(0, model.size_vram_bytes)
    ctx = model.context_length
    return ModelSnapshot(
        name=model_label(model.name),
        digest=digest_prefix(model.digest),
        processor=processor(size, vram),
        size_bytes=size,
        vram_bytes=vram,
        context_tokens=ctx if isinstance(ctx, int) and 0 < ctx < 1 << 31 else None,
        # Ollama writes a year-2262 date for keep_alive < 0 ("forever"): not an unload time
        expires_at_s=expiry.timestamp() if expiry and expiry.year < 2200 else None,
        spills=spill_verdict(model),
    )


@dataclass(frozen=True)
class OllamaSnapshot:
    """The last finished poll of Ollama."""

    up: bool
    taken_monotonic_s: float
    poll_duration_s: float
    version: str | None = None
    models: tuple[ModelSnapshot, ...] = ()
    models_dropped: int = 0
    error: str | None = None


@dataclass(frozen=True)
class BenchRow:
    """The newest benchmark of one (model, backend, suite)."""

    model: str
    backend: str
    suite: str
    started_at_s: float
    decode_tokens_per_s: float | None
    prompt_tokens_per_s: float | None
    ttft_s: float | None
    joules_per_token: float | None = None


@dataclass
class Counts:
    ollama_polls: int = 0
    ollama_errors: int = 0
    scrapes: int = 0
    last_scrape_s: float = 0.0


@dataclass
class ExporterState:
    """The current snapshots (swapped whole; readers take references under the lock)."""

    ollama_deadline_s: float = 2.0
    system: SystemSample | None = None
    ollama: OllamaSnapshot | None = None
    bench: tuple[BenchRow, ...] = ()
    bench_error: str | None = None
    counts: Counts = field(default_factory=Counts)
    _inflight_since: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_system(self, sample: SystemSample) -> None:
        with self._lock:
            self.system = sample

    def poll_started(self) -> None:
        with self._lock:
            self._inflight_since = time.monotonic()

    def set_ollama(self, snap: OllamaSnapshot) -> None:
        with self._lock:
            self.ollama = snap
            self._inflight_since = None
            self.counts.ollama_polls += 1
            if not snap.up:
                self.counts.ollama_errors += 1

    def set_bench(self, rows: tuple[BenchRow, ...], error: str | None = None) -> None:
        with self._lock:
            self.bench, self.bench_error = rows[:MAX_BENCH_ROWS], error

    def read(
        self,
    ) -> tuple[SystemSample | None, OllamaSnapshot | None, tuple[BenchRow, ...], Counts]:
        """(system, Ollama, bench rows, counters) now. A poll hanging past the deadline reads as
        Ollama down: its last answer is no longer the truth."""
        with self._lock:
            ollama = self.ollama
            since = self._inflight_since
            counts = Counts(**vars(self.counts))
            system, bench = self.system, self.bench
        if since is not None and time.monotonic() - since > self.ollama_deadline_s:
            ollama = OllamaSnapshot(
                up=False,
                taken_monotonic_s=time.monotonic(),
                poll_duration_s=time.monotonic() - since,
                error=f"no answer within {self.ollama_deadline_s:g} s",
            )
        return system, ollama, bench, counts

    def scraped(self, duration_s: float) -> None:
        with self._lock:
            self.counts.scrapes += 1
            self.counts.last_scrape_s = duration_s
