"""Settings page: every field comes from the declared schema in core.settings."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from velollm_desktop.core import autostart
from velollm_desktop.core.settings import (
    HIDDEN_OPTIONS,
    SCHEMA,
    URL_OPTIONS,
    Settings,
    server_url_problem,
)
from velollm_desktop.ui.confirm import confirm


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
            if opt.name in HIDDEN_OPTIONS:
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
        self.reset_button = QPushButton("Reset to defaults…")
        self.reset_button.clicked.connect(lambda: self._reset())
        self.undo_reset_button = QPushButton("Undo reset")
        self.undo_reset_button.setEnabled(False)
        self.undo_reset_button.clicked.connect(lambda: self._undo_reset())
        self._before_reset: dict[str, object] | None = None
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.undo_reset_button)
        buttons.addStretch(1)
        form.addRow(buttons)
        self.status = QLabel(f"Stored in {settings.path}")
        self.status.setWordWrap(True)
        form.addRow(self.status)

    def showEvent(self, event) -> None:
        """The tray menu may have changed start-at-login meanwhile: show what is true now."""
        super().showEvent(event)
        self.show_start_at_login()

    def show_start_at_login(self) -> None:
        """Tick the box as the login entry is now (also called when the tray changes it)."""
        box = self.editors.get("start_at_login")
        if isinstance(box, QCheckBox):
            box.blockSignals(True)
            box.setChecked(autostart.is_enabled())
            box.blockSignals(False)

    def _set_start_at_login(self, enabled: bool) -> None:
        """Write (or remove) the login entry, the same call as the tray menu's."""
        try:  # the login entry is the value (Settings.get reads it; nothing else stores it)
            path = autostart.set_enabled(enabled)
        except OSError as exc:
            self.status.setText(f"Could not change start at login: {exc}")
            self.show_start_at_login()
            return
        self.status.setText(
            f"Starts at login: {path}." if path else "No longer starts at login (entry removed)."
        )
        self.changed.emit("start_at_login")

    def _commit(self, name: str, value: object) -> None:
        old = self.settings.get(name)
        if name in URL_OPTIONS:
            problem = server_url_problem(str(value))
            if problem is not None:
                self.status.setText(f"Not saved: {problem}")
                return
            value = str(value).strip().rstrip("/")
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

    def _values(self) -> dict[str, object]:
        return {o.name: self.settings.get(o.name) for o in SCHEMA if o.name in self.editors}

    def _reset(self) -> bool:
        """Ask first (listing what changes); on yes, every option back to its default, with
        Undo reset offered. No: nothing changes."""
        now = self._values()
        changes = [
            f"  {o.name}: {now[o.name]!r} → {o.default!r}"
            for o in SCHEMA
            if o.name in now and now[o.name] != o.default
        ]
        if not changes:
            self.status.setText("Every setting already has its default value.")
            return False
        text = "These settings go back to their defaults:\n\n" + "\n".join(changes)
        text += "\n\nUndo reset puts them back."
        if not confirm(self, "Reset settings to defaults?", text, "Reset"):
            self.status.setText("Not reset: nothing was changed.")
            return False
        self._apply_values({o.name: o.default for o in SCHEMA if o.name in now})
        self._before_reset = now
        self.undo_reset_button.setEnabled(True)
        self.status.setText(
            f"Reset {len(changes)} setting(s) to defaults; Undo reset puts them back."
        )
        return True

    def _undo_reset(self) -> None:
        if self._before_reset is None:
            return
        self._apply_values(self._before_reset)
        self._before_reset = None
        self.undo_reset_button.setEnabled(False)
        self.status.setText("Settings restored to what they were before the reset.")

    def _apply_values(self, values: dict[str, object]) -> None:
        """Set each editor and save its value (check boxes save through their toggled slot)."""
        for name, value in values.items():
            editor = self.editors[name]
            if isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QDoubleSpinBox):
                editor.setValue(float(value))  # type: ignore[arg-type]
                self._commit(name, value)
            elif isinstance(editor, QLineEdit):
                editor.setText(str(value))
                self._commit(name, value)
