"""The tray's /api/ps poller and the dashboard against hostile replies and URLs (offscreen Qt)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.faults.hostile_server import HostileServer, head
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.app import Controller
from velollm_desktop.workers.monitor import OllamaPoller


class _Reply:
    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status

    def __call__(self, srv, sock, method, path):
        srv.send_all(sock, head(self.status, length=len(self.body)) + self.body)


GOOD = json.dumps({"models": [{"name": "qwen3:8b", "size": 10, "size_vram": 10}]}).encode()


@pytest.mark.parametrize(
    "bad",
    [b"[1, 2]", b'{"models": "abc"}', b'{"models": [{"size": NaN}]}', b"\x00\xff garbage"],
)
def test_poller_survives_a_bad_reply_says_so_and_keeps_polling(qtbot, bad):
    """Before: one bad /api/ps reply raised in the thread and the poller was gone for good."""
    reply = _Reply(bad)
    with HostileServer(reply) as srv:
        poller = OllamaPoller(srv.url, period_s=0.1)
        try:
            with qtbot.waitSignal(poller.unavailable, timeout=5000) as blocker:
                poller.start()
            assert "unreadable reply" in blocker.args[0]
            reply.body = GOOD
            with qtbot.waitSignal(poller.loaded, timeout=5000) as blocker:
                pass
            assert blocker.args[0][0].name == "qwen3:8b"
        finally:
            poller.stop()
            assert poller.join()


@pytest.mark.parametrize("url", ["http://[::1]:99999", "http://[::1", "http://:::", "not a url"])
def test_poller_survives_a_bad_url_and_recovers_when_it_is_fixed(qtbot, url):
    with HostileServer(_Reply(GOOD)) as srv:
        poller = OllamaPoller(url, period_s=0.1)
        try:
            with qtbot.waitSignal(poller.unavailable, timeout=5000) as blocker:
                poller.start()
            assert url.split("//")[-1][:4] in blocker.args[0] or "URL" in blocker.args[0]
            with qtbot.waitSignal(poller.unavailable, timeout=5000):
                pass  # still polling
            with qtbot.waitSignal(poller.loaded, timeout=5000):
                poller.set_url(srv.url)
        finally:
            poller.stop()
            assert poller.join()


def test_dashboard_shows_a_hostile_error_body_as_plain_text(qtbot):
    """Before: an HTML error body painted a fake 'SECURITY UPDATE' in the dashboard."""
    evil = '<h1 style="color:red">SECURITY UPDATE</h1><a href="x">curl x | sudo sh</a>'
    body = json.dumps({"error": evil}).encode()
    with HostileServer(_Reply(body, status=500)) as srv:
        settings = Settings.load()
        settings.set("ollama_url", srv.url)
        settings.set("ollama_poll_s", 0.2)
        c = Controller(QApplication.instance(), settings, force_no_tray=True)
        qtbot.addWidget(c.window)
        try:
            c.window.show()
            label = c.window.monitor.ollama_status
            qtbot.waitUntil(lambda: "SECURITY" in label.text(), timeout=8000)
            assert label.textFormat() == Qt.TextFormat.PlainText
            assert "<h1" in label.text()  # shown literally, never rendered
        finally:
            c.shutdown()


def _answer_dialogs(qtbot, edits_answer) -> list[bool]:
    """Answer every modal question until stopped: `edits_answer` to "Discard your edits?",
    Yes to any other (an "Apply?" / "Undo?" confirmation); returns the stop flag."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    stop = [False]

    def click():
        if stop[0]:
            return
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            yes = QMessageBox.StandardButton.Yes
            choice = edits_answer if box.windowTitle() == "Discard your edits?" else yes
            button = box.button(choice) or box.button(QMessageBox.StandardButton.Ok)
            if button is None:  # the app's confirmation: an action button and Cancel
                accept = QMessageBox.ButtonRole.AcceptRole
                button = next(b for b in box.buttons() if box.buttonRole(b) == accept)
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        QTimer.singleShot(50, click)

    QTimer.singleShot(50, click)
    return stop


@pytest.mark.parametrize("accept", [False, True], ids=["decline", "accept"])
def test_undo_after_user_edits_asks_and_a_no_keeps_them(qtbot, tmp_path, accept):
    import subprocess

    from PySide6.QtWidgets import QMessageBox

    from tests.ollama_fake import FakeOllama
    from velollm_desktop.core.hardware import detect_hardware
    from velollm_desktop.core.optimize.apply import Applier
    from velollm_desktop.ui.optimize_page import OptimizePage

    settings = Settings.load()
    hw = detect_hardware()
    from velollm_desktop.core.optimize.service import dropin_path

    root = tmp_path / "root"  # a sandboxed system: Ollama runs as a systemd service there
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/ollama.service").write_text("[Service]\nExecStart=/x serve\n")
    dropin = dropin_path(root)
    dropin.parent.mkdir()
    dropin.write_text("[Service]\nEnvironment=MINE=1\n")
    with FakeOllama() as fake:
        settings.set("ollama_url", fake.url)
        page = OptimizePage(settings, lambda: hw)
        page.system_root, page.processes = root, list
        page.system_root, page.processes = root, list
        qtbot.addWidget(page)
        page.applier = Applier(
            runner=lambda a: subprocess.CompletedProcess(a, 0, "", ""),
            journal=tmp_path / "j.json",
            platform="linux",
            dropin=dropin,
        )
        qtbot.mouseClick(page.compute_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.state is not None, timeout=10000)
        # Ollama stays up through Apply and Undo: the flow waits until it answers again after
        # the restart before the page re-reads
        stop = _answer_dialogs(qtbot, QMessageBox.StandardButton.Yes)  # if Apply asks first
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not page.busy, timeout=15000)  # the apply job, then the re-read
        stop[0] = True
        assert "Applied" in page.status.text()
        edited = dropin.read_text() + "Environment=EDITED_LATER=1\n"
        dropin.write_text(edited)
        button = QMessageBox.StandardButton.Yes if accept else QMessageBox.StandardButton.No
        stop = _answer_dialogs(qtbot, button)
        qtbot.mouseClick(page.undo_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: not page.busy and any(w in page.status.text() for w in ("Not undone", "Restored")),
            timeout=15000,
        )
        stop[0] = True
        if accept:
            assert dropin.read_text() == "[Service]\nEnvironment=MINE=1\n"
            assert "restored" in page.status.text().lower()
        else:
            assert dropin.read_text() == edited and "Not undone" in page.status.text()
            assert page.undo_button.isEnabled()


def test_optimize_page_warns_when_ollama_is_exposed(qtbot, monkeypatch):
    from tests.ollama_fake import FakeOllama
    from velollm_desktop.core.hardware import detect_hardware
    from velollm_desktop.ui.optimize_page import OptimizePage

    monkeypatch.setenv("OLLAMA_ORIGINS", "*")
    hw = detect_hardware()
    with FakeOllama() as fake:
        settings = Settings.load()
        settings.set("ollama_url", fake.url)
        page = OptimizePage(settings, lambda: hw)
        qtbot.addWidget(page)
        qtbot.mouseClick(page.compute_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.state is not None, timeout=10000)
    assert "WARNING: OLLAMA_ORIGINS=* lets any web page" in page.status.text()
