"""The exporter's prometheus-client Collector: metric families built from cached snapshots.

`collect()` takes the state's current references and never does I/O, so a scrape answers in
microseconds whatever Ollama, NVML or the history database are doing. Names follow the
Prometheus conventions (prometheus.io "Metric and label naming"): a `velollm_` prefix, base
units in the name (`_bytes`, `_seconds`, `_joules_total`, `_watts`, `_celsius`, `_hertz`,
`_ratio`), `_total` on counters, a HELP and a TYPE for each family.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from velollm_desktop import __version__
from velollm_desktop.core.exporter.state import (
    BenchRow,
    Counts,
    ExporterState,
    OllamaSnapshot,
    label_text,
)
from velollm_desktop.core.monitor.sampler import SystemSample

MIB = 1024 * 1024
MODEL_LABELS = ("model", "digest", "processor")
GPU_LABELS = ("index", "name", "uuid")
BENCH_LABELS = ("model", "backend", "suite")


def _gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


class VelollmCollector(Collector):
    """Yields every family from `state` (one consistent read per scrape)."""

    def __init__(self, state: ExporterState) -> None:
        self.state = state

    def describe(self) -> list[Metric]:
        return []  # the families depend on what is present; registered with auto_describe off

    def collect(self) -> Iterator[Metric]:
        start = time.perf_counter()
        system, ollama, bench, counts = self.state.read()
        yield from _exporter(counts)
        yield from _ollama(ollama)
        yield from _counters(counts)
        yield from _models(ollama)
        yield from _gpus(system)
        yield from _host(system)
        yield from _bench(bench)
        self.state.scraped(time.perf_counter() - start)


def _exporter(counts: Counts) -> Iterator[Metric]:
    info = InfoMetricFamily(
        "velollm_exporter_build", "VeloLLM exporter version", labels=["version"]
    )
    info.add_metric([], {"version": __version__})
    yield info
    scrapes = CounterMetricFamily("velollm_exporter_scrapes", "Scrapes answered so far")
    scrapes.add_metric([], counts.scrapes)
    yield scrapes
    last = _gauge("velollm_exporter_last_scrape_duration_seconds", "Time the previous scrape took")
    last.add_metric([], counts.last_scrape_s)
    yield last


def _ollama(snap: OllamaSnapshot | None) -> Iterator[Metric]:
    up = _gauge("velollm_ollama_up", "1 when Ollama answered the last poll within the deadline")
    up.add_metric([], 1.0 if snap is not None and snap.up else 0.0)
    yield up
    if snap is not None and snap.up and snap.version:
        info = InfoMetricFamily("velollm_ollama", "Ollama's version (GET /api/version)")
        info.add_metric([], {"version": label_text(snap.version, 40)})
        yield info
    duration = _gauge(
        "velollm_ollama_poll_duration_seconds", "Time the last poll of Ollama took (or has taken)"
    )
    if snap is not None:
        duration.add_metric([], snap.poll_duration_s)
    yield duration


def _counters(counts: Counts) -> Iterator[Metric]:
    polls = CounterMetricFamily(
        "velollm_ollama_polls", "Polls of Ollama's /api/version and /api/ps"
    )
    polls.add_metric([], counts.ollama_polls)
    errors = CounterMetricFamily(
        "velollm_ollama_poll_errors", "Polls that failed (no answer, refused, unreadable)"
    )
    errors.add_metric([], counts.ollama_errors)
    yield polls
    yield errors


def _models(snap: OllamaSnapshot | None) -> Iterator[Metric]:
    fams = {
        "vram": _gauge(
            "velollm_ollama_model_vram_bytes", "Bytes of the model in GPU memory", MODEL_LABELS
        ),
        "ram": _gauge(
            "velollm_ollama_model_ram_bytes", "Bytes of the model in system RAM", MODEL_LABELS
        ),
        "size": _gauge(
            "velollm_ollama_model_size_bytes",
            "Model size in memory (weights, KV cache, buffers)",
            MODEL_LABELS,
        ),
        "ctx": _gauge(
            "velollm_ollama_model_context_tokens",
            "Context length the model was loaded with",
            MODEL_LABELS,
        ),
        "until": _gauge(
            "velollm_ollama_model_unload_seconds",
            "Seconds until Ollama unloads the model",
            MODEL_LABELS,
        ),
        "spill": _gauge(
            "velollm_ollama_model_spill",
            "1 when part of the model is in VRAM and the rest in RAM",
            MODEL_LABELS,
        ),
    }
    loaded = _gauge("velollm_ollama_models_loaded", "Models Ollama has in memory")
    dropped = _gauge(
        "velollm_ollama_models_dropped", "Loaded models left out of the per-model series (cap)"
    )
    now = time.time()
    if snap is not None and snap.up:
        loaded.add_metric([], len(snap.models) + snap.models_dropped)
        dropped.add_metric([], snap.models_dropped)
        for m in snap.models:
            labels = [m.name, m.digest, m.processor]
            fams["vram"].add_metric(labels, m.vram_bytes)
            fams["ram"].add_metric(labels, m.ram_bytes)
            fams["size"].add_metric(labels, m.size_bytes)
            if m.context_tokens is not None:
                fams["ctx"].add_metric(labels, m.context_tokens)
            if m.expires_at_s is not None:
                fams["until"].add_metric(labels, max(0.0, m.expires_at_s - now))
            if m.spills is not None:
                fams["spill"].add_metric(labels, 1.0 if m.spills else 0.0)
    yield loaded
    yield dropped
    yield from fams.values()


def _gpus(system: SystemSample | None) -> Iterator[Metric]:
    fams = {
        "util": _gauge("velollm_gpu_utilization_ratio", "GPU busy share (0-1)", GPU_LABELS),
        "used": _gauge("velollm_gpu_memory_used_bytes", "GPU memory in use", GPU_LABELS),
        "total": _gauge("velollm_gpu_memory_total_bytes", "GPU memory in all", GPU_LABELS),
        "power": _gauge("velollm_gpu_power_watts", "GPU power draw", GPU_LABELS),
        "temp": _gauge("velollm_gpu_temperature_celsius", "GPU temperature", GPU_LABELS),
        "sm": _gauge("velollm_gpu_sm_clock_hertz", "GPU SM clock", GPU_LABELS),
        "mem": _gauge("velollm_gpu_memory_clock_hertz", "GPU memory clock", GPU_LABELS),
    }
    energy = CounterMetricFamily(
        "velollm_gpu_energy_joules",
        "GPU energy since the driver loaded (NVML)",
        labels=list(GPU_LABELS),
    )
    for g in system.gpus[:64] if system is not None else ():
        labels = [str(g.index), label_text(g.name), label_text(getattr(g, "uuid", None) or "")]
        for key, value, scale in (
            ("util", g.utilization_pct, 0.01),
            ("used", g.vram_used_mib, MIB),
            ("total", g.vram_total_mib, MIB),
            ("power", g.power_w, 1.0),
            ("temp", g.temperature_c, 1.0),
            ("sm", g.sm_clock_mhz, 1e6),
            ("mem", g.mem_clock_mhz, 1e6),
        ):
            if value is not None:
                fams[key].add_metric(labels, value * scale)
        joules = getattr(g, "energy_j", None)
        if joules is not None:
            energy.add_metric(labels, joules)
    yield from fams.values()
    yield energy


def _host(system: SystemSample | None) -> Iterator[Metric]:
    cpu = _gauge("velollm_host_cpu_utilization_ratio", "CPU busy share over all logical CPUs (0-1)")
    used = _gauge("velollm_host_memory_used_bytes", "RAM in use (total - available)")
    total = _gauge("velollm_host_memory_total_bytes", "RAM in all")
    stamp = _gauge("velollm_host_sample_timestamp_seconds", "Unix time of the system sample")
    if system is not None:
        cpu.add_metric([], system.cpu_pct / 100.0)
        used.add_metric([], system.ram_used_mib * MIB)
        total.add_metric([], system.ram_total_mib * MIB)
        stamp.add_metric([], system.wall_time_s)
    yield from (cpu, used, total, stamp)


def _bench(rows: tuple[BenchRow, ...]) -> Iterator[Metric]:
    fams = {
        "decode": _gauge(
            "velollm_bench_decode_tokens_per_second",
            "Last benchmark: mean decode speed",
            BENCH_LABELS,
        ),
        "prompt": _gauge(
            "velollm_bench_prompt_tokens_per_second",
            "Last benchmark: mean prompt speed",
            BENCH_LABELS,
        ),
        "ttft": _gauge(
            "velollm_bench_ttft_seconds", "Last benchmark: mean time to first token", BENCH_LABELS
        ),
        "energy": _gauge(
            "velollm_bench_energy_per_token_joules",
            "Last benchmark: GPU energy per generated token",
            BENCH_LABELS,
        ),
        "when": _gauge(
            "velollm_bench_timestamp_seconds", "Last benchmark: Unix time it started", BENCH_LABELS
        ),
    }
    for row in rows:
        labels = [row.model, row.backend, row.suite]
        for key, value in (
            ("decode", row.decode_tokens_per_s),
            ("prompt", row.prompt_tokens_per_s),
            ("ttft", row.ttft_s),
            ("energy", row.joules_per_token),
            ("when", row.started_at_s),
        ):
            if value is not None:
                fams[key].add_metric(labels, value)
    yield from fams.values()
