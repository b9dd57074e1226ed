"""Benchmark jobs the GUI runs in a TaskWorker (plain functions over core; no widgets)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from velollm_desktop.core.bench.backends import LlamaCppBackend, make_backend
from velollm_desktop.core.bench.model import BenchmarkResult
from velollm_desktop.core.bench.runner import run_benchmark
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.bench.suites import suite
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.core.llamacpp.builtin import builtin_model_path, download_builtin_model
from velollm_desktop.core.llamacpp.server import LlamaServer

BUILTIN = "builtin"


@dataclass(frozen=True)
class BenchJob:
    """What the Benchmark page asked for."""

    kind: str
    """"ollama", "llamacpp", "openai", or "builtin" (our llama-server + SmolLM2-135M)."""
    url: str
    model: str | None
    suite: str
    runs: int | None


def list_models(kind: str, url: str) -> list[str]:
    """Model names the server offers (for the model picker)."""
    if kind == BUILTIN:
        return [builtin_model_path().name]
    backend = make_backend(kind, url, None)
    try:
        if kind == "ollama":
            return [m.name for m in backend.client.installed_models()]  # type: ignore[attr-defined]
        if kind == "openai":
            return backend.client.models()  # type: ignore[attr-defined]
        return [backend.model_name()]
    finally:
        backend.close()


def run_job(
    job: BenchJob,
    progress: Callable[[int, int, str], None],
    cancel: threading.Event,
    history: History | None = None,
) -> BenchmarkResult:
    """Run the benchmark (starting and always stopping the built-in engine if chosen) and save it."""
    tests = suite(job.suite, runs=job.runs)
    hardware = detect_hardware()

    def run(backend) -> BenchmarkResult:
        try:
            return run_benchmark(
                backend,
                tests,
                suite_name=job.suite,
                progress=progress,
                cancel=cancel,
                hardware=hardware,
            )
        finally:
            backend.close()

    if job.kind == BUILTIN:
        model = download_builtin_model(progress, cancel)
        progress(0, 1, "starting the built-in engine (llama-server)")
        with LlamaServer(model, cancel=cancel) as server:
            result = run(LlamaCppBackend(server.url))
    else:
        result = run(make_backend(job.kind, job.url, job.model))
    if history is not None and result.results:
        history.add(result)
    return result
