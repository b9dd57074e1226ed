"""The benchmark flow, once: pick the server, run the suite, always close it, save the result.

The Benchmark page (through the job runner), the tray's quick benchmark and `velollm
benchmark` all call `run_benchmark_flow`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from velollm_desktop.core.bench.backends import (
    Backend,
    LlamaCppBackend,
    OllamaBackend,
    OpenAIBackend,
    make_backend,
)
from velollm_desktop.core.bench.model import BenchmarkResult
from velollm_desktop.core.bench.regression import RegressionDiff, against_previous_version
from velollm_desktop.core.bench.runner import run_benchmark
from velollm_desktop.core.bench.store import History, HistoryBusy, save_aside, to_json
from velollm_desktop.core.bench.suites import suite
from velollm_desktop.core.energy import EnergyMeter
from velollm_desktop.core.hardware import HardwareSpec, detect_hardware
from velollm_desktop.core.http.bounds import StreamPace
from velollm_desktop.core.kinds import BackendKind, default_url
from velollm_desktop.core.llamacpp.builtin import builtin_model_path, download_builtin_model
from velollm_desktop.core.llamacpp.server import LlamaServer
from velollm_desktop.core.progress import Phase, ProgressEvent, ProgressFn, silent


@dataclass(frozen=True)
class BenchRequest:
    """What the user asked for (the page's form or the command line)."""

    kind: BackendKind
    url: str | None
    """None or "": the kind's default address (`core.kinds.default_url`)."""
    model: str | None
    suite: str
    runs: int | None = None
    max_tokens: int | None = None
    pace: StreamPace = StreamPace()
    """How slow a stream may be before the run fails (stall, floor speed)."""

    @property
    def resolved_url(self) -> str:
        return self.url or default_url(self.kind)


@dataclass(frozen=True)
class BenchRun:
    """The result and, if it was saved, its history id."""

    result: BenchmarkResult
    history_id: int | None
    unsaved_path: Path | None = None
    """Where the result went instead when the history was busy (never lost)."""
    unsaved_reason: str = ""
    """Why it is not in the history (the `HistoryBusy` sentence), when `unsaved_path` is set."""
    regression: RegressionDiff | None = None
    """Before/after against the last run of this suite under another server version."""


def run_benchmark_flow(
    request: BenchRequest,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    history: History | None = None,
    hardware: HardwareSpec | None = None,
    energy: EnergyMeter | None = None,
) -> BenchRun:
    """Run the suite (starting and always stopping the built-in engine if chosen).

    `hardware` is what the caller already detected (the app detects once at start, a command
    once per command); only when it is None is it detected here, once for this run.

    Raises ValueError for a bad suite or kind, and the server errors (`ServerError` family).
    A result with at least one test is added to `history` when one is given; when the history
    is busy (another process holds its lock) it is written to `unsaved-result-*.json` in the data
    directory instead and `BenchRun.unsaved_path` says where. Each test's energy is measured
    with `energy` (default: every source this machine has; "n/a" with the reason if none).
    """
    report = progress or silent
    cancel = cancel or threading.Event()
    tests = suite(request.suite, runs=request.runs, max_tokens=request.max_tokens)
    kind = request.kind
    spec = hardware if hardware is not None else detect_hardware()
    meter = energy if energy is not None else EnergyMeter.here()

    def measure(backend: Backend) -> BenchmarkResult:
        try:
            return run_benchmark(
                backend,
                tests,
                suite_name=request.suite,
                progress=report,
                cancel=cancel,
                hardware=spec,
                energy=meter,
            )
        finally:
            backend.close()

    if kind is BackendKind.BUILTIN:
        result = _run_builtin(measure, report, cancel)
    else:
        result = measure(
            make_backend(kind, request.resolved_url, request.model, None, request.pace)
        )
    if history is None or not result.results:
        return BenchRun(result, None)
    return _save(history, result)


def _save(history: History, result: BenchmarkResult) -> BenchRun:
    """Add to the history (with the diff against a previous server version, if any); when it
    is busy, keep the run in a JSON file instead."""
    regression = against_previous_version(history, result)
    try:
        return BenchRun(result, history.add(result), regression=regression)
    except HistoryBusy as exc:
        path = save_aside("result", result.started_at, to_json(result) + "\n")
        return BenchRun(result, None, path, str(exc))


def _run_builtin(
    measure: Callable[[Backend], BenchmarkResult], report: ProgressFn, cancel: threading.Event
) -> BenchmarkResult:
    model = download_builtin_model(report, cancel)
    report(ProgressEvent(0, 1, "starting the built-in engine (llama-server)", Phase.STARTING))
    with LlamaServer(model, cancel=cancel) as server:
        return measure(LlamaCppBackend(server.url))


def list_models(kind: BackendKind, url: str | None) -> list[str]:
    """Model names the server offers (the Benchmark page's model picker)."""
    if kind is BackendKind.BUILTIN:
        return [builtin_model_path().name]
    backend = make_backend(kind, url or default_url(kind), None)
    try:
        if isinstance(backend, OllamaBackend):
            return [m.name for m in backend.client.installed_models()]
        if isinstance(backend, OpenAIBackend):
            return backend.client.models()
        return [backend.model_name()]
    finally:
        backend.close()


def outcome_text(result: BenchmarkResult, *, previous_shown: bool = False) -> str:
    """The sentence after a run: done, cancelled with what was kept, or cancelled before
    anything was measured (then whether the previous result is still shown)."""
    tests = f"{len(result.results)} test{'s' if len(result.results) != 1 else ''}"
    if not result.cancelled:
        return f"Benchmark done: {result.model}, {tests} in {result.wall_s:.1f} s."
    if result.results:
        runs = sum(len(t.runs) for t in result.results)
        return (
            f"Benchmark cancelled after {result.wall_s:.1f} s: {runs} measured "
            f"run{'s' if runs != 1 else ''} of {tests} kept and shown."
        )
    kept = " The previous result is still shown." if previous_shown else ""
    return f"Benchmark cancelled before any run was measured: nothing was saved.{kept}"
