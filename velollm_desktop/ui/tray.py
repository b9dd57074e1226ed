"""The system-tray icon: a live three-bar icon, a tooltip with the numbers, and the menu."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QPixmapCache
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from velollm_desktop.core import autostart
from velollm_desktop.core.monitor.text import tooltip_text
from velollm_desktop.ui.icons import draw_tray_pixmap, tray_levels, waiting_icon

if TYPE_CHECKING:  # types only: keeps psutil/NVML and the model classes off the tray's start path
    from velollm_desktop.core.monitor.sampler import SystemSample
    from velollm_desktop.core.ollama.models import LoadedModel

ICON_REFRESH_MS = 1000
"""The icon and tooltip are redrawn at most once per second, whatever the sampling rate."""


class Tray(QObject):
    """Owns the QSystemTrayIcon.

    Signals:
        open_dashboard(): the user asked for the window (click or menu).
        pause_toggled(bool): monitoring paused (True) or resumed.
        login_changed(bool): "Start at login" was turned on or off from the menu.
        quit_requested(): Quit was chosen.
        action_requested(str): an optional capability's entry ("quick_optimize", "quick_benchmark").
    """

    open_dashboard = Signal()
    pause_toggled = Signal(bool)
    login_changed = Signal(bool)
    quit_requested = Signal()
    action_requested = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.menu.aboutToShow.connect(self._rebuild_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.paused = False
        self.capabilities: dict[str, str] = {}
        """Optional entries shown only when their capability is built: key → label."""
        self._sample: SystemSample | None = None
        self._models: Sequence[LoadedModel] | None = None
        self._fleet: tuple[str, str] | None = None
        """The fleet's worst level and why, when the setting shows it on the icon."""
        self._dirty = True
        self._refresh()
        self._rebuild_menu()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._refresh)
        self._timer.start(ICON_REFRESH_MS)

    def show(self) -> None:
        """Put the icon in the tray."""
        self.icon.show()

    def hide(self) -> None:
        """Remove the icon from the tray."""
        self.icon.hide()

    def notify(self, title: str, text: str) -> None:
        """A tray notification (finished long work)."""
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 5000)

    def update_sample(self, sample: SystemSample) -> None:
        """Record a new sample; drawn at the next refresh tick."""
        self._sample = sample
        self._dirty = True

    def update_models(self, models: Sequence[LoadedModel] | None) -> None:
        """Record Ollama's loaded models (`None` when Ollama is not running)."""
        self._models = models
        self._dirty = True

    def update_fleet(self, level: str | None, why: str = "") -> None:
        """Show the fleet's worst host ("ok"/"warn"/"down") as a dot on the icon; None hides it."""
        self._fleet = (level, why) if level else None
        self._dirty = True

    def set_paused(self, paused: bool) -> None:
        """Show the paused state (grey bars)."""
        self.paused = paused
        self._dirty = True
        self._refresh()

    def _refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        if self._sample is None and not self.paused:
            # Before the first reading: the shipped icon. Drawing the bars needs QPainter pens
            # and brushes, whose first use builds PySide6's `Qt` namespace (~25-40 ms on 2
            # cores); that now happens after the icon is in the tray, not before.
            self.icon.setIcon(waiting_icon())
        else:
            pixmap = draw_tray_pixmap(tray_levels(self._sample), paused=self.paused)
            if self._fleet is not None:
                from velollm_desktop.ui.fleet_page import draw_fleet_dot  # noqa: PLC0415

                draw_fleet_dot(pixmap, self._fleet[0])
            self.icon.setIcon(QIcon(pixmap))
            # Each new QIcon leaves its rendered pixmap in QPixmapCache under a key nothing will
            # ask for again: measured +8.5 MB/hour at one icon a second (bounded only by the
            # cache's 10 MB limit), flat with this. The cache refills with what is still used.
            QPixmapCache.clear()
        tip = tooltip_text(self._sample, self._models, self.paused)
        if self._fleet is not None:
            tip += f"\nFleet: {self._fleet[0].upper()}" + (
                f" — {self._fleet[1]}" if self._fleet[1] else ""
            )
        self.icon.setToolTip(tip)

    def _rebuild_menu(self) -> None:
        self.menu.clear()
        self._add(self.menu, "Open dashboard", self.open_dashboard.emit)
        for key, label in self.capabilities.items():
            self._add(self.menu, label, lambda k=key: self.action_requested.emit(k))
        self.menu.addSeparator()
        pause = self._add(self.menu, "Pause monitoring", lambda: self._toggle_pause())
        pause.setCheckable(True)
        pause.setChecked(self.paused)
        login = self._add(self.menu, "Start at login", None)
        login.setCheckable(True)
        login.setChecked(autostart.is_enabled())
        login.toggled.connect(self._on_login_toggled)
        self.menu.addSeparator()
        self._add(self.menu, "Quit", self.quit_requested.emit)

    def _add(self, menu: QMenu, text: str, slot) -> QAction:
        action = QAction(text, menu)
        if slot is not None:
            action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        return action

    def _on_login_toggled(self, enabled: bool) -> None:
        try:
            autostart.set_enabled(enabled)
        except OSError as exc:
            self.notify("Start at login", f"Could not change it: {exc}")
            return
        self.login_changed.emit(enabled)

    def _toggle_pause(self) -> None:
        self.set_paused(not self.paused)
        self.pause_toggled.emit(self.paused)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_dashboard.emit()
