"""Quitting never freezes (cancel, bounded wait), and "Open log" opens the log file."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from velollm_desktop.core.cancel import Cancelled
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui import app as app_module
from velollm_desktop.workers import logfile
from velollm_desktop.workers.runner import Job, JobKind, runner


@pytest.fixture
def controller(qtbot):
    c = app_module.Controller(QApplication.instance(), Settings.load(), force_no_tray=True)
    qtbot.addWidget(c.window)
    yield c
    c.shutdown()
    c.window.close()


def test_quit_cancels_a_running_measurement_and_returns_at_once(controller, qtbot):
    started = threading.Event()

    def benchmark(progress, cancel):
        started.set()
        while not cancel.wait(0.01):
            pass
        raise Cancelled("cancelled; the server was stopped")

    job = runner().submit(Job(benchmark, kind=JobKind.MEASURING, label="benchmark"))
    assert started.wait(10)
    t0 = time.monotonic()
    controller.shutdown()
    assert time.monotonic() - t0 < 5.0
    assert job.cancel_event.is_set() and job.join(0)


def test_quit_with_a_job_that_ignores_cancel_waits_only_until_the_deadline(
    controller, qtbot, monkeypatch, caplog
):
    monkeypatch.setattr(app_module, "QUIT_DEADLINE_S", 0.5)
    release = threading.Event()
    job = runner().submit(Job(lambda: release.wait(30), pass_control=False, label="stubborn"))
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING):
        controller.shutdown()
    took = time.monotonic() - t0
    release.set()
    assert took < 3.0, f"quit blocked {took:.1f} s"
    assert any("stubborn" in r.getMessage() for r in caplog.records)
    assert job.join(10)


def test_open_log_opens_the_log_file_in_the_user_log_dir(controller, monkeypatch, tmp_path):
    opened = []
    from PySide6.QtGui import QDesktopServices

    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    controller._on_tray_action("open_log")
    (url,) = opened
    path = logfile.log_path()
    assert url.toLocalFile() == str(path) and path.exists()
    assert str(path).startswith(str(tmp_path))  # the isolated XDG_STATE_HOME, not the real one


def test_the_log_file_gets_unexpected_errors_with_their_traceback(tmp_path):
    root = logging.getLogger()
    before = list(root.handlers)
    path = logfile.install()
    try:
        assert path is not None
        try:
            {}["missing"]
        except KeyError as exc:
            logging.getLogger("velollm_desktop.test").warning("bug", exc_info=exc)
        for h in root.handlers:
            h.flush()
        text = path.read_text()
        assert "KeyError" in text and "Traceback" in text
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
                h.close()


def _ps_requests(fake) -> int:
    return len([r for r in fake.requests if r[1] == "/api/ps"])


def test_quit_while_a_poll_is_in_flight_writes_into_no_deleted_widget(qtbot):
    """The app quits and its window is deleted while /api/ps is still answering: the poll's
    result must reach no widget (it once wrote into a deleted QLabel for 74 later tests)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    from tests.ollama_fake import FakeOllama

    with FakeOllama() as fake:
        fake.ps_delay_s = 1.5
        settings = Settings.load()
        settings.set("ollama_url", fake.url)
        c = app_module.Controller(QApplication.instance(), settings, force_no_tray=True)
        window = c.window
        qtbot.waitUntil(lambda: _ps_requests(fake) >= 1, timeout=20_000)  # a poll is in flight
        poller = c.poller
        assert poller is not None
        c.quit()
        assert c not in app_module.LIVE_CONTROLLERS
        window.close()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        assert not c.window_built  # the deleted window is forgotten
        assert poller.join(10.0)  # the in-flight poll returned; its result went nowhere
        qtbot.wait(200)  # deliver anything queued: pytest-qt fails the test on an exception
    assert not c.window_built


def test_a_window_deleted_before_the_poller_stops_gets_no_poll_result(qtbot):
    c = app_module.Controller(QApplication.instance(), Settings.load(), force_no_tray=True)
    try:
        window = c.window
        window.deleteLater()
        from PySide6.QtCore import QCoreApplication, QEvent

        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        c._on_ollama_down("Ollama is not running at http://127.0.0.1:9")  # what a poll emits
        c._on_models([])
        assert not c.window_built
    finally:
        c.shutdown()


def test_open_log_without_a_desktop_handler_shows_the_path_and_the_log(
    controller, monkeypatch, qtbot
):
    """Issue 27 item 8: no program for the file (openUrl fails): a window with the path, a
    Copy button and the log's tail; HTTP request lines are not in the log at INFO."""
    from PySide6.QtGui import QDesktopServices, QGuiApplication

    from velollm_desktop.ui import tray_actions

    path = logfile.install()
    assert path is not None
    try:
        logging.getLogger("httpx").info('HTTP Request: GET http://127.0.0.1:1/health "503"')
        logging.getLogger("velollm_desktop.test").warning("a line a person needs")
        monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
        controller._on_tray_action("open_log")
        window = tray_actions._log_window
        assert window is not None and window.isVisible()
        qtbot.addWidget(window)
        assert window.path_field.text() == str(path)
        assert "a line a person needs" in window.text.toPlainText()
        assert "HTTP Request" not in window.text.toPlainText()
        qtbot.mouseClick(window.copy_button, Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == str(path)
        window.close()
    finally:
        root = logging.getLogger()
        for h in [h for h in root.handlers if getattr(h, "baseFilename", None) == str(path)]:
            root.removeHandler(h)
            h.close()
        tray_actions._log_window = None
