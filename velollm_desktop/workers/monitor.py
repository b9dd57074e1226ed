"""Workers for the live monitor: the hardware sampler and the Ollama `/api/ps` poller."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from velollm_desktop.core.monitor.sampler import SampleLoop, Sampler, SystemSample
from velollm_desktop.core.ollama import OllamaClient, OllamaError, ServerNotRunning


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
        self._loop = SampleLoop(self._factory(), self._emit, self._interval,
                                on_error=lambda e: self.failed.emit(str(e)))
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
    """Reads `/api/ps` every few seconds in its own thread.

    Signals:
        loaded(list[LoadedModel]): the models in memory (possibly empty).
        unavailable(str): Ollama did not answer; the text says why (a normal state).
    """

    loaded = Signal(list)
    unavailable = Signal(str)

    def __init__(self, url: str, period_s: float) -> None:
        super().__init__()
        self._url = url
        self._period_ms = int(period_s * 1000)
        self._timer: QTimer | None = None
        self._client: OllamaClient | None = None

    @Slot()
    def start(self) -> None:
        """Call in the worker thread (connected to QThread.started)."""
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)
        self._timer.start(self._period_ms)
        self._poll()

    @Slot(str)
    def set_url(self, url: str) -> None:
        """Point the poller at another server (takes effect on the next poll)."""
        self._url = url
        if self._client:
            self._client.close()
            self._client = None

    @Slot()
    def stop(self) -> None:
        """Stop polling and close the connection (call through a queued connection)."""
        if self._timer:
            self._timer.stop()
        if self._client:
            self._client.close()
            self._client = None
        QThread.currentThread().quit()

    @Slot()
    def _poll(self) -> None:
        if self._client is None:
            self._client = OllamaClient(self._url, read_timeout_s=3.0)
        try:
            self.loaded.emit(self._client.loaded_models())
        except ServerNotRunning:
            self.unavailable.emit(f"Ollama is not running at {self._url}")
        except OllamaError as exc:
            self.unavailable.emit(str(exc))
