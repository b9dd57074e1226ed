"""Answer the real modal dialogs a click opens, by clicking one of their buttons."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot


@dataclass
class DialogAnswers:
    """Texts of the dialogs that were answered, and their buttons' labels."""

    texts: list[str] = field(default_factory=list)
    buttons: list[list[str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    """The folder each file dialog opened in."""


def answer_dialogs(qtbot: QtBot, *choices: str) -> DialogAnswers:
    """For each of `choices` in turn, wait for the next modal message box and click the button
    whose label is that choice. Call before the click that opens the dialog(s)."""
    seen = DialogAnswers()
    pending = list(choices)

    def poll(tries: int = 0) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or not box.isVisible():
            if tries < 500:
                QTimer.singleShot(10, lambda: poll(tries + 1))
            else:
                seen.errors.append(f"no dialog appeared for {pending[0]!r}")
            return
        choice = pending.pop(0)
        labels = [b.text() for b in box.buttons()]
        seen.texts.append(box.text())
        seen.buttons.append(labels)
        match = [b for b in box.buttons() if b.text().replace("&", "") == choice]
        if not match:
            seen.errors.append(f"no button {choice!r} in {labels}")
            box.reject()
        else:
            qtbot.mouseClick(match[0], Qt.MouseButton.LeftButton)
        if pending:
            QTimer.singleShot(10, poll)

    QTimer.singleShot(0, poll)
    return seen


def answer_file_dialog(qtbot: QtBot, path: str | None) -> DialogAnswers:
    """Wait for the next (Qt, non-native) file dialog; choose `path`, or cancel with None."""
    seen = DialogAnswers()

    def poll(tries: int = 0) -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog) or not dialog.isVisible():
            if tries < 500:
                QTimer.singleShot(10, lambda: poll(tries + 1))
            else:
                seen.errors.append("no file dialog appeared")
            return
        seen.texts.append(dialog.windowTitle())
        seen.directories.append(dialog.directory().absolutePath())
        if path is None:
            dialog.reject()
        else:
            dialog.selectFile(path)
            dialog.accept()

    QTimer.singleShot(0, poll)
    return seen
