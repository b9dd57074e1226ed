"""The Tune page: objective and budget, Start/Cancel, the candidates as they are measured,
Apply winner, then a before/after chart with error bars from a fresh measurement."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.llamacpp import ollama_store
from velollm_desktop.core.tune.llamacpp import OBJECTIVES, TuneResult, apply_winner, remeasure, tune
from velollm_desktop.ui.charts import BarChart
from velollm_desktop.ui.job_controls import JobControls


class TunePage(QWidget):
    """Tunes a llama-server that the app starts itself (one server per candidate)."""

    def __init__(self, hardware_provider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hardware_provider = hardware_provider
        self.result: TuneResult | None = None
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItems([f"ollama:{n}" for n in ollama_store.list_models()])
        browse = QPushButton("Add .gguf…")
        browse.clicked.connect(self._browse)
        self.objective = QComboBox()
        self.objective.addItems(OBJECTIVES)
        self.concurrency = QSpinBox()
        self.concurrency.setRange(1, 64)
        self.concurrency.setValue(4)
        self.budget = QSpinBox()
        self.budget.setRange(10, 3600)
        self.budget.setValue(180)
        self.budget.setSuffix(" s")
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(browse)
        form.addRow("Model (llama-server)", row)
        form.addRow("Objective", self.objective)
        form.addRow("Concurrent clients (throughput)", self.concurrency)
        form.addRow("Time budget", self.budget)
        self.jobs = JobControls(
            self,
            "Start",
            "Each candidate runs its own llama-server; nothing changes until you Apply.",
        )
        self.start_button, self.cancel_button = self.jobs.run_button, self.jobs.cancel_button
        self.progress, self.status = self.jobs.progress, self.jobs.status
        self.start_button.clicked.connect(self.start)
        self.apply_button = QPushButton("Apply winner")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        buttons = self.jobs.row(self.apply_button)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(
            ["Candidate", "tokens/s (mean ± sd)", "p95 latency (ms)", "Note"]
        )
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.chart = BarChart("Before / after (mean ± stddev)", "tokens/s")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.chart, 1)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "GGUF model", str(Path.home()), "GGUF (*.gguf)")
        if path:
            self.model.addItem(path)
            self.model.setCurrentText(path)

    def model_path(self) -> Path:
        spec = self.model.currentText().strip()
        return ollama_store.resolve(spec) if spec.startswith("ollama:") else Path(spec).expanduser()

    @property
    def worker(self):
        """The running job's worker, or None."""
        return self.jobs.worker

    def _run(self, fn, on_result) -> None:
        if self.jobs.run(fn, on_result, failed_prefix="Stopped", on_done=self._on_done):
            self.apply_button.setEnabled(False)
            self.jobs.worker.progress.connect(self._on_progress)

    def start(self) -> None:
        """Tune in a worker thread."""
        if self.jobs.busy:
            return
        hardware = self.hardware_provider()
        if hardware is None:
            self.status.setText("Hardware detection has not finished yet; try again in a second.")
            return
        try:
            model = self.model_path()
        except LookupError as exc:
            self.status.setText(str(exc))
            return
        if not model.exists():
            self.status.setText(f"Model file not found: {model}")
            return
        self.table.setRowCount(0)
        self._run(
            partial(
                tune,
                model,
                hardware,
                objective=self.objective.currentText(),
                concurrency=self.concurrency.value(),
                budget_s=float(self.budget.value()),
            ),
            self.show_result,
        )

    def cancel(self) -> None:
        self.jobs.cancel()

    def join(self, timeout_s: float) -> bool:
        return self.jobs.join(timeout_s)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        if " tok/s" in text and ":" in text:  # a candidate finished: show it now
            name, _, score = text.rpartition(": ")
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(score))

    def _on_done(self) -> None:
        self.apply_button.setEnabled(self.result is not None and self.result.significant)

    def show_result(self, result: TuneResult) -> None:
        """The full table, with the winner marked."""
        self.result = result
        self.table.setRowCount(len(result.candidates))
        for row, m in enumerate(result.candidates):
            score = f"{m.score.mean:.1f} ± {m.score.stddev:.1f}" if m.score else "pruned"
            note = "winner" if m is result.winner else (m.pruned or "")
            for col, text in enumerate(
                (
                    m.candidate.name,
                    score,
                    f"{m.latency_p95_ms:.0f}" if m.latency_p95_ms else "n/a",
                    note,
                )
            ):
                self.table.setItem(row, col, QTableWidgetItem(text))
        verdict = (
            f"{result.winner.candidate.name}: {result.gain:.2f}× the baseline (intervals do not overlap)."
            if result.significant
            else "No candidate is clearly better than the baseline: keep it."
        )
        self.status.setText(verdict + " " + " ".join(result.notes))

    def apply(self) -> None:
        """Save the winner as the llama-server profile, then re-measure before vs after."""
        if self.result is None or self.jobs.busy:
            return
        model = self.model_path()
        path = apply_winner(self.result, model)
        self.status.setText(f"Saved {path}; re-measuring before and after…")
        self._run(partial(remeasure, self.result, model), self.show_before_after)

    def show_before_after(self, pair) -> None:
        before, after = pair
        self.chart.set_data(
            ["before", "after"],
            [
                (
                    self.result.objective if self.result else "tokens/s",
                    [
                        before.score.mean if before.score else None,
                        after.score.mean if after.score else None,
                    ],
                    [
                        before.score.stddev if before.score else None,
                        after.score.stddev if after.score else None,
                    ],
                )
            ],
        )
        if before.score and after.score:
            self.status.setText(
                f"Before {before.score.mean:.1f} ± {before.score.stddev:.1f}, after "
                f"{after.score.mean:.1f} ± {after.score.stddev:.1f} tokens/s "
                f"({after.score.mean / before.score.mean:.2f}×)."
            )
