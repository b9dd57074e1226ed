"""The Settings page, clicked: Start at login writes the same entry the tray's menu item does,
and the llama-server binary typed here is the one binary discovery uses."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from velollm_desktop.core import autostart
from velollm_desktop.core.llamacpp.binaries import find_program
from velollm_desktop.core.settings import Settings
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
    _login_action(tray).trigger()  # the tray turns it off…
    assert not autostart.is_enabled()
    page.hide()
    page.show()  # …and the page shows what is true when it is shown again
    assert not box.isChecked()
    tray.hide()


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
