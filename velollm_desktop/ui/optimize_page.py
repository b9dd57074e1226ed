"""The Optimize page: current vs recommended (with source and reason), a memory bar per model,
Apply (after showing exactly what will change), Undo, and Copy commands."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter
from PySide6.QtWidgets import (
    QComboBox,
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
from velollm_desktop.core.optimize.per_model import per_model_plans
from velollm_desktop.core.optimize.recommend import ModelFit
from velollm_desktop.core.optimize.session import OptimizeState, optimize_state
from velollm_desktop.core.optimize.writers import render_shell
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.per_model_panel import PerModelPanel
from velollm_desktop.workers.task import TaskWorker, start_task

GIB = 1024**3


class MemoryBar(QWidget):
    """Weights | KV cache | compute | free, against the memory budget of one model."""

    COLOURS = (QColor("#42a5f5"), QColor("#ffa726"), QColor("#ab47bc"))

    def __init__(self, fit: ModelFit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fit = fit
        self.setMinimumHeight(22)
        self.setToolTip(
            f"{fit.name}: weights {fit.weights_bytes / GIB:.2f} GiB, KV cache {fit.kv_cache_bytes / GIB:.2f} "
            f"GiB, compute {fit.compute_bytes / GIB:.2f} GiB, of {max(fit.budget_bytes, 0) / GIB:.1f} GiB"
        )

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0, 2, -1, -2)
        p.fillRect(
            r, QColor("#2e7d32") if self.fit.fits_on_gpu or self.fit.num_ctx else QColor("#8e2424")
        )
        total = max(self.fit.budget_bytes, self.fit.vram_bytes, 1)
        x = r.left()
        for part, colour in zip(
            (self.fit.weights_bytes, self.fit.kv_cache_bytes, self.fit.compute_bytes),
            self.COLOURS,
            strict=True,
        ):
            w = r.width() * part / total
            p.fillRect(QRectF(x, r.top(), w, r.height()), colour)
            x += w
        p.setPen(QColor("white"))
        p.drawText(
            r.adjusted(6, 0, -6, 0),
            Qt.AlignmentFlag.AlignVCenter,
            f"{self.fit.name}  {self.fit.vram_bytes / GIB:.1f} / {max(self.fit.budget_bytes, 0) / GIB:.1f} GiB"
            f"  ctx {self.fit.num_ctx or 'n/a'}",
        )
        p.end()


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
        self.applier = Applier()
        self.worker: TaskWorker | None = None
        self.strategy = QComboBox()
        self.strategy.addItem("Model-aware fit (recommended)", "fit")
        self.strategy.addItem("Hardware tiers (VeloLLM 0.1 heuristic)", "heuristic")
        self.compute_button = QPushButton("Recommend")
        self.compute_button.clicked.connect(self.compute)
        self.apply_button = QPushButton("Apply…")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.undo_button = QPushButton("Undo last apply")
        self.undo_button.setEnabled(self.applier.can_undo())
        self.undo_button.clicked.connect(self.undo)
        self.copy_button = QPushButton("Copy commands")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_commands)
        top = QHBoxLayout()
        for w in (
            self.strategy,
            self.compute_button,
            self.apply_button,
            self.undo_button,
            self.copy_button,
        ):
            top.addWidget(w)
        top.addStretch(1)
        self.status = QLabel(
            "Press Recommend: reads the hardware, Ollama's models and where its settings live."
        )
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Setting", "Current (source)", "Recommended", "Why"])
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.bars = QVBoxLayout()
        self.per_model = PerModelPanel(lambda: self.settings.get("ollama_url"))
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

    def compute(self) -> None:
        """Recommend in a worker thread."""
        if self.worker is not None:
            return
        hardware: HardwareSpec | None = self.hardware_provider()
        if hardware is None:
            self.status.setText("Hardware detection has not finished yet; try again in a second.")
            return
        self.worker = TaskWorker(
            optimize_state,
            hardware,
            self.settings.get("ollama_url"),
            self.strategy.currentData(),
            pass_control=False,
        )
        self.worker.result.connect(self.show_state)
        self.worker.failed.connect(lambda m: self.status.setText(f"Could not recommend: {m}"))
        self.worker.finished.connect(self._on_finished)
        self.compute_button.setEnabled(False)
        self.status.setText("Reading the configuration and the models…")
        start_task(self, self.worker)

    def _on_finished(self) -> None:
        self.worker = None
        self.compute_button.setEnabled(True)

    def show_state(self, state: OptimizeState) -> None:
        """Fill the table and the memory bars."""
        self.state = state
        rec, cur = state.recommendation, state.current
        reasons = {r.setting: r.why for r in rec.reasons}
        names = sorted(set(rec.env) | set(cur.values))
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            c = cur.values.get(name)
            cells = (
                name,
                f"{c.parsed.raw} ({c.source})" if c else "(default)",
                rec.env.get(name, "—"),
                reasons.get(name, c.parsed.warning if c and c.parsed.warning else ""),
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        while self.bars.count():
            w = self.bars.takeAt(0).widget()
            if w:
                w.deleteLater()
        for fit in rec.fits:
            self.bars.addWidget(MemoryBar(fit))
        messages = (
            [f"Budget: {rec.budget}."] + list(rec.warnings) + list(state.notes) + list(cur.notes)
        )
        self.status.setText(" ".join(messages))
        self.apply_button.setEnabled(bool(rec.env))
        self.copy_button.setEnabled(bool(rec.env))
        self.per_model.show_plans(per_model_plans(rec))

    def summary(self) -> str:
        """One line for the tray: what would change."""
        if self.state is None:
            return "no recommendation yet"
        cur = self.state.current
        changes = [
            f"{k}={v}"
            for k, v in self.state.recommendation.env.items()
            if not cur.values.get(k) or cur.values[k].parsed.raw != v
        ]
        return (
            ", ".join(changes) if changes else "Ollama already runs with the recommended settings"
        )

    def apply(self, confirm: bool = True) -> bool:
        """Show the plan, then write it; returns whether it was applied."""
        if self.state is None:
            return False
        try:
            plan = self.applier.plan(self.state.recommendation.env)
        except PermissionError as exc:
            self.status.setText(str(exc))
            return False
        if confirm:
            answer = QMessageBox.question(
                self, "Apply Ollama settings", plan.describe() + "\n\n" + plan.content
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        try:
            backup = self.applier.apply(plan)
        except (RuntimeError, OSError) as exc:
            self.status.setText(f"Not applied: {exc}")
            self.applied.emit(f"Not applied: {exc}")
            return False
        text = f"Applied to {plan.target}" + (f" (backup {backup})" if backup else "")
        self.status.setText(text + ". Undo restores the previous file.")
        self.undo_button.setEnabled(True)
        self.applied.emit(text)
        return True

    def undo(self) -> None:
        """Restore the configuration from before the last apply."""
        try:
            text = self.applier.undo()
        except (RuntimeError, OSError) as exc:
            text = f"Undo failed: {exc}"
        self.status.setText(text)
        self.undo_button.setEnabled(self.applier.can_undo())
        self.applied.emit(text)

    def copy_commands(self) -> None:
        """Put a shell script with the exports and the apply commands on the clipboard."""
        if self.state is None:
            return
        plan = self.applier.plan(self.state.recommendation.env)
        text = (
            render_shell(self.state.recommendation.env)
            + "\n# To make it permanent:\n"
            + "\n".join(f"# {line}" for line in plan.describe().splitlines())
        )
        QGuiApplication.clipboard().setText(text)
        self.status.setText("Copied to the clipboard.")
