"""The dashboard window: a banner for one-time messages and one tab per capability."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from velollm_desktop import APP_NAME, __version__
from velollm_desktop.core.monitor.history import SampleHistory
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.icons import app_icon
from velollm_desktop.ui.monitor_page import MonitorPage
from velollm_desktop.ui.settings_page import SettingsPage


class MainWindow(QMainWindow):
    """Closing it hides it when a tray icon exists; otherwise closing quits the app."""

    def __init__(self, settings: Settings, history: SampleHistory, has_tray: bool) -> None:
        super().__init__()
        self.has_tray = has_tray
        self.setWindowTitle(f"{APP_NAME} {__version__}")
        self.setWindowIcon(app_icon())
        self.resize(1100, 760)
        central = QWidget()
        layout = QVBoxLayout(central)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.PlainText)  # messages may quote server text
        self.banner.setStyleSheet("background:#fff3cd;color:#5c4400;padding:8px;border-radius:4px;")
        self.banner.setVisible(False)
        layout.addWidget(self.banner)
        self.tabs = QTabWidget()
        self.monitor = MonitorPage(history)
        self.settings_page = SettingsPage(settings)
        self.tabs.addTab(self.monitor, "Monitor")
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
