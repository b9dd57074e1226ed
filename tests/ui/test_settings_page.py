"""The Settings page, clicked: Start at login writes the same entry the tray's menu item does,
and the llama-server binary typed here is the one binary discovery uses."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from tests.ui.dialogs import answer_dialogs
from velollm_desktop.core import autostart
from velollm_desktop.core.llamacpp.binaries import find_program
from velollm_desktop.core.settings import Settings, server_url_problem
from velollm_desktop.ui.settings_page import SettingsPage
from velollm_desktop.ui.tray import Tray


def _login_action(tray: Tray):
    tray._rebuild_menu()  # what aboutToShow does before the menu opens
    return next(a for a in tray.menu.actions() if a.text() == "Start at login")


def test_start_at_login_one_source_of_truth(qtbot):
    page = SettingsPage(Settings.load())
    qtbot.addWidget(page)
    page.show()
    box = page.editors["start_at_login"]
    tray = Tray()
    assert not box.isChecked() and not autostart.is_enabled()
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert autostart.is_enabled() and _login_action(tray).isChecked()
    assert Settings.load().get("start_at_login") is True and "Starts at login" in page.status.text()
    # settings.json never keeps its own copy: the login entry is the one truth
    assert (
        "start_at_login" not in page.settings.path.read_text()
        if page.settings.path.exists()
        else True
    )
    tray.login_changed.connect(lambda _on: page.show_start_at_login())  # as the app wires it
    _login_action(tray).trigger()  # the tray turns it off…
    assert not autostart.is_enabled() and Settings.load().get("start_at_login") is False
    assert not box.isChecked()  # …and the visible box follows at once
    _login_action(tray).trigger()
    assert autostart.is_enabled() and box.isChecked()
    _login_action(tray).trigger()
    page.hide()
    page.show()  # and shows what is true when it is shown again
    assert not box.isChecked()
    tray.hide()


def _type(qtbot, editor, text):
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def test_an_invalid_ollama_url_is_refused_with_a_sentence(qtbot):
    page = SettingsPage(Settings.load())
    qtbot.addWidget(page)
    page.show()
    editor = page.editors["ollama_url"]
    before = Settings.load().get("ollama_url")
    editor.setFocus()
    _type(qtbot, editor, "localhost:99999/x y")
    assert Settings.load().get("ollama_url") == before  # not saved
    assert page.status.text().startswith("Not saved: ") and "space" in page.status.text()
    _type(qtbot, editor, "http://localhost:99999")
    assert Settings.load().get("ollama_url") == before
    assert "port must be a number from 1 to 65535" in page.status.text()
    _type(qtbot, editor, "http://127.0.0.1:11500/")
    assert Settings.load().get("ollama_url") == "http://127.0.0.1:11500"
    assert page.status.text().startswith("Saved to ")


def test_reset_asks_first_and_can_be_undone(qtbot):
    settings = Settings.load()
    settings.set("fleet_targets", "node=http://gpu-box:9100")
    settings.set("ollama_poll_s", 10.0)
    settings.save()
    page = SettingsPage(Settings.load())
    qtbot.addWidget(page)
    page.show()
    answers = answer_dialogs(qtbot, "Cancel")  # declined: nothing changes
    qtbot.mouseClick(page.reset_button, Qt.MouseButton.LeftButton)
    assert not answers.errors, answers.errors
    assert "fleet_targets: 'node=http://gpu-box:9100' → ''" in answers.texts[0]
    assert Settings.load().get("fleet_targets") == "node=http://gpu-box:9100"
    assert page.status.text() == "Not reset: nothing was changed."
    assert not page.undo_reset_button.isEnabled()
    answers = answer_dialogs(qtbot, "Reset")
    qtbot.mouseClick(page.reset_button, Qt.MouseButton.LeftButton)
    assert not answers.errors, answers.errors
    saved = Settings.load()
    assert saved.get("fleet_targets") == "" and saved.get("ollama_poll_s") == 3.0
    assert page.editors["fleet_targets"].text() == "" and page.undo_reset_button.isEnabled()
    qtbot.mouseClick(page.undo_reset_button, Qt.MouseButton.LeftButton)
    saved = Settings.load()
    assert saved.get("fleet_targets") == "node=http://gpu-box:9100"
    assert saved.get("ollama_poll_s") == 10.0 and not page.undo_reset_button.isEnabled()
    assert page.editors["fleet_targets"].text() == "node=http://gpu-box:9100"


def test_server_url_problems_are_sentences():
    assert server_url_problem("http://127.0.0.1:11434") is None
    assert server_url_problem("https://[::1]:443/ollama") is None
    for bad in ("", "localhost:11434", "http://", "http://h:0", "http://h:x", "ftp://h"):
        problem = server_url_problem(bad)
        assert problem and problem.endswith(".")


def test_llama_server_binary_typed_here_is_used(qtbot, tmp_path):
    binary = tmp_path / "llama-server-custom"
    binary.write_text("#!/bin/sh\n")
    page = SettingsPage(Settings.load())
    qtbot.addWidget(page)
    page.show()
    editor = page.editors["llama_server_path"]
    editor.setFocus()
    qtbot.keyClicks(editor, str(binary))
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert find_program("llama-server").path == binary
