"""Run a suite against a backend: one discarded warm-up, varied prompts, cancel at any point."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from velollm_desktop import __version__
from velollm_desktop.core.bench.backends import Backend
from velollm_desktop.core.bench.model import BenchmarkResult, RunMeasurement, TestResult
from velollm_desktop.core.bench.stats import summarize
from velollm_desktop.core.bench.suites import BenchTest, varied_prompt
from velollm_desktop.core.progress import Phase, ProgressEvent, ProgressFn, runs_left_text, silent

WARMUP_TOKENS = 8


def _summarise(
    test: BenchTest, runs: Sequence[RunMeasurement], warmup_load_ms: float | None
) -> TestResult:
    return TestResult(
        name=test.name,
        max_tokens=test.max_tokens,
        runs=tuple(runs),
        decode_tokens_per_s=summarize([r.decode_tokens_per_s for r in runs]),
        server_decode_tokens_per_s=summarize([r.server_decode_tokens_per_s for r in runs]),
        ttft_ms=summarize([r.ttft_ms for r in runs]),
        prompt_tokens_per_s=summarize([r.prompt_tokens_per_s for r in runs]),
        warmup_load_ms=warmup_load_ms,
        runs_requested=test.runs,
    )


@dataclass
class _Counter:
    """Progress through the suite: `done` of `total` generations (the warm-up counts)."""

    total: int
    done: int = 0
    started: float = field(default_factory=time.perf_counter)


def _warm_up(
    backend: Backend, test: BenchTest, count: _Counter, report: ProgressFn, cancel: threading.Event
) -> float | None:
    """One discarded generation that loads the model; returns its load time (ms)."""
    report(ProgressEvent(0, count.total, "warm-up (loading the model; not counted)", Phase.WARMUP))
    w = backend.measure(varied_prompt(test.prompt, 0, uuid.uuid4().hex[:8]), WARMUP_TOKENS, cancel)
    count.done = 1
    load = f"model loaded in {w.load_ms:.0f} ms" if w.load_ms is not None else "model ready"
    report(ProgressEvent(count.done, count.total, f"warm-up done ({load})", Phase.WARMUP))
    return w.load_ms


def _run_test(
    backend: Backend,
    test: BenchTest,
    count: _Counter,
    report: ProgressFn,
    cancel: threading.Event,
    on_run: Callable[[str, RunMeasurement], None] | None,
) -> list[RunMeasurement]:
    """The test's runs, each with a fresh prompt prefix; stops early on cancel."""
    runs: list[RunMeasurement] = []
    for i in range(test.runs):
        if cancel.is_set():
            break
        prompt = varied_prompt(test.prompt, i + 1, uuid.uuid4().hex[:8])
        m = backend.measure(prompt, test.max_tokens, cancel)
        if cancel.is_set():
            break
        runs.append(m)
        count.done += 1
        rate = f"{m.decode_tokens_per_s:.1f} tok/s" if m.decode_tokens_per_s else "n/a"
        left = runs_left_text(count.done, count.total, time.perf_counter() - count.started)
        text = f"{test.name} run {i + 1}/{test.runs}: {rate} — {left}"
        report(ProgressEvent(count.done, count.total, text, Phase.MEASURING, m))
        if on_run:
            on_run(test.name, m)
    return runs


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
) -> BenchmarkResult:
    """Measure every test; returns partial results (cancelled=True) if `cancel` is set.

    The warm-up generation loads the model (its load time is recorded on the first test) and is
    not counted. Each run's prompt gets a unique prefix so prompt-cache hits cannot inflate
    prompt speed.
    """
    cancel = cancel or threading.Event()
    report = progress or silent
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    info, model, digest = backend.info(), backend.model_name(), backend.model_digest()
    count = _Counter(sum(t.runs for t in tests) + (1 if warmup else 0))
    warm_load = _warm_up(backend, tests[0], count, report, cancel) if warmup and tests else None
    results: list[TestResult] = []
    for test in tests:
        runs = _run_test(backend, test, count, report, cancel, on_run)
        if runs:
            results.append(_summarise(test, runs, warm_load if not results else None))
            # the test's row can be shown now, not only when the whole suite ends
            text = f"{test.name}: {len(runs)} run{'s' if len(runs) != 1 else ''} measured"
            report(ProgressEvent(count.done, count.total, text, Phase.MEASURING, results[-1]))
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
    )
