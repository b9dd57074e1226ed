"""The Optimize page's per-model part: each model's options with the reason, "Create models…"
(after the user agrees: `<model>-velollm` per model, the user's models untouched) and Undo."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.optimize.per_model import (
    PerModelApplied,
    PerModelPlan,
    apply_per_model,
    describe,
    undo_per_model,
)
from velollm_desktop.ui.confirm import confirm
from velollm_desktop.workers.errors import say


class PerModelPanel(QWidget):
    """A table (model, derived model, options, why) and its Create / Undo buttons."""

    def __init__(self, url_provider: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.url_provider = url_provider
        self.plans: list[PerModelPlan] = []
        self.applied: list[PerModelApplied] = []
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Model", "Creates", "Options", "Why"])
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.create_button = QPushButton("Create per-model models…")
        self.create_button.setEnabled(False)
        self.create_button.clicked.connect(lambda: self._create())
        self.undo_button = QPushButton("Delete them")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(lambda: self._undo())
        self.status = QLabel("Per-model options (Modelfile PARAMETER): none yet.")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        for w in (self.create_button, self.undo_button):
            row.addWidget(w)
        row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.table)
        self._fit_height()

    def show_plans(self, plans: Sequence[PerModelPlan]) -> None:
        """One row per model with per-model options."""
        self.plans = list(plans)
        self.table.setRowCount(len(self.plans))
        for row, p in enumerate(self.plans):
            opts = " ".join(f"{k}={v}" for k, v in sorted(p.options.items()))
            for col, text in enumerate((p.model, p.name, opts, "; ".join(p.reasons))):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        self._fit_height()
        self.create_button.setEnabled(bool(self.plans))
        self.status.setText(
            f"{len(self.plans)} model(s) have per-model options, which Ollama reads only from a "
            "Modelfile: Create makes NAME-velollm models carrying them."
            if self.plans
            else "No per-model options are recommended."
        )

    def _fit_height(self) -> None:
        """As tall as its rows (at most four, then it scrolls); hidden with none, so the
        settings table above keeps the room at 800×600."""
        t = self.table
        t.setVisible(bool(self.plans))
        shown = sum(t.rowHeight(r) for r in range(min(4, t.rowCount())))
        t.setFixedHeight(t.horizontalHeader().height() + shown + 2 * t.frameWidth() + 2)

    def _create(self) -> None:
        if not self.plans:
            return
        if not confirm(self, "Create models in Ollama?", describe(self.plans), "Create models"):
            self.status.setText("Nothing was created.")
            return
        self.applied = apply_per_model(self.url_provider(), self.plans)
        made = [a.plan.name for a in self.applied if a.created]
        failed = [f"{a.plan.name}: {a.error}" for a in self.applied if not a.created]
        self.status.setText(
            (f"Created {', '.join(made)}. " if made else "Nothing was created. ") + " ".join(failed)
        )
        self.undo_button.setEnabled(bool(made))

    def _undo(self) -> None:
        names = ", ".join(a.plan.name for a in self.applied if a.created)
        text = f"Delete {names} from Ollama? Only the models this panel created go."
        if not confirm(self, "Delete the models?", text, "Delete"):
            self.status.setText("Nothing was deleted.")
            return
        try:
            gone = undo_per_model(self.url_provider(), self.applied)
        except ServerError as exc:
            self.status.setText(f"Undo failed: {say(exc)}")
            return
        self.applied = []
        self.undo_button.setEnabled(False)
        self.status.setText(f"Deleted {', '.join(gone)}." if gone else "Nothing to delete.")
