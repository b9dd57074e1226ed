"""The Optimize page: current vs recommended (with source and reason), a memory bar per model,
Apply (only where it takes effect, after a dialog that shows exactly what will change and
what a restart does), Undo (also asked), and Copy commands."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.flow import (
    ApplyKind,
    ApplyOutcome,
    Planned,
    UndoKind,
    UndoOutcome,
    apply_recommendation,
    preview_or_reason,
    undo_consent,
)
from velollm_desktop.core.optimize.flow import undo as undo_change
from velollm_desktop.core.optimize.per_model import per_model_plans
from velollm_desktop.core.optimize.service import dropin_path, list_processes, system_root
from velollm_desktop.core.optimize.session import OptimizeState, optimize_state
from velollm_desktop.core.optimize.table import Row, changes, rows, status_text
from velollm_desktop.core.optimize.writers import shell_with_permanent
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.confirm import confirm
from velollm_desktop.ui.optimize_widgets import MemoryBar, breakdown_text
from velollm_desktop.ui.per_model_panel import PerModelPanel
from velollm_desktop.workers.errors import fix_text
from velollm_desktop.workers.task import TaskWorker, start_task


class OptimizePage(QWidget):
    """Signals:
    applied(str): a one-line result after Apply or Undo (for a tray notification).
    """

    applied = Signal(str)

    def __init__(
        self, settings: Settings, hardware_provider, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.hardware_provider = hardware_provider
        self.state: OptimizeState | None = None
        self.system_root = system_root()
        self.applier = Applier(dropin=dropin_path(self.system_root))
        """Where systemd's files are looked for (a sandbox in tests)."""
        self.processes = list_processes
        """Lists Ollama's processes (a fake list in tests)."""
        self.worker: TaskWorker | None = None
        self.system_job: TaskWorker | None = None
        """The running apply or undo (a file write and a service restart)."""
        top = self._build_buttons()
        self._build_results()
        self._lay_out(top)

    def _build_buttons(self) -> QVBoxLayout:
        """Strategy, Recommend, Add model; Apply, Undo, Copy (two rows, fits 800 px)."""
        self.strategy = QComboBox()
        self.strategy.addItem("Model-aware fit (recommended)", "fit")
        self.strategy.addItem("Hardware tiers (VeloLLM 0.1 heuristic)", "heuristic")
        self.compute_button = QPushButton("Recommend")
        self.apply_button = QPushButton("Apply…")
        self.apply_button.setEnabled(False)
        self.undo_button = QPushButton("Undo last apply…")
        self.undo_button.setEnabled(self.applier.can_undo())
        self.copy_button = QPushButton("Copy commands")
        self.copy_button.setEnabled(False)
        self.add_model_button = QPushButton("Add model file…")
        self.add_model_button.setToolTip(
            "Plan for a model Ollama does not serve here: a .gguf file or a saved /api/show JSON"
        )
        self.model_files: list[Path] = []
        # Slots take no argument: `clicked` passes `checked`, which must never become a parameter.
        self.compute_button.clicked.connect(lambda: self.compute())
        self.apply_button.clicked.connect(lambda: self.apply())
        self.undo_button.clicked.connect(lambda: self.undo())
        self.copy_button.clicked.connect(lambda: self.copy_commands())
        self.add_model_button.clicked.connect(lambda: self.add_model_file())
        top = QVBoxLayout()  # two rows: what to plan for, then what to do with it (fits 800 px)
        for row in (
            (self.strategy, self.compute_button, self.add_model_button),
            (self.apply_button, self.undo_button, self.copy_button),
        ):
            line = QHBoxLayout()
            for w in row:
                line.addWidget(w)
            line.addStretch(1)
            top.addLayout(line)
        return top

    def _build_results(self) -> None:
        """Status, the settings table, per-model options and the memory bars."""
        self.status = QLabel(
            "Press Recommend: reads the hardware, Ollama's models and how Ollama runs here."
        )
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # server text is never HTML
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Setting", "Current (source)", "Recommended", "Why"])
        header = self.table.horizontalHeader()
        # the name and the recommendation are short: as wide as their text; Current and Why
        # share the rest and wrap, so nothing hides behind a sideways scrollbar at 800×600
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(lambda *_: self._size_current_column())
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self._sizing = False
        self.bars = QVBoxLayout()
        self.per_model = PerModelPanel(lambda: self.settings.get("ollama_url"))

    def _lay_out(self, top: QVBoxLayout) -> None:
        """Buttons, status, table, per-model panel, memory bars and breakdowns, top to bottom."""
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.per_model)
        layout.addWidget(
            QLabel(
                "Memory per model: weights (blue), KV cache (orange), compute (purple), free (green)"
            )
        )
        layout.addLayout(self.bars)
        self.breakdowns = QVBoxLayout()
        """Per model: bytes of weights / KV / compute and the method that computed them."""
        layout.addLayout(self.breakdowns)

    def compute(self, after: str = "", then: Callable[[OptimizeState], None] | None = None) -> bool:
        """Recommend in a worker thread; returns whether it started. `after` is kept in front
        of the status (after Apply/Undo); `then` runs with the result once the page shows it
        (connected before the worker starts, so it cannot miss a fast result)."""
        if self.worker is not None:
            return False
        hardware: HardwareSpec | None = self.hardware_provider()
        if hardware is None:
            self.status.setText("Hardware detection has not finished yet; try again in a second.")
            return False
        self.worker = TaskWorker(
            partial(
                optimize_state,
                hardware,
                self.settings.get("ollama_url"),
                self.strategy.currentData(),
                root=self.system_root,
                processes=self.processes,
                files=tuple(self.model_files),
            ),
            pass_control=False,
        )
        self.worker.result.connect(lambda state: self.show_state(state, after))
        if then is not None:
            self.worker.result.connect(then)
        self.worker.failed.connect(
            lambda m: self.status.setText(
                " ".join(x for x in (after, f"Could not recommend: {m}") if x)
            )
        )
        self.worker.finished.connect(self._on_finished)
        for b in (self.compute_button, self.apply_button, self.undo_button):
            b.setEnabled(False)
        self.status.setText((after + " " if after else "") + "Reading the configuration…")
        start_task(self, self.worker)
        return True

    def _on_finished(self) -> None:
        self.worker = None
        self.compute_button.setEnabled(True)
        self.undo_button.setEnabled(self.applier.can_undo())

    def show_state(self, state: OptimizeState, after: str = "") -> None:
        """Fill the table and the memory bars."""
        self.state = state
        rec = state.recommendation
        self._fill_table(rows(state.current, rec, state.hardware))
        for layout in (self.bars, self.breakdowns):
            while layout.count():
                w = layout.takeAt(0).widget()
                if w:
                    w.deleteLater()
        for fit in rec.fits:
            self.bars.addWidget(MemoryBar(fit))
            self.breakdowns.addWidget(QLabel(breakdown_text(fit)))
        self.status.setText(status_text(state, after, fix_text))
        runtime = state.runtime
        self._update_apply_enabled()
        self.apply_button.setToolTip(
            "" if runtime is None or runtime.can_apply else runtime.explanation
        )
        self.copy_button.setEnabled(bool(rec.env))
        self.per_model.show_plans(per_model_plans(rec))

    def _fill_table(self, table_rows: tuple[Row, ...]) -> None:
        """One row per variable that matters; the full source and reason in tooltips."""
        self.table.setRowCount(len(table_rows))
        for row, r in enumerate(table_rows):
            cells = (
                (r.name, r.name),
                (r.current, f"{r.current}\nFrom: {r.source}"),
                (r.recommended, r.recommended),
                (r.why, r.why),
            )
            for col, (text, tip) in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                self.table.setItem(row, col, item)
        self._size_current_column()

    def _size_current_column(self) -> None:
        """Current gets its text's width but at most 40 % of what Setting and Recommended
        leave; Why the rest. Rows then grow to their wrapped text."""
        t = self.table
        if self._sizing:
            return
        self._sizing = True
        try:
            free = t.viewport().width() - t.columnWidth(0) - t.columnWidth(2)
            wanted = max(t.sizeHintForColumn(1), t.horizontalHeader().sectionSizeHint(1))
            t.setColumnWidth(1, max(80, min(wanted, int(free * 0.4))))
            t.resizeRowsToContents()
            # "Why" stretches once the header has laid out again: wrap the rows to that width
            QTimer.singleShot(0, t, t.resizeRowsToContents)  # t as context: not after t is gone
        finally:
            self._sizing = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._size_current_column()

    def _changes(self) -> dict[str, str]:
        if self.state is None:
            return {}
        return changes(self.state.current, self.state.recommendation)

    def summary(self) -> str:
        """For the tray: what Apply would change; with nothing to apply, what the status says."""
        if not self.can_apply():
            return self.status.text()
        return ", ".join(f"{k}={v}" for k, v in self._changes().items())

    def preview(self) -> Planned | None:
        """The plan Apply would carry out and its preview (None when nothing may be applied:
        the status then says why) — `core.optimize.flow.preview_or_reason`."""
        if self.state is None:
            return None
        planned = preview_or_reason(self.state, self.applier)
        if isinstance(planned, str):
            self.status.setText("Nothing can be applied here. " + planned)
            return None
        return planned

    @property
    def busy(self) -> bool:
        """A recommendation, an apply or an undo is running."""
        return self.worker is not None or self.system_job is not None

    def _change_system(self, fn: Callable[[], ApplyOutcome | UndoOutcome], doing: str) -> None:
        """Run `fn` (apply or undo: a file write and a service restart, up to minutes) in a
        light job, never on the GUI thread; `_changed` gets its typed outcome."""
        self.apply_button.setEnabled(False)
        self.undo_button.setEnabled(False)
        self.status.setText(doing)
        job = TaskWorker(fn, pass_control=False, label="configuration change")
        job.result.connect(self._changed)
        job.failed.connect(lambda message: self._changed(ApplyOutcome(ApplyKind.FAILED, message)))
        job.finished.connect(lambda: setattr(self, "system_job", None))
        self.system_job = job
        start_task(self, job)

    def _ollama_url(self) -> str:
        return str(self.settings.get("ollama_url"))

    def apply(self) -> bool:
        """Show the plan; carry out exactly that plan (in a job) only if the user accepts."""
        planned = self.preview()
        if planned is None or self.system_job is not None:
            return False
        if not confirm(
            self, "Apply Ollama settings", planned.preview.text(), planned.preview.accept_label
        ):
            self.status.setText("Cancelled: nothing was changed.")
            return False
        url = self._ollama_url()
        self._change_system(
            lambda: apply_recommendation(self.applier, planned.plan, wait_url=url),
            "Applying: writing the file and restarting Ollama…",
        )
        return True

    def undo(self, force: bool = False) -> bool:
        """Ask, then restore (in a job) the configuration from before the last apply."""
        if self.system_job is not None:  # one change to the system at a time
            return False
        if not force:
            restart = " and restart Ollama" if self.applier.restarts_on_undo() else ""
            text = undo_consent(self.applier)
            if not confirm(self, "Undo the last apply", text, f"Undo{restart}"):
                self.status.setText("Cancelled: nothing was changed.")
                return False
        url = self._ollama_url()
        self._change_system(
            lambda: undo_change(self.applier, force=force, wait_url=url),
            "Undoing: restoring the file and restarting Ollama…",
        )
        return True

    def _changed(self, outcome: ApplyOutcome | UndoOutcome) -> None:
        """The GUI-thread end of an apply or undo job (Ollama answers again, or we said so)."""
        self.undo_button.setEnabled(self.applier.can_undo())
        text = outcome.text
        if outcome.kind is UndoKind.EDITED:
            answer = QMessageBox.question(
                self, "Discard your edits?", f"{text}.\n\nDiscard them and restore the file?"
            )
            if answer == QMessageBox.StandardButton.Yes:
                QTimer.singleShot(0, lambda: self.undo(force=True))  # once this job has ended
            else:
                self.status.setText(f"Not undone: {text}. Your edits are kept.")
                self._update_apply_enabled()
            return
        self.applied.emit(text)
        self.status.setText(text)
        failed = outcome.kind in (ApplyKind.FAILED, UndoKind.FAILED)
        if outcome.kind is ApplyKind.APPLIED:
            text += ". Undo restores the previous file"
        if self.state is not None and not failed:
            self.compute(after=text[:1].upper() + text[1:] + ".")
        else:
            self._update_apply_enabled()

    def can_apply(self) -> bool:
        """Whether Apply has a change to make here (the tray asks before offering it)."""
        runtime = self.state.runtime if self.state is not None else None
        env = self.state.recommendation.env if self.state is not None else {}
        return bool(env) and (runtime is None or runtime.can_apply) and bool(self._changes())

    def _update_apply_enabled(self) -> None:
        self.apply_button.setEnabled(self.can_apply())

    def wait_for_hardware(self) -> None:
        """Say that the recommendation follows once the hardware is read (the tray's request)."""
        self.status.setText("Reading the hardware first; the recommendation follows.")

    def add_model_file(self) -> None:
        """Pick a GGUF file or a saved /api/show JSON to plan for, then recommend again."""
        dialog = QFileDialog(self, "Model to plan for", str(Path.home()))
        dialog.setNameFilters(["Models (*.gguf *.json)", "All files (*)"])
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        if not dialog.exec() or not dialog.selectedFiles():
            return
        path = Path(dialog.selectedFiles()[0])
        if path not in self.model_files:
            self.model_files.append(path)
        self.compute(after=f"Planning also for {path.name}.")

    def copy_commands(self) -> None:
        """Put a shell script with the exports (and how to make them permanent) on the clipboard."""
        if self.state is None:
            return
        runtime = self.state.runtime
        planned = self.preview() if runtime is None or runtime.can_apply else None
        text = shell_with_permanent(
            self.state.recommendation.env, planned.preview.text() if planned else None
        )
        QGuiApplication.clipboard().setText(text)
        self.status.setText("Copied to the clipboard.")
