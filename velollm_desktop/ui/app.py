"""The desktop application: wires the tray, the dashboard and the monitor workers together."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from velollm_desktop import APP_ID, APP_NAME, __version__
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.core.monitor.history import SampleHistory
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.benchmark_page import BenchmarkPage
from velollm_desktop.ui.icons import app_icon
from velollm_desktop.ui.main_window import MainWindow
from velollm_desktop.ui.tray import Tray
from velollm_desktop.workers.monitor import OllamaPoller, SamplerWorker
from velollm_desktop.workers.task import TaskWorker, start_task

log = logging.getLogger(__name__)

NO_TRAY_HINT = (
    "No system tray was found, so VeloLLM runs as a normal window (closing it quits). "
    "On GNOME, install the \u201cAppIndicator and KStatusNotifierItem Support\u201d extension "
    "(package gnome-shell-extension-appindicator) and log in again to get the tray icon."
)


class Controller(QObject):
    """Owns the long-lived objects; `shutdown()` ends every thread it started.

    Signals:
        ready(): the first sample reached the UI.
    """

    ready = Signal()
    _poller_stop = Signal()
    _poller_url = Signal(str)

    def __init__(self, app: QApplication, settings: Settings, *, force_no_tray: bool = False) -> None:
        super().__init__()
        self.app = app
        self.settings = settings
        self.history = SampleHistory()
        self.has_tray = QSystemTrayIcon.isSystemTrayAvailable() and not force_no_tray
        self.window = MainWindow(settings, self.history, self.has_tray)
        self.bench_history = History()
        self.benchmark_page = BenchmarkPage(settings, self.bench_history)
        self.window.add_page(self.benchmark_page, "Benchmark")
        problems = [p for p in (settings.problem, self.bench_history.problem) if p]
        self.tray: Tray | None = None
        self._first_sample = True
        self._threads: list[QThread] = []
        if self.has_tray:
            self.tray = Tray(self)
            self.tray.open_dashboard.connect(self.show_dashboard)
            self.tray.quit_requested.connect(self.quit)
            self.tray.pause_toggled.connect(self._on_pause)
            self.tray.capabilities["quick_benchmark"] = "Run quick benchmark"
            self.tray.action_requested.connect(self._on_tray_action)
            self.benchmark_page.finished.connect(lambda text: self.tray.notify("Benchmark finished", text))
            self.tray.show()
        if problems:
            self.window.show_banner("\n".join(problems))
        self._start_sampler()
        self._start_ollama_poller()
        self._detect = TaskWorker(detect_hardware, pass_control=False)
        self._detect.result.connect(self.window.monitor.set_hardware)
        self._detect.failed.connect(lambda m: self.window.monitor.hardware_label.setText(f"Hardware detection failed: {m}"))
        start_task(self, self._detect)
        self.window.settings_page.changed.connect(self._on_setting_changed)
        if not self.has_tray:
            self.window.show()
            if not settings.get("tray_hint_shown"):
                self.window.show_banner(NO_TRAY_HINT)
                settings.set("tray_hint_shown", True)
                try:
                    settings.save()
                except OSError:
                    log.warning("could not save settings")

    # -- workers --------------------------------------------------------------------------
    def _start_sampler(self) -> None:
        self.sampler = SamplerWorker(self.settings.get("sample_interval_s"))
        self.sampler.sampled.connect(self._on_sample)
        self.sampler.start()

    def _start_ollama_poller(self) -> None:
        thread = QThread(self)
        self.poller = OllamaPoller(self.settings.get("ollama_url"), self.settings.get("ollama_poll_s"))
        self.poller.moveToThread(thread)
        thread.started.connect(self.poller.start)
        # Cross-thread calls go through signals (queued): QMetaObject.invokeMethod from
        # Python crashed PySide6 6.12 at interpreter exit (bool refcount error).
        self._poller_stop.connect(self.poller.stop)
        self._poller_url.connect(self.poller.set_url)
        self.poller.loaded.connect(self._on_models)
        self.poller.unavailable.connect(self._on_ollama_down)
        thread.start()
        self._threads.append(thread)

    def _on_sample(self, sample) -> None:
        self.history.add(sample)
        self.window.monitor.mark_dirty(sample)
        if self.tray:
            self.tray.update_sample(sample)
        if self._first_sample:
            self._first_sample = False
            self.ready.emit()

    def _on_models(self, models: Sequence) -> None:
        self.window.monitor.set_loaded_models(models)
        if self.tray:
            self.tray.update_models(models)

    def _on_ollama_down(self, reason: str) -> None:
        self.window.monitor.set_ollama_unavailable(reason)
        if self.tray:
            self.tray.update_models(None)

    def _on_pause(self, paused: bool) -> None:
        self.sampler.set_paused(paused)

    def _on_setting_changed(self, name: str) -> None:
        if name == "sample_interval_s":
            self.sampler.set_interval(self.settings.get(name))
        elif name == "ollama_url":
            self._poller_url.emit(self.settings.get(name))

    def _on_tray_action(self, key: str) -> None:
        if key == "quick_benchmark":
            self.benchmark_page.suite.setCurrentText("quick")
            self.benchmark_page.start()
            self.window.tabs.setCurrentWidget(self.benchmark_page)

    # -- actions --------------------------------------------------------------------------
    def show_dashboard(self) -> None:
        """Show and raise the dashboard window."""
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def shutdown(self) -> None:
        """Stop every worker thread and wait for it (bounded)."""
        self.sampler.stop()
        self._poller_stop.emit()
        if not self.sampler.join(5.0):
            log.warning("the sampler thread did not stop within 5 s")
        for thread in self._threads:
            thread.quit()
            if not thread.wait(5000):
                log.warning("a worker thread did not stop within 5 s")
        self.benchmark_page.cancel()
        for thread in self.benchmark_page.findChildren(QThread):
            thread.wait(10000)
        self.bench_history.close()
        if self.tray:
            self.tray.hide()

    def quit(self) -> None:
        """Quit the application cleanly."""
        self.shutdown()
        self.app.quit()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `velollm-desktop` and `python -m velollm_desktop`."""
    parser = argparse.ArgumentParser(prog="velollm-desktop", description=f"{APP_NAME}: tray monitor and dashboard")
    parser.add_argument("--version", action="version", version=f"velollm-desktop {__version__}")
    parser.add_argument("--show", action="store_true", help="open the dashboard at start even with a tray")
    parser.add_argument("--no-tray", action="store_true", help="run as a normal window without a tray icon")
    parser.add_argument("--quit-after", type=float, default=0, help=argparse.SUPPRESS)  # seconds; for tests/bench
    args, qt_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication([sys.argv[0], *qt_args])
    app.setApplicationName(APP_ID)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    controller = Controller(app, Settings.load(), force_no_tray=args.no_tray)
    if not controller.has_tray:
        # Without a tray the window is the app: closing it must quit.
        app.setQuitOnLastWindowClosed(True)
        app.lastWindowClosed.connect(controller.shutdown)
    elif args.show:
        controller.show_dashboard()
    if args.quit_after > 0:
        QTimer.singleShot(int(args.quit_after * 1000), controller.quit)
    code = app.exec()
    return code


if __name__ == "__main__":
    sys.exit(main())
