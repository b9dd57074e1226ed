"""The Doctor page: why a model is slow (spill, VRAM held, settings), with fixes that go
through the existing consent + undo paths: unload (confirm), a per-model derived model
(confirm, undone from the Optimize page's per-model panel), server settings (the Optimize page)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.bench.store import History
from velollm_desktop.core.doctor import DoctorReport, Fix, FixKind, diagnose
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.derived import derived_name
from velollm_desktop.core.optimize.per_model import (
    PER_MODEL_SUFFIX,
    PerModelApplied,
    PerModelPlan,
    apply_per_model,
    describe,
    undo_per_model,
)
from velollm_desktop.ui.confirm import confirm
from velollm_desktop.workers.errors import say
from velollm_desktop.workers.task import TaskWorker, start_task


class DoctorPage(QWidget):
    """Check → a table of findings; select one → its fixes; Apply fix… asks first."""

    open_optimize = Signal()
    """A server-settings fix: the Optimize page applies it (preview, backup, undo)."""

    def __init__(
        self,
        url_provider: Callable[[], str],
        hardware: Callable[[], HardwareSpec | None],
        history: History | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.url_provider = url_provider
        self.hardware = hardware
        self.history = history
        self.report: DoctorReport | None = None
        self.worker: TaskWorker | None = None
        self.llama_servers = QLineEdit()
        self.llama_servers.setPlaceholderText(
            "llama-servers to check too, e.g. http://127.0.0.1:8080 (comma-separated; optional)"
        )
        self.check_button = QPushButton("Check now")
        self.check_button.clicked.connect(lambda: self.check())
        self.status = QLabel("Press Check now: the loaded models are compared with the memory fit.")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Finding", "Model", "Cause"])
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.itemSelectionChanged.connect(lambda: self._show_fixes())
        self.fixes = QListWidget()
        self.apply_button = QPushButton("Apply fix…")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(lambda: self.apply_selected())
        self.fixes.currentRowChanged.connect(lambda _row: self._fix_changed())
        self.created: list[PerModelApplied] = []
        self.undo_button = QPushButton("Delete created models…")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(lambda: self.undo_created())
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.rerun = QLabel("")
        self.rerun.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.llama_servers, 1)
        top.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 2)
        layout.addWidget(QLabel("Fixes for the selected finding:"))
        layout.addWidget(self.fixes, 1)
        row = QHBoxLayout()
        row.addWidget(self.apply_button)
        row.addWidget(self.undo_button)
        row.addWidget(self.result, 1)
        layout.addLayout(row)
        layout.addWidget(self.rerun)

    # -- checking --------------------------------------------------------------------------
    def check(self) -> None:
        if self.worker is not None:
            return
        self.check_button.setEnabled(False)
        self.status.setText("Checking…")
        url, hw = self.url_provider(), self.hardware()
        servers = [u.strip() for u in self.llama_servers.text().split(",") if u.strip()]
        self.worker = TaskWorker(
            lambda: diagnose(url, servers, hardware=hw, history=self.history),
            pass_control=False,
            label="doctor",
        )
        self.worker.result.connect(self.show_report)
        self.worker.failed.connect(lambda msg: self.status.setText(f"The check failed: {msg}"))
        self.worker.finished.connect(self._done)
        start_task(self, self.worker)

    def _done(self) -> None:
        self.worker = None
        self.check_button.setEnabled(True)

    def show_report(self, report: DoctorReport) -> None:
        self.report = report
        self.table.setRowCount(len(report.findings))
        for row, f in enumerate(report.findings):
            tag = "Problem" if f.problem else "Advice"
            for col, text in enumerate(
                (f"{tag}: {f.kind.value.replace('_', ' ')}", f.model, f.cause)
            ):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        parts = list(report.checked) + list(report.notes)
        head = (
            f"{len(report.problems)} problem(s), {len(report.findings) - len(report.problems)} "
            "advice."
            if report.findings
            else "No problem found."
        )
        self.status.setText(" ".join([head, *parts]))
        self.rerun.setText("\n".join(r.text + " (Benchmark page)" for r in report.rerun))
        self.fixes.clear()
        self.apply_button.setEnabled(False)

    # -- fixes -----------------------------------------------------------------------------
    def _selected_fixes(self) -> tuple[Fix, ...]:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if not self.report or len(rows) != 1:
            return ()
        return self.report.findings[rows.pop()].fixes

    def _show_fixes(self) -> None:
        self.fixes.clear()
        for fix in self._selected_fixes():
            self.fixes.addItem(f"{fix.kind.value.replace('_', ' ')}: {fix.text}")
        if self.fixes.count():
            self.fixes.setCurrentRow(0)
        self._fix_changed()

    def _fix_changed(self) -> None:
        fixes, row = self._selected_fixes(), self.fixes.currentRow()
        fix = fixes[row] if 0 <= row < len(fixes) else None
        self.apply_button.setEnabled(fix is not None and fix.kind is not FixKind.RESTART_SERVER)

    def apply_selected(self) -> None:
        fixes, row = self._selected_fixes(), self.fixes.currentRow()
        if not 0 <= row < len(fixes):
            return
        fix = fixes[row]
        if fix.kind is FixKind.UNLOAD:
            self._unload(fix)
        elif fix.kind is FixKind.DERIVED_MODEL:
            self._derived(fix)
        elif fix.kind is FixKind.SERVER_SETTINGS:
            self.result.setText(
                "Server settings are applied on the Optimize page (preview, backup, undo)."
            )
            self.open_optimize.emit()

    def _unload(self, fix: Fix) -> None:
        text = (
            f"Unload {fix.model} from Ollama now? It stays installed; the next request loads "
            "it again."
        )
        if not confirm(self, "Unload the model?", text, "Unload"):
            self.result.setText("Nothing was changed.")
            return
        try:
            with OllamaClient(self.url_provider()) as client:
                client.unload(fix.model)
        except ServerError as exc:
            self.result.setText(f"Could not unload {fix.model}: {say(exc)}")
            return
        self.result.setText(f"Unloaded {fix.model}. Check again to see the new placement.")

    def _derived(self, fix: Fix) -> None:
        plan = PerModelPlan(
            fix.model, derived_name(fix.model, PER_MODEL_SUFFIX), dict(fix.options), (fix.text,)
        )
        if not confirm(self, "Create models in Ollama?", describe([plan]), "Create models"):
            self.result.setText("Nothing was created.")
            return
        [applied] = apply_per_model(self.url_provider(), [plan])
        if applied.created:
            self.created.append(applied)
            self.undo_button.setEnabled(True)
        self.result.setText(
            f"Created {plan.name}: use it instead of {plan.model} (Delete created models undoes it)."
            if applied.created
            else f"Nothing was created: {applied.error}"
        )

    def undo_created(self) -> None:
        names = ", ".join(a.plan.name for a in self.created)
        if not confirm(
            self,
            "Delete the models?",
            f"Delete {names} from Ollama? Only the models the Doctor created go.",
            "Delete",
        ):
            self.result.setText("Nothing was deleted.")
            return
        try:
            gone = undo_per_model(self.url_provider(), self.created)
        except ServerError as exc:
            self.result.setText(f"Undo failed: {say(exc)}")
            return
        self.created = []
        self.undo_button.setEnabled(False)
        self.result.setText(f"Deleted {', '.join(gone)}." if gone else "Nothing to delete.")
