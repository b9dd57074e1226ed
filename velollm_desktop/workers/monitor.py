"""Workers for the live monitor: the hardware sampler and the Ollama `/api/ps` poller."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from velollm_desktop.core.http.errors import BadResponse, ServerError, ServerNotRunning
from velollm_desktop.core.monitor.sampler import SampleLoop, Sampler, SystemSample
from velollm_desktop.workers.errors import say

log = logging.getLogger(__name__)


class SamplerWorker(QObject):
    """Runs a `SampleLoop` in its own (Python) thread; the object itself lives in the GUI thread.

    The loop blocks in `threading.Event.wait` between ticks (its drift-free schedule needs no
    event loop), so it runs on a plain `threading.Thread`; `sampled` emitted from there is
    queued to receivers in the GUI thread.

    Signals:
        sampled(SystemSample): one reading, at the configured interval.
        failed(str): one tick failed (sampling goes on).
    """

    sampled = Signal(object)
    failed = Signal(str)

    def __init__(self, interval_s: float, sampler_factory=Sampler) -> None:
        super().__init__()
        self._factory = sampler_factory
        self._interval = interval_s
        self._loop: SampleLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sampling in a background thread (returns at once)."""
        self._loop = SampleLoop(
            self._factory(), self._emit, self._interval, on_error=lambda e: self.failed.emit(str(e))
        )
        self._thread = threading.Thread(target=self._loop.run, name="velollm-sampler", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float = 5.0) -> bool:
        """Wait for the sampling thread to end; returns whether it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _emit(self, sample: SystemSample) -> None:
        self.sampled.emit(sample)

    def set_interval(self, interval_s: float) -> None:
        """Thread-safe: change the sampling interval (seconds)."""
        self._interval = interval_s
        if self._loop:
            self._loop.set_interval(interval_s)

    def set_paused(self, paused: bool) -> None:
        """Thread-safe: pause or resume sampling."""
        if self._loop:
            self._loop.set_paused(paused)

    def stop(self) -> None:
        """Thread-safe: end the loop (the thread then finishes)."""
        if self._loop:
            self._loop.stop()


class OllamaPoller(QObject):
    """Reads `/api/ps` every few seconds on a background thread.

    Signals:
        loaded(list[LoadedModel]): the models in memory (possibly empty).
        unavailable(str): Ollama did not answer; the text says why (a normal state).
    """

    loaded = Signal(list)
    unavailable = Signal(str)

    def __init__(self, url: str, period_s: float) -> None:
        super().__init__()
        # Imported and built in the GUI thread: importing in a worker thread races with
        # PySide6's import hook (see workers/task.py). Lightweight: no httpx in the tray.
        from velollm_desktop.core.ollama.client import OllamaClient  # noqa: PLC0415

        self._client_type = OllamaClient
        self._url = url
        self._period = period_s
        self._client = OllamaClient(url, read_timeout_s=3.0, lightweight=True)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start polling (returns at once)."""
        self._thread = threading.Thread(target=self._run, name="velollm-ollama-poller", daemon=True)
        self._thread.start()

    def set_url(self, url: str) -> None:
        """Thread-safe: point the poller at another server and poll it now."""
        self._url = url
        self._wake.set()

    def stop(self) -> None:
        """Thread-safe: end polling (the thread ends within one request timeout)."""
        self._stop.set()
        self._wake.set()

    def join(self, timeout_s: float = 5.0) -> bool:
        """Wait for the polling thread; returns whether it ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._wake.wait(self._period)
            self._wake.clear()
        self._client.close()

    def _poll(self) -> None:
        """One poll; nothing it meets ends the thread (it logs and says why, then polls on)."""
        try:
            if self._client.base_url != self._url.strip().rstrip("/"):
                self._client.close()
                self._client = self._client_type(self._url, read_timeout_s=3.0, lightweight=True)
            models = self._client.loaded_models()
        except ServerNotRunning:
            self.unavailable.emit(f"Ollama is not running at {self._url}")
        except BadResponse as exc:
            log.warning("unreadable /api/ps reply: %s", exc)
            self.unavailable.emit(f"unreadable reply from Ollama: {exc}")
        except ServerError as exc:
            self.unavailable.emit(say(exc))
        except Exception as exc:
            log.exception("polling /api/ps failed")
            self.unavailable.emit(f"unreadable reply from Ollama ({type(exc).__name__}: {exc})")
        else:
            self.loaded.emit(models)
