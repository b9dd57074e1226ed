"""Settings page: every field comes from the declared schema in core.settings."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from velollm_desktop.core import autostart
from velollm_desktop.core.exporter import service
from velollm_desktop.core.exporter.listen import ListenError, parse_listen
from velollm_desktop.core.settings import SCHEMA, Settings
from velollm_desktop.ui.confirm import confirm
from velollm_desktop.workers.task import TaskWorker, start_task


def _gui_text(message: object) -> str:
    """A core exporter message with the command line's fixes named as this page's fields."""
    return (
        str(message)
        .replace("--listen ", "the address ")
        .replace(
            "add --allow-remote",
            "tick \u201cAllow an exporter address other machines can reach\u201d",
        )
        .replace("--auth-file", "an auth file")
    )


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
            if opt.name == "tray_hint_shown" or opt.name.startswith("exporter_"):
                continue  # the exporter's options are in their own group
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
        form.addRow(self._build_exporter_group())
        reset = QPushButton("Reset to defaults")
        reset.clicked.connect(lambda: self._reset())
        form.addRow(reset)
        self.status = QLabel(f"Stored in {settings.path}")
        form.addRow(self.status)

    def _build_exporter_group(self) -> QGroupBox:
        """The Prometheus exporter: on/off (off by default), address, remote access, auth file."""
        box = QGroupBox("Prometheus exporter")
        form = QFormLayout(box)
        enabled = QCheckBox()
        enabled.setChecked(bool(self.settings.get("exporter_enabled")))
        enabled.toggled.connect(lambda v: self._commit("exporter_enabled", v))
        listen = QLineEdit(str(self.settings.get("exporter_listen")))
        listen.editingFinished.connect(lambda: self._commit_listen())
        remote = QCheckBox()
        remote.setChecked(bool(self.settings.get("exporter_allow_remote")))
        remote.toggled.connect(lambda v: self._commit_listen(allow_remote=v))
        auth = QLineEdit(str(self.settings.get("exporter_auth_file")))
        auth.setPlaceholderText("none")
        auth.editingFinished.connect(
            lambda: self._commit("exporter_auth_file", auth.text().strip())
        )
        for name, editor in (
            ("exporter_enabled", enabled),
            ("exporter_listen", listen),
            ("exporter_allow_remote", remote),
            ("exporter_auth_file", auth),
        ):
            opt = next(o for o in SCHEMA if o.name == name)
            editor.setToolTip(opt.description)
            self.editors[name] = editor
            form.addRow(QLabel(opt.description), editor)
        self.service_button = QPushButton()
        self.service_button.clicked.connect(lambda: self._service_clicked())
        self._show_service_state()
        form.addRow(self.service_button)
        self.exporter_status = QLabel("Off")
        self.exporter_status.setWordWrap(True)
        form.addRow(self.exporter_status)
        return box

    def _show_service_state(self) -> None:
        installed = service.ServiceInstaller().installed()
        self.service_button.setText(
            "Remove the user service…" if installed else "Run as a user service (systemd)…"
        )

    def _service_clicked(self) -> None:
        """Install (or remove) `velollm exporter` as a systemd user service, asked first."""
        installer = service.ServiceInstaller()
        if installer.installed():
            plan, question, label = service.remove_plan(), "Stop and remove the service?", "Remove"
        else:
            try:
                args = service.service_args(
                    str(self.settings.get("exporter_listen")),
                    str(self.settings.get("ollama_url")),
                    allow_remote=bool(self.settings.get("exporter_allow_remote")),
                    auth_file=str(self.settings.get("exporter_auth_file")).strip() or None,
                )
            except ListenError as exc:
                self.exporter_status.setText(f"Not installed: {_gui_text(exc)}")
                return
            plan = service.install_plan(args)
            question, label = "Install and start the exporter as a service?", "Install and start"
        text = f"{question}\n\n{plan.describe()}\n\nIt runs at login, apart from this app."
        if not confirm(self, "Exporter service", text, label):
            self.exporter_status.setText("Nothing changed.")
            return
        action = installer.install if plan.content is not None else installer.remove
        self.service_button.setEnabled(False)
        job = TaskWorker(action, plan, pass_control=False, label="exporter-service")
        job.result.connect(
            lambda _r: self._service_done("Done: " + plan.describe().splitlines()[0])
        )
        job.failed.connect(lambda message: self._service_done(f"Failed: {message}"))
        start_task(self, job)

    def _service_done(self, text: str) -> None:
        self.service_button.setEnabled(True)
        self._show_service_state()
        self.exporter_status.setText(text)

    def _commit_listen(self, allow_remote: bool | None = None) -> None:
        """Save the address only when it can be served (loopback unless remote is allowed)."""
        listen = self.editors["exporter_listen"]
        remote = self.editors["exporter_allow_remote"]
        assert isinstance(listen, QLineEdit) and isinstance(remote, QCheckBox)
        allow = remote.isChecked() if allow_remote is None else allow_remote
        try:
            address = parse_listen(listen.text(), allow_remote=allow)
        except ListenError as exc:
            self.exporter_status.setText(f"Not saved: {_gui_text(exc)}")
            if allow_remote is not None and not allow_remote:
                self._commit("exporter_allow_remote", False)
            return
        self._commit("exporter_allow_remote", allow)
        self._commit("exporter_listen", listen.text().strip())
        if address.warning():
            self.exporter_status.setText(_gui_text(address.warning()))

    def show_exporter_status(self, text: str) -> None:
        """What the endpoint does now (from the app's ExporterControl)."""
        self.exporter_status.setText(text)

    def showEvent(self, event) -> None:
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
