"""The tray app's Prometheus endpoint: started, restarted and stopped off the GUI thread.

One control thread ("velollm-exporter-control") applies the newest requested configuration
(stop the running exporter, start the new one); the GUI thread only queues requests and
feeds samples (a reference swap under a lock). `shutdown()` stops the exporter and joins the
control thread within its deadline: nothing is left running at quit.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from velollm_desktop.core.settings import Settings, data_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExporterConfig:
    enabled: bool
    listen: str
    allow_remote: bool
    auth_file: str
    ollama_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ExporterConfig:
        return cls(
            bool(settings.get("exporter_enabled")),
            str(settings.get("exporter_listen")),
            bool(settings.get("exporter_allow_remote")),
            str(settings.get("exporter_auth_file")).strip(),
            str(settings.get("ollama_url")),
        )


class ExporterControl(QObject):
    """Signals:
    status(str): one sentence on what the endpoint does now (serving, off, why not).
    """

    status = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Imported here, in the GUI thread (never first on a worker thread: docs/ARCHITECTURE.md).
        from velollm_desktop.core.exporter import listen, server  # noqa: PLC0415

        self._listen = listen
        self._server = server
        self._requests: queue.Queue[ExporterConfig | None] = queue.Queue()
        self._lock = threading.Lock()
        self._exporter = None
        self._applied: ExporterConfig | None = None
        self._thread: threading.Thread | None = None
        self.last_status = "Off"

    @property
    def running(self) -> bool:
        with self._lock:
            return self._exporter is not None

    @property
    def url(self) -> str | None:
        with self._lock:
            return self._exporter.url if self._exporter is not None else None

    def apply(self, config: ExporterConfig) -> None:
        """Queue `config` (returns at once); the control thread starts/stops the endpoint."""
        self._requests.put(config)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="velollm-exporter-control", daemon=True
            )
            self._thread.start()

    def feed(self, sample: object) -> None:
        """The app's sample, so /metrics shows what the Monitor page shows."""
        with self._lock:
            exporter = self._exporter
        if exporter is not None:
            exporter.feed(sample)

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Stop the endpoint and the control thread; True when both ended in time."""
        if self._thread is None:
            return True
        self._requests.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            config = self._requests.get()
            while not self._requests.empty():  # only the newest request matters
                newer = self._requests.get()
                config = newer if config is not None and newer is not None else None
            if config is None:
                self._stop_current()
                return
            if config == self._applied and (self.running or not config.enabled):
                continue
            self._stop_current()
            self._applied = config
            self._say(self._start(config) if config.enabled else "Off")

    def _stop_current(self) -> None:
        with self._lock:
            exporter, self._exporter = self._exporter, None
        if exporter is not None and not exporter.stop(5.0):
            log.warning("the exporter's threads did not all end within 5 s")

    def _start(self, config: ExporterConfig) -> str:
        try:
            address = self._listen.parse_listen(config.listen, allow_remote=config.allow_remote)
            auth = None
            if config.auth_file:
                auth, _ = self._listen.read_auth_file(Path(config.auth_file).expanduser())
            exporter = self._server.Exporter(
                address,
                ollama_url=config.ollama_url,
                history_path=data_dir() / "history.sqlite3",
                auth=auth,
                own_sampler=False,
            )
            exporter.start()
        except self._listen.ListenError as exc:
            return f"Not serving: {exc} (see Settings above)"
        except OSError as exc:
            return f"Not serving: cannot listen on {config.listen} ({exc.strerror or exc})"
        with self._lock:
            self._exporter = exporter
        warning = address.warning()
        return f"Serving {exporter.url}" + (f" — {warning}" if warning else "")

    def _say(self, text: str) -> None:
        self.last_status = text
        self.status.emit(text)


class AppExporter:
    """The app's side of the endpoint: the control is made on first use (nothing is imported
    or started while the exporter is off); samples, setting changes, the page, quit."""

    def __init__(self, parent: QObject, settings: Settings) -> None:
        self._parent = parent
        self._settings = settings
        self.control: ExporterControl | None = None
        self._page = None

    def start_if_enabled(self) -> None:
        if self._settings.get("exporter_enabled"):
            self._apply()

    def setting_changed(self, name: str) -> None:
        if name.startswith("exporter_") or (name == "ollama_url" and self.control is not None):
            self._apply()

    def attach(self, page) -> None:
        """Show the endpoint's status on the Settings page (now and on every change)."""
        self._page = page
        if self.control is not None:
            page.show_exporter_status(self.control.last_status)
            self.control.status.connect(page.show_exporter_status)

    def feed(self, sample: object) -> None:
        if self.control is not None:
            self.control.feed(sample)  # the Monitor page's numbers, on /metrics

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        return self.control is None or self.control.shutdown(timeout_s)

    def _apply(self) -> None:
        if self.control is None:
            self.control = ExporterControl(self._parent)
            if self._page is not None:
                self.control.status.connect(self._page.show_exporter_status)
        self.control.apply(ExporterConfig.from_settings(self._settings))
