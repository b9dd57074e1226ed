"""Settings page: every field comes from the declared schema in core.settings."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from velollm_desktop.core import autostart
from velollm_desktop.core.settings import SCHEMA, Settings


class SettingsPage(QWidget):
    """Edits `Settings`; emits `changed(name)` after a value is saved.

    Signals:
        changed(str): the option that changed.
    """

    changed = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.editors: dict[str, QWidget] = {}
        form = QFormLayout(self)
        for opt in SCHEMA:
            if opt.name == "tray_hint_shown":
                continue
            value = settings.get(opt.name)
            if opt.name == "start_at_login":  # the autostart entry itself is the truth
                w = QCheckBox()
                w.setChecked(autostart.is_enabled())
                w.toggled.connect(self._set_start_at_login)
            elif opt.type is bool:
                w = QCheckBox()
                w.setChecked(bool(value))
                w.toggled.connect(lambda v, n=opt.name: self._commit(n, v))
            elif opt.type is float:
                w = QDoubleSpinBox()
                w.setRange(opt.minimum or 0.0, opt.maximum or 1e9)
                w.setSingleStep(0.1)
                w.setDecimals(2)
                w.setValue(float(value))
                w.editingFinished.connect(lambda n=opt.name, e=w: self._commit(n, e.value()))
            else:
                w = QLineEdit(str(value))
                w.editingFinished.connect(lambda n=opt.name, e=w: self._commit(n, e.text()))
            w.setToolTip(opt.description)
            self.editors[opt.name] = w
            form.addRow(QLabel(opt.description), w)
        reset = QPushButton("Reset to defaults")
        reset.clicked.connect(lambda: self._reset())
        form.addRow(reset)
        self.status = QLabel(f"Stored in {settings.path}")
        form.addRow(self.status)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        """The tray menu may have changed start-at-login meanwhile: show what is true now."""
        super().showEvent(event)
        box = self.editors.get("start_at_login")
        if isinstance(box, QCheckBox):
            box.blockSignals(True)
            box.setChecked(autostart.is_enabled())
            box.blockSignals(False)

    def _set_start_at_login(self, enabled: bool) -> None:
        """Write (or remove) the login entry, the same call as the tray menu's."""
        try:
            path = autostart.set_enabled(enabled)
        except OSError as exc:
            self.status.setText(f"Could not change start at login: {exc}")
            return
        self._commit("start_at_login", enabled)
        self.status.setText(
            f"Starts at login: {path}" if path else "No longer starts at login (entry removed)."
        )

    def _commit(self, name: str, value: object) -> None:
        old = self.settings.get(name)
        self.settings.set(name, value)
        if self.settings.get(name) == old:
            return
        try:
            self.settings.save()
        except OSError as exc:
            self.status.setText(f"Could not save settings: {exc}")
            return
        self.status.setText(f"Saved to {self.settings.path}")
        self.changed.emit(name)

    def _reset(self) -> None:
        for opt in SCHEMA:
            editor = self.editors.get(opt.name)
            if isinstance(editor, QCheckBox):
                editor.setChecked(opt.default)
            elif isinstance(editor, QDoubleSpinBox):
                editor.setValue(opt.default)
                self._commit(opt.name, opt.default)
            elif isinstance(editor, QLineEdit):
                editor.setText(str(opt.default))
                self._commit(opt.name, opt.default)
