"""The desktop application: wires the tray, the dashboard and the monitor workers together.

With a tray, the dashboard window (and pyqtgraph / numpy with it) is only built the first
time it is opened: the tray icon appears sooner and an app that lives in the tray all day
uses less memory. Samples are kept in the history meanwhile, so the plots are full on open.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from velollm_desktop import APP_NAME
from velollm_desktop.core.doctor.watch import SpillWatch, alert_text
from velollm_desktop.core.monitor.history import SampleHistory
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.exporter_control import AppExporter
from velollm_desktop.ui.pages import Pages, add_pages
from velollm_desktop.ui.startup import (
    NO_TRAY_HINT,
    WELCOME_TEXT,
)
from velollm_desktop.ui.tray import Tray
from velollm_desktop.ui.tray_actions import TRAY_ACTIONS, run_tray_action
from velollm_desktop.workers.runner import runner
from velollm_desktop.workers.task import TaskWorker, start_task

if TYPE_CHECKING:
    from velollm_desktop.core.hardware import HardwareSpec
    from velollm_desktop.ui.main_window import MainWindow
    from velollm_desktop.workers.monitor import OllamaPoller, SamplerWorker

log = logging.getLogger(__name__)

BACKGROUND_POLL_MS = 20
BACKGROUND_START_MAX_MS = 1000
QUIT_DEADLINE_S = 15.0
"""Quitting waits at most this long, in total, for cancelled jobs to stop their servers."""
LIVE_CONTROLLERS: weakref.WeakSet[Controller] = weakref.WeakSet()
"""Controllers not shut down yet (tests/conftest.py ends those a failed test left behind)."""


class Controller(QObject):
    """Owns the long-lived objects; `shutdown()` ends every thread it started.

    Signals:
        ready(): the first sample arrived.
    """

    ready = Signal()

    def __init__(
        self, app: QApplication, settings: Settings, *, force_no_tray: bool = False
    ) -> None:
        super().__init__()
        self.app = app
        self.settings = settings
        self.history = SampleHistory()
        self.has_tray = QSystemTrayIcon.isSystemTrayAvailable() and not force_no_tray
        self._window: MainWindow | None = None
        self._pages: Pages | None = None
        self._bench_history = None
        self._hardware: HardwareSpec | None = None
        self._hardware_error: str | None = None
        self._models: Sequence | None = None
        self._spills = SpillWatch()
        self._ollama_down: str | None = None
        self.tray: Tray | None = None
        self._first_sample = True
        self._detect: TaskWorker | None = None
        self.poller: OllamaPoller | None = None
        self.sampler: SamplerWorker | None = None
        self.exporter = AppExporter(self, settings)
        self._shut_down = False
        self._quick_optimize_pending = False
        LIVE_CONTROLLERS.add(self)
        if self.has_tray:
            self.tray = Tray(self)
            self.tray.open_dashboard.connect(self.show_dashboard)
            self.tray.quit_requested.connect(self.quit)
            self.tray.pause_toggled.connect(self._on_pause)
            self.tray.capabilities.update(TRAY_ACTIONS)
            self.tray.action_requested.connect(self._on_tray_action)
            self.tray.show()
        # Sampling, polling and detection start once the tray icon is embedded (or after
        # BACKGROUND_START_MAX_MS): importing psutil/NVML and starting three threads before
        # that delayed the icon by ~0.1 s on 2 cores.
        self._bg_waited_ms = 0
        self._bg_timer = QTimer(self)
        self._bg_timer.timeout.connect(self._maybe_start_background)
        self._bg_timer.start(0 if self.tray is None else BACKGROUND_POLL_MS)
        if settings.problem and self.tray:
            self.tray.notify(APP_NAME, settings.problem)
        self._first_messages()

    def _first_messages(self) -> None:
        """Without a tray the window is the app (and says why once); with one, the very first
        start opens the dashboard with a welcome: a 22 px icon is easy to miss."""
        if not self.has_tray:
            self.window.show()
            flag, text = "tray_hint_shown", NO_TRAY_HINT
        elif not self.settings.get("welcome_shown"):
            self.show_dashboard()
            flag, text = "welcome_shown", WELCOME_TEXT
        else:
            return
        if not self.settings.get(flag):
            self.window.show_banner(text)
            self._remember(flag)

    def _remember(self, flag: str) -> None:
        """A once-only message was shown: keep that in the settings file."""
        self.settings.set(flag, True)
        try:
            self.settings.save()
        except OSError:
            log.warning("could not save settings")

    # -- the window, built on first use ---------------------------------------------------
    @property
    def window_built(self) -> bool:
        """Whether the dashboard window exists yet."""
        return self._window is not None

    @property
    def window(self) -> MainWindow:
        """The dashboard window (built on first access)."""
        if self._window is None:
            self._window = self._build_window()
            # A window destroyed before the pollers stop (a test, a crash in a page) must not
            # receive their next result: forget it, and the results go to the tray only.
            self._window.destroyed.connect(self._forget_window)
        return self._window

    def _forget_window(self) -> None:
        self._window = None

    def _build_window(self) -> MainWindow:
        from velollm_desktop.core.bench.store import History  # noqa: PLC0415 - lazy: see module doc
        from velollm_desktop.ui.main_window import MainWindow  # noqa: PLC0415

        window = MainWindow(self.settings, self.history, self.has_tray)
        self._bench_history = History()
        pages = add_pages(window, self.settings, self._bench_history, lambda: self._hardware)
        self._pages = pages
        self.benchmark_page, self.optimize_page = pages.benchmark, pages.optimize
        self.speculative_page, self.tune_page = pages.speculative, pages.tune
        self.doctor_page = pages.doctor
        self._connect_tray(window)
        problems = [p for p in (self.settings.problem, self._bench_history.problem) if p]
        if problems:
            window.show_banner("\n".join(problems))
        window.settings_page.changed.connect(self._on_setting_changed)
        self.exporter.attach(window.settings_page)
        self._fill_monitor(window)
        window.monitor.mark_dirty()
        return window

    def _connect_tray(self, window: MainWindow) -> None:
        """The pages' ends as tray notifications; the tray's pause and login box."""
        tray = self.tray
        if tray is None:
            return
        self.benchmark_page.finished.connect(lambda text: tray.notify("Benchmark finished", text))
        self.optimize_page.applied.connect(lambda text: tray.notify("Ollama settings", text))
        self.speculative_page.finished.connect(
            lambda text: tray.notify("Speculative decoding", text)
        )
        self.tune_page.finished.connect(lambda text: tray.notify("Tuning finished", text))
        window.fleet.worst_changed.connect(self._on_fleet_worst)
        if tray.paused:
            window.monitor.set_paused(True)
        # the Settings page's box follows the tray's "Start at login" while it is shown
        tray.login_changed.connect(lambda _on: window.settings_page.show_start_at_login())

    def _fill_monitor(self, window: MainWindow) -> None:
        """What the background already knows (hardware, loaded models) onto the new window."""
        if self._hardware is not None:
            window.monitor.set_hardware(self._hardware)
        elif self._hardware_error:
            window.monitor.hardware_label.setText(
                f"Hardware detection failed: {self._hardware_error}"
            )
        if self._models is not None:
            window.monitor.set_loaded_models(self._models)
        elif self._ollama_down:
            window.monitor.set_ollama_unavailable(self._ollama_down)

    # -- workers --------------------------------------------------------------------------
    def _maybe_start_background(self) -> None:
        self._bg_waited_ms += BACKGROUND_POLL_MS
        embedded = self.tray is None or self.tray.icon.geometry().width() > 0
        if embedded or self._bg_waited_ms >= BACKGROUND_START_MAX_MS:
            self._bg_timer.stop()
            self._start_background()

    def _start_background(self) -> None:
        if self._shut_down:  # quit before the event loop ever ran: start nothing
            return
        # Imported here, in the GUI thread, after the tray icon is up. Never import inside a
        # worker thread: PySide6's import hook (shibokensupport) then races with Qt and crashed
        # the app (SIGSEGV, 3 of 40 starts).
        from velollm_desktop.core.hardware import detect_hardware  # noqa: PLC0415
        from velollm_desktop.workers import monitor  # noqa: PLC0415 - psutil, NVML, sysfs probes

        self._monitor = monitor
        self._start_sampler()
        self._start_ollama_poller()
        self.exporter.start_if_enabled()
        if (
            self.tray
            and self.settings.get("fleet_tray_worst")
            and self.settings.get("fleet_targets")
        ):
            self.window  # noqa: B018 - builds the dashboard, whose Fleet page polls
        # Only detection's own modules (already loaded above): the jobs' heavier modules
        # (httpx, benchmark, llama.cpp, optimizer) load at the first page job, not in the tray.
        self._detect = TaskWorker(
            detect_hardware, pass_control=False, imports=(detect_hardware.__module__,)
        )
        self._detect.result.connect(self._on_hardware)
        self._detect.failed.connect(self._on_hardware_failed)
        start_task(self, self._detect)

    def _start_sampler(self) -> None:
        self.sampler = self._monitor.SamplerWorker(self.settings.get("sample_interval_s"))
        self.sampler.sampled.connect(self._on_sample)
        self.sampler.start()

    def _start_ollama_poller(self) -> None:
        self.poller = self._monitor.OllamaPoller(
            self.settings.get("ollama_url"), self.settings.get("ollama_poll_s")
        )
        self.poller.loaded.connect(self._on_models)
        self.poller.unavailable.connect(self._on_ollama_down)
        self.poller.start()

    def _on_hardware(self, spec: HardwareSpec) -> None:
        self._hardware = spec
        if self._window is not None:
            self._window.monitor.set_hardware(spec)
        if self._quick_optimize_pending:
            self._quick_optimize_pending = False
            self._on_tray_action("quick_optimize")

    def _on_hardware_failed(self, message: str) -> None:
        self._hardware_error = message
        if self._window is not None:
            self._window.monitor.hardware_label.setText(f"Hardware detection failed: {message}")

    def _on_sample(self, sample) -> None:
        self.history.add(sample)
        self.exporter.feed(sample)
        if self._window is not None:
            self._window.monitor.mark_dirty(sample)
        if self.tray:
            self.tray.update_sample(sample)
        if self._first_sample:
            self._first_sample = False
            self.ready.emit()

    def _on_models(self, models: Sequence) -> None:
        self._models, self._ollama_down = models, None
        if self._window is not None:
            self._window.monitor.set_loaded_models(models)
        if self.tray:
            self.tray.update_models(models)
        self._spill_alert(models)

    def _spill_alert(self, models: Sequence) -> None:
        """A tray notification when a model starts spilling to the CPU (once per load)."""
        if not (self._hardware and self._hardware.discrete_gpus):
            return  # no GPU: CPU placement is expected
        new = self._spills.update(models)
        if new and self.tray and self.settings.get("doctor_spill_alerts"):
            self.tray.notify("A model runs partly on the CPU", alert_text(new))

    def _on_ollama_down(self, reason: str) -> None:
        self._models, self._ollama_down = None, reason
        if self._window is not None:
            self._window.monitor.set_ollama_unavailable(reason)
        if self.tray:
            self.tray.update_models(None)

    def _on_pause(self, paused: bool) -> None:
        if self.sampler is not None:
            self.sampler.set_paused(paused)
        if self._window is not None:  # the Monitor page says its values are frozen
            self._window.monitor.set_paused(paused)

    def _on_fleet_worst(self, level: str, why: str) -> None:
        if self.tray:
            self.tray.update_fleet(level if self.settings.get("fleet_tray_worst") else None, why)

    def _on_setting_changed(self, name: str) -> None:
        if name == "fleet_tray_worst" and self.tray and self._window is not None:
            self._window.fleet.worst_changed.emit(*self._window.fleet.worst())
        if name == "sample_interval_s" and self.sampler is not None:
            self.sampler.set_interval(self.settings.get(name))
        elif name == "ollama_url":
            if self.poller is not None:
                self.poller.set_url(self.settings.get(name))
        if not self._shut_down:
            self.exporter.setting_changed(name)

    def _on_tray_action(self, key: str) -> None:
        run_tray_action(self, key)

    # -- the tray's host (ui/tray_actions.TrayHost) ---------------------------------------
    def pages(self) -> Pages:
        """The dashboard's flow pages (the window is built on first use)."""
        self.window  # noqa: B018 - builds the window and its pages
        assert self._pages is not None
        return self._pages

    def show_page(self, page: QWidget) -> None:
        """Make `page` the dashboard's current tab."""
        self.window.tabs.setCurrentWidget(page)

    def notify(self, title: str, text: str) -> None:
        """A tray balloon (none without a tray)."""
        if self.tray:
            self.tray.notify(title, text)

    def hardware_known(self) -> bool:
        return self._hardware is not None

    def quick_optimize_after_detection(self) -> None:
        self._quick_optimize_pending = True

    # -- actions --------------------------------------------------------------------------
    def show_dashboard(self) -> None:
        """Show and raise the dashboard window."""
        window = self.window
        window.show()
        window.raise_()
        window.activateWindow()

    def shutdown(self) -> None:
        """Cancel every job, stop every worker thread and wait for them (bounded in total)."""
        if self._shut_down:
            return
        self._shut_down = True
        LIVE_CONTROLLERS.discard(self)
        self._bg_timer.stop()
        # Disconnect first: a poll in flight now reaches no widget (the window may go next).
        for signal in (
            self.sampler.sampled if self.sampler is not None else None,
            self.poller.loaded if self.poller is not None else None,
            self.poller.unavailable if self.poller is not None else None,
        ):
            if signal is not None:
                signal.disconnect()
        if self.sampler is not None:
            self.sampler.stop()
        if self.poller is not None:
            self.poller.stop()
        if self._window is not None:
            self._window.fleet.shutdown()  # stop its timer first: no new poll is submitted
        late = runner().shutdown(QUIT_DEADLINE_S)  # benchmark, comparison, tune, detection, …
        for name, done in (
            ("sampler", self.sampler is None or self.sampler.join(5.0)),
            ("Ollama poller", self.poller is None or self.poller.join(5.0)),
            ("exporter", self.exporter.shutdown(5.0)),
        ):
            if not done:
                late.append(name)
        if late:
            log.warning("still running at quit: %s", ", ".join(late))
        if self._bench_history is not None:
            self._bench_history.close()
        if self.tray:
            self.tray.hide()

    def quit(self) -> None:
        """Quit the application cleanly."""
        self.shutdown()
        self.app.quit()
