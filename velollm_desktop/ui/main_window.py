"""The dashboard window: a banner for one-time messages and one tab per capability."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QMainWindow,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop import APP_NAME, __version__
from velollm_desktop.core.monitor.history import SampleHistory
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.fleet_page import FleetPage
from velollm_desktop.ui.icons import app_icon
from velollm_desktop.ui.monitor_page import MonitorPage
from velollm_desktop.ui.settings_page import SettingsPage

PREFERRED_SIZE = QSize(1100, 760)
SCREEN_FRACTION = 0.92
"""The first window size is at most this share of the screen's available geometry."""


def first_size(available: QSize, preferred: QSize = PREFERRED_SIZE) -> QSize:
    """The preferred size, clamped to the available screen area (panels and tray excluded)."""
    return QSize(
        min(preferred.width(), int(available.width() * SCREEN_FRACTION)),
        min(preferred.height(), int(available.height() * SCREEN_FRACTION)),
    )


class _PageHolder(QWidget):
    """Holds a page in a scroll area: the page fills the viewport, and the scroll bars appear
    only below the page's minimum size. (Given the page directly, QScrollArea sizes it by
    its word-wrapped labels' height-for-width, built from size *hints*, and scrolled pages
    that fit.)"""

    def __init__(self, page: QWidget) -> None:
        super().__init__()
        self.page = page
        page.setParent(self)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self.page.minimumSizeHint().expandedTo(self.page.minimumSize())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self.page.sizeHint()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.page.setGeometry(self.rect())
        super().resizeEvent(event)


class PageTabs(QTabWidget):
    """Tabs whose pages sit in scroll areas: every page stays usable in a small window.

    `currentWidget`, `setCurrentWidget` and `indexOf` speak of the pages, not the scroll areas.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

    def _wrap(self, page: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setWidget(_PageHolder(page))
        return area

    def addTab(self, page: QWidget, title: str) -> int:  # noqa: N802 - Qt override
        return super().addTab(self._wrap(page), title)

    def insertTab(self, index: int, page: QWidget, title: str) -> int:  # noqa: N802 - Qt override
        return super().insertTab(index, self._wrap(page), title)

    def page(self, index: int) -> QWidget | None:
        """The page (not its scroll area) at `index`."""
        area = self.widget(index)
        holder = area.widget() if isinstance(area, QScrollArea) else None
        return holder.page if isinstance(holder, _PageHolder) else area

    def currentWidget(self) -> QWidget | None:  # noqa: N802 - Qt override
        return self.page(self.currentIndex())

    def indexOf(self, page: QWidget) -> int:  # noqa: N802 - Qt override
        for i in range(self.count()):
            if self.page(i) is page or self.widget(i) is page:
                return i
        return -1

    def setCurrentWidget(self, page: QWidget) -> None:  # noqa: N802 - Qt override
        index = self.indexOf(page)
        if index >= 0:
            self.setCurrentIndex(index)


class MainWindow(QMainWindow):
    """Closing it hides it when a tray icon exists; otherwise closing quits the app."""

    def __init__(self, settings: Settings, history: SampleHistory, has_tray: bool) -> None:
        super().__init__()
        self.has_tray = has_tray
        self.setWindowTitle(f"{APP_NAME} {__version__}")
        self.setWindowIcon(app_icon())
        screen = QGuiApplication.primaryScreen()
        available = screen.availableGeometry().size() if screen else PREFERRED_SIZE
        self.resize(first_size(available))
        central = QWidget()
        layout = QVBoxLayout(central)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.PlainText)  # messages may quote server text
        self.banner.setStyleSheet("background:#fff3cd;color:#5c4400;padding:8px;border-radius:4px;")
        self.banner.setVisible(False)
        layout.addWidget(self.banner)
        self.tabs = PageTabs()
        self.monitor = MonitorPage(history, ollama_url=lambda: settings.get("ollama_url"))
        self.settings_page = SettingsPage(settings)
        self.fleet = FleetPage(settings)
        self.settings_page.changed.connect(
            lambda name: self.fleet.apply_settings() if name.startswith("fleet_") else None
        )
        self.tabs.addTab(self.monitor, "Monitor")
        self.tabs.addTab(self.fleet, "Fleet")
        self.tabs.addTab(self.settings_page, "Settings")
        layout.addWidget(self.tabs)
        self.setCentralWidget(central)

    def add_page(self, widget: QWidget, title: str) -> None:
        """Add a capability's page before Settings."""
        self.tabs.insertTab(self.tabs.count() - 1, widget, title)

    def show_banner(self, text: str) -> None:
        """Show a message at the top of the window (added below any message already shown)."""
        if self.banner.isVisibleTo(self) and self.banner.text():
            text = f"{self.banner.text()}\n{text}"
        self.banner.setText(text)
        self.banner.setVisible(True)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.has_tray:
            event.ignore()
            self.hide()
        else:
            event.accept()
