"""Benchmark jobs the GUI submits to the job runner: thin wrappers over `core.bench.flow`."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from velollm_desktop.core.bench.flow import BenchRequest, BenchRun, run_benchmark_flow
from velollm_desktop.core.bench.flow import list_models as _list_models
from velollm_desktop.core.bench.regression import diff_text
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.hardware import HardwareSpec
from velollm_desktop.core.kinds import BackendKind
from velollm_desktop.core.progress import ProgressFn


@dataclass(frozen=True)
class BenchJob:
    """What the Benchmark page asked for."""

    kind: BackendKind
    """Ollama, llama-server, OpenAI-compatible, or BUILTIN (our llama-server + SmolLM2-135M)."""
    url: str
    model: str | None
    suite: str
    runs: int | None
    hardware: HardwareSpec | None = None
    """The app's already detected hardware; None (detection not finished, or failed): the
    flow detects it once for this run."""

    def request(self) -> BenchRequest:
        return BenchRequest(self.kind, self.url, self.model, self.suite, self.runs)


def list_models(kind: BackendKind, url: str) -> list[str]:
    """Model names the server offers (for the model picker)."""
    return _list_models(kind, url)


def run_job(
    job: BenchJob,
    progress: ProgressFn,
    cancel: threading.Event,
    history: History | None = None,
) -> BenchRun:
    """Run the benchmark flow (it saves the result in `history`); returns the run (where the
    result went when the history was busy), the result with the regression watch's
    before/after in its notes when the server's version changed since the last run of this
    suite."""
    run = run_benchmark_flow(
        job.request(), progress=progress, cancel=cancel, history=history, hardware=job.hardware
    )
    if run.regression is None:
        return run
    lines = ["The server's version changed since the last run of this suite:"]
    lines += diff_text(run.regression)
    notes = (*run.result.notes, "\n".join(lines))
    return dataclasses.replace(run, result=dataclasses.replace(run.result, notes=notes))
