"""A label that wraps and keeps the room its wrapped text needs."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


class WrappingLabel(QLabel):
    """A word-wrapped label whose minimum height follows its wrapped text, so the layout
    never draws the next widget over it (at QT_SCALE_FACTOR=2 a plain wrapped label in a
    scrolling page was overlapped by the chart below)."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        need = self.heightForWidth(max(1, self.width()))
        if need > 0 and need != self.minimumHeight():
            self.setMinimumHeight(need)
