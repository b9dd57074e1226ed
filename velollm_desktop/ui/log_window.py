"""The log in a window: shown when the desktop has no program for the log file (Qt then only
prints "Unable to detect a launcher" to the terminal and nothing opens). The path with a Copy
button, and the last lines of the log, read-only."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

TAIL_BYTES = 256 * 1024
"""The log window shows at most this much of the end of the file."""


def log_tail(path: Path, limit: int = TAIL_BYTES) -> str:
    """The end of the log (whole lines), or a sentence when it cannot be read."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - limit))
            data = fh.read(limit)
    except OSError as exc:
        return f"The log cannot be read: {exc}."
    text = data.decode("utf-8", "replace")
    if size > limit:
        text = text.partition("\n")[2]  # the first line was cut
    return text or "Nothing was logged yet."


class LogWindow(QDialog):
    """Path (selectable) + Copy path, and the log's last lines."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("VeloLLM log")
        self.resize(760, 460)
        self.path_field = QLineEdit(str(path))
        self.path_field.setReadOnly(True)
        self.copy_button = QPushButton("Copy path")
        self.copy_button.clicked.connect(lambda: self.copy_path())
        row = QHBoxLayout()
        row.addWidget(self.path_field, 1)
        row.addWidget(self.copy_button)
        self.text = QPlainTextEdit(log_tail(path))
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.moveCursor(self.text.textCursor().MoveOperation.End)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("No program is set to open the log file here. It is at:"))
        layout.addLayout(row)
        layout.addWidget(self.text, 1)
        layout.addWidget(close)

    def copy_path(self) -> None:
        QGuiApplication.clipboard().setText(self.path_field.text())
        self.copy_button.setText("Copied")
