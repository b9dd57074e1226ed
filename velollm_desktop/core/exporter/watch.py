"""The exporter's pollers: Ollama (its own deadline), the benchmark history, the system sampler.

`Watch` polls Ollama every `period_s` on one thread and re-reads the history every
`bench_period_s`; `SystemWatch` runs the app's `SampleLoop` (psutil + one NVML batch) for the
command-line exporter (the tray app feeds its own samples instead, so the exporter shows what
the Monitor page shows). Both end within one wait after `stop()`.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from velollm_desktop.core.exporter.history import latest_results
from velollm_desktop.core.exporter.state import (
    MAX_MODELS,
    ExporterState,
    OllamaSnapshot,
    label_text,
    model_snapshot,
)
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.monitor.sampler import SampleLoop, Sampler
from velollm_desktop.core.ollama.client import OllamaClient

log = logging.getLogger(__name__)

OLLAMA_PERIOD_S = 2.0
OLLAMA_DEADLINE_S = 2.0
BENCH_PERIOD_S = 30.0


def poll_ollama(url: str, deadline_s: float) -> OllamaSnapshot:
    """One poll (`/api/version`, `/api/ps`), each request bounded by half the deadline."""
    start = time.monotonic()
    client = OllamaClient(url, read_timeout_s=deadline_s / 2, busy_backoff_s=0.0)
    try:
        version = client.version()
        loaded = client.loaded_models()
    except ServerError as exc:
        return OllamaSnapshot(
            up=False,
            taken_monotonic_s=time.monotonic(),
            poll_duration_s=time.monotonic() - start,
            error=label_text(exc, 300),
        )
    finally:
        client.close()
    loaded.sort(key=lambda m: (-m.size_vram_bytes, m.name))  # the cap keeps the largest
    models = tuple(model_snapshot(m) for m in loaded[:MAX_MODELS])
    return OllamaSnapshot(
        up=True,
        taken_monotonic_s=time.monotonic(),
        poll_duration_s=time.monotonic() - start,
        version=label_text(version, 40) or None,
        models=models,
        models_dropped=max(0, len(loaded) - MAX_MODELS),
    )


class Watch:
    """Polls Ollama and the history into `state` on one thread ("velollm-exporter-watch")."""

    def __init__(
        self,
        state: ExporterState,
        url: str,
        *,
        history_path: Path | None,
        period_s: float = OLLAMA_PERIOD_S,
        bench_period_s: float = BENCH_PERIOD_S,
    ) -> None:
        self.state = state
        self.url = url
        self.history_path = history_path
        self.period_s = period_s
        self.bench_period_s = bench_period_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="velollm-exporter-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        next_bench = time.monotonic()
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.state.poll_started()
            try:
                self.state.set_ollama(poll_ollama(self.url, self.state.ollama_deadline_s))
            except Exception as exc:
                log.exception("exporter: Ollama poll failed")
                self.state.set_ollama(
                    OllamaSnapshot(False, time.monotonic(), 0.0, error=type(exc).__name__)
                )
            if self.history_path is not None and time.monotonic() >= next_bench:
                rows, error = latest_results(self.history_path)
                self.state.set_bench(rows, error)
                next_bench = time.monotonic() + self.bench_period_s
            next_at = max(next_at + self.period_s, time.monotonic())
            self._stop.wait(next_at - time.monotonic())


class SystemWatch:
    """The app's SampleLoop on its own thread, feeding `state.set_system`."""

    def __init__(
        self, state: ExporterState, interval_s: float = 1.0, sampler: Sampler | None = None
    ) -> None:
        self._sampler = sampler
        self._state = state
        self._interval_s = interval_s
        self._loop: SampleLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._loop = SampleLoop(
            self._sampler or Sampler(),
            self._state.set_system,
            self._interval_s,
            on_error=lambda exc: log.warning("exporter: sample failed: %s", exc),
        )
        self._thread = threading.Thread(
            target=self._loop.run, name="velollm-exporter-sampler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()

    def join(self, timeout_s: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True
