"""Run a suite against a backend: one discarded warm-up, varied prompts, cancel at any point."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from velollm_desktop import __version__
from velollm_desktop.core.bench.backends import Backend
from velollm_desktop.core.bench.model import BenchmarkResult, RunMeasurement, TestResult
from velollm_desktop.core.bench.stats import summarize_runs
from velollm_desktop.core.bench.suites import BenchTest, varied_prompt
from velollm_desktop.core.energy import EnergyMeter, EnergyReading, Window, with_tokens
from velollm_desktop.core.progress import Phase, ProgressFn, RunCounter

WARMUP_TOKENS = 8


def _summarise(
    test: BenchTest,
    runs: Sequence[RunMeasurement],
    warmup_load_ms: float | None,
    energy: EnergyReading | None = None,
) -> TestResult:
    stats = summarize_runs(runs)
    return TestResult(
        name=test.name,
        max_tokens=test.max_tokens,
        runs=tuple(runs),
        decode_tokens_per_s=stats.decode_tokens_per_s,
        server_decode_tokens_per_s=stats.server_decode_tokens_per_s,
        ttft_ms=stats.ttft_ms,
        prompt_tokens_per_s=stats.prompt_tokens_per_s,
        warmup_load_ms=warmup_load_ms,
        runs_requested=test.runs,
        energy=energy,
    )


MIN_PREFILL_SAMPLES = 3
"""Prefill energy is separated only when the prompt phases span this many power samples."""


def _energy_of(
    window: Window | None,
    runs: Sequence[RunMeasurement],
    starts: Sequence[float],
    interval_s: float,
) -> EnergyReading | None:
    """The window's reading with per-token figures; the prefill share from the power series
    over each run's [sent, first token] when those phases are long enough to tell apart."""
    if window is None or window.reading is None:
        return None
    generated = sum(r.eval_count or 0 for r in runs) or None
    prompt = sum(r.prompt_tokens or 0 for r in runs) or None
    spans = [
        (t, t + r.ttft_ms / 1000)
        for t, r in zip(starts, runs, strict=True)
        if r.ttft_ms is not None
    ]
    prefill = None
    if spans and sum(b - a for a, b in spans) >= MIN_PREFILL_SAMPLES * interval_s:
        parts = [window.energy_between_j(a, b) for a, b in spans]
        prefill = (
            sum(p for p in parts if p is not None) if all(p is not None for p in parts) else None
        )
    return with_tokens(window.reading, generated, prompt, prefill)


def _warm_up(
    backend: Backend, test: BenchTest, count: RunCounter, cancel: threading.Event
) -> float | None:
    """One discarded generation that loads the model (it counts as a step); returns its load
    time (ms)."""
    count.say("warm-up (loading the model; not counted)", Phase.WARMUP, pace=False)
    w = backend.measure(varied_prompt(test.prompt, 0, uuid.uuid4().hex[:8]), WARMUP_TOKENS, cancel)
    load = f"model loaded in {w.load_ms:.0f} ms" if w.load_ms is not None else "model ready"
    count.say(f"warm-up done ({load})", Phase.WARMUP, pace=False, run_done=True)
    return w.load_ms


def _run_test(
    backend: Backend,
    test: BenchTest,
    count: RunCounter,
    cancel: threading.Event,
    on_run: Callable[[str, RunMeasurement], None] | None,
    starts: list[float] | None = None,
) -> list[RunMeasurement]:
    """The test's runs, each with a fresh prompt prefix; stops early on cancel. `starts` gets
    each kept run's send time (monotonic s, for the energy split)."""
    runs: list[RunMeasurement] = []
    for i in range(test.runs):
        if cancel.is_set():
            break
        prompt = varied_prompt(test.prompt, i + 1, uuid.uuid4().hex[:8])
        sent = time.monotonic()
        m = backend.measure(prompt, test.max_tokens, cancel)
        if cancel.is_set():
            break
        runs.append(m)
        if starts is not None:
            starts.append(sent)
        rate = f"{m.decode_tokens_per_s:.1f} tok/s" if m.decode_tokens_per_s else "n/a"
        count.say(f"{test.name} run {i + 1}/{test.runs}: {rate}", Phase.MEASURING, m, run_done=True)
        if on_run:
            on_run(test.name, m)
    return runs


def _loaded_bytes(backend: Backend) -> int | None:
    """The loaded model's memory as the server reports it (backends that can say: Ollama)."""
    fn = getattr(backend, "loaded_bytes", None)
    return fn() if callable(fn) else None


def _measured_test(
    backend: Backend,
    test: BenchTest,
    count: RunCounter,
    cancel: threading.Event,
    on_run: Callable[[str, RunMeasurement], None] | None,
    meter: EnergyMeter | None,
) -> tuple[list[RunMeasurement], EnergyReading | None]:
    """One test's runs inside one energy window (when a meter is given)."""
    if meter is None:
        return _run_test(backend, test, count, cancel, on_run), None
    idle = meter.idle_w(cancel=cancel) if meter.available and not cancel.is_set() else None
    starts: list[float] = []
    with meter.window(idle) as window:
        runs = _run_test(backend, test, count, cancel, on_run, starts)
    return runs, _energy_of(window, runs, starts, meter.interval_s)


def run_benchmark(
    backend: Backend,
    tests: Sequence[BenchTest],
    *,
    suite_name: str = "custom",
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    hardware: object = None,
    warmup: bool = True,
    on_run: Callable[[str, RunMeasurement], None] | None = None,
    energy: EnergyMeter | None = None,
) -> BenchmarkResult:
    """Measure every test; returns partial results (cancelled=True) if `cancel` is set.

    The warm-up generation loads the model (its load time is recorded on the first test) and is
    not counted. Each run's prompt gets a unique prefix so prompt-cache hits cannot inflate
    prompt speed. With `energy`, each test's runs are measured as one energy window after a
    quiet second that gives the idle baseline.
    """
    cancel = cancel or threading.Event()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    info, model, digest = backend.info(), backend.model_name(), backend.model_digest()
    count = RunCounter(sum(t.runs for t in tests) + (1 if warmup else 0), progress)
    warm_load = _warm_up(backend, tests[0], count, cancel) if warmup and tests else None
    memory = _loaded_bytes(backend) if not cancel.is_set() else None
    results: list[TestResult] = []
    for test in tests:
        runs, reading = _measured_test(backend, test, count, cancel, on_run, energy)
        if runs:
            results.append(_summarise(test, runs, warm_load if not results else None, reading))
            # the test's row can be shown now, not only when the whole suite ends
            text = f"{test.name}: {len(runs)} run{'s' if len(runs) != 1 else ''} measured"
            count.say(text, Phase.MEASURING, results[-1], pace=False)
        if cancel.is_set():
            break
    return BenchmarkResult(
        app_version=__version__,
        started_at=started,
        server=info,
        model=model,
        model_digest=digest,
        suite=suite_name,
        options=dict(getattr(backend, "options", {}) or {}),
        results=tuple(results),
        hardware=hardware,
        wall_s=time.perf_counter() - t_start,
        cancelled=cancel.is_set(),
        model_memory_bytes=memory,
    )
