"""Settings → "Prometheus exporter": on/off (off by default), address, remote access, auth
file, and "Run as a user service…" (asked first through confirm.py, done off the GUI thread)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from velollm_desktop.core.exporter import service
from velollm_desktop.core.exporter.listen import ListenError, parse_listen
from velollm_desktop.core.settings import SCHEMA, Settings
from velollm_desktop.ui.confirm import confirm
from velollm_desktop.workers.task import TaskWorker, start_task

OPTIONS = ("exporter_enabled", "exporter_listen", "exporter_allow_remote", "exporter_auth_file")


def gui_text(message: object) -> str:
    """A core exporter message with the command line's fixes named as this group's fields."""
    return (
        str(message)
        .replace("--listen ", "the address ")
        .replace(
            "add --allow-remote",
            "tick \u201cAllow an exporter address other machines can reach\u201d",
        )
        .replace("--auth-file", "an auth file")
    )


class ExporterGroup(QGroupBox):
    """The group; `commit(name, value)` is the page's save (its status line, its signal)."""

    def __init__(
        self,
        settings: Settings,
        commit: Callable[[str, object], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Prometheus exporter", parent)
        self.settings = settings
        self._commit = commit
        form = QFormLayout(self)
        enabled = QCheckBox()
        enabled.setChecked(bool(settings.get("exporter_enabled")))
        enabled.toggled.connect(lambda v: self._commit("exporter_enabled", v))
        self.listen = QLineEdit(str(settings.get("exporter_listen")))
        self.listen.editingFinished.connect(lambda: self._commit_listen())
        self.remote = QCheckBox()
        self.remote.setChecked(bool(settings.get("exporter_allow_remote")))
        self.remote.toggled.connect(lambda v: self._commit_listen(allow_remote=v))
        auth = QLineEdit(str(settings.get("exporter_auth_file")))
        auth.setPlaceholderText("none")
        auth.editingFinished.connect(
            lambda: self._commit("exporter_auth_file", auth.text().strip())
        )
        self.editors: dict[str, QWidget] = dict(
            zip(OPTIONS, (enabled, self.listen, self.remote, auth), strict=True)
        )
        for name, editor in self.editors.items():
            opt = next(o for o in SCHEMA if o.name == name)
            editor.setToolTip(opt.description)
            form.addRow(QLabel(opt.description), editor)
        self.service_button = QPushButton()
        self.service_button.clicked.connect(lambda: self._service_clicked())
        self._show_service_state()
        form.addRow(self.service_button)
        self.status = QLabel("Off")
        self.status.setWordWrap(True)
        form.addRow(self.status)

    def _commit_listen(self, allow_remote: bool | None = None) -> None:
        """Save the address only when it can be served (loopback unless remote is allowed)."""
        allow = self.remote.isChecked() if allow_remote is None else allow_remote
        try:
            address = parse_listen(self.listen.text(), allow_remote=allow)
        except ListenError as exc:
            self.status.setText(f"Not saved: {gui_text(exc)}")
            if allow_remote is False:
                self._commit("exporter_allow_remote", False)
            return
        self._commit("exporter_allow_remote", allow)
        self._commit("exporter_listen", self.listen.text().strip())
        if address.warning():
            self.status.setText(gui_text(address.warning()))

    def _show_service_state(self) -> None:
        installed = service.ServiceInstaller().installed()
        self.service_button.setText(
            "Remove the user service…" if installed else "Run as a user service (systemd)…"
        )

    def _plan(
        self, installer: service.ServiceInstaller
    ) -> tuple[service.ServicePlan, str, str] | None:
        if installer.installed():
            return service.remove_plan(), "Stop and remove the service?", "Remove"
        try:
            args = service.service_args(
                str(self.settings.get("exporter_listen")),
                str(self.settings.get("ollama_url")),
                allow_remote=bool(self.settings.get("exporter_allow_remote")),
                auth_file=str(self.settings.get("exporter_auth_file")).strip() or None,
            )
        except ListenError as exc:
            self.status.setText(f"Not installed: {gui_text(exc)}")
            return None
        return (
            service.install_plan(args),
            "Install and start the exporter as a service?",
            "Install and start",
        )

    def _service_clicked(self) -> None:
        """Install (or remove) `velollm exporter` as a systemd user service, asked first."""
        installer = service.ServiceInstaller()
        planned = self._plan(installer)
        if planned is None:
            return
        plan, question, label = planned
        text = f"{question}\n\n{plan.describe()}\n\nIt runs at login, apart from this app."
        if not confirm(self, "Exporter service", text, label):
            self.status.setText("Nothing changed.")
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
        self.status.setText(text)
