"""The Tune page's results panel: the candidates table (rows as candidates finish, then the
full result) and the chart (measured candidates, then before / after)."""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from velollm_desktop.core.tune.common import Measured, TuneResult
from velollm_desktop.ui.charts import BarChart


def row_note(result: TuneResult, m: Measured) -> str:
    """The Note cell: winner, baseline (kept), why it was not measured, load time."""
    if m is result.winner and result.significant:
        note = "winner"
    elif m is result.baseline:
        note = "baseline" if result.significant else "baseline (kept)"
    else:
        note = m.pruned or ""
    if m.load_ms:
        note = f"{note}; load {m.load_ms:.0f} ms".lstrip("; ")
    return note


class TuneResults(QWidget):
    """Composed into the Tune page; knows nothing of the page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(
            ["Candidate", "tokens/s (mean ± sd)", "p95 latency (ms)", "Note"]
        )
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.chart = BarChart("Before / after (mean ± stddev)", "tokens/s")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.chart, 1)

    def add_measured(self, m: Measured, unit: str) -> None:
        """A candidate that just finished, as a new row."""
        score = f"{m.score.mean:.2f} ± {m.score.stddev:.2f} {unit}" if m.score else "n/a"
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(m.candidate.name))
        self.table.setItem(row, 1, QTableWidgetItem(score))

    def show_result(self, result: TuneResult) -> None:
        """The full table (the winner marked, the baseline named as kept when nothing beat
        it) and the measured candidates in the chart."""
        self.table.setRowCount(len(result.candidates))
        for row, m in enumerate(result.candidates):
            score = f"{m.score.mean:.1f} ± {m.score.stddev:.1f}" if m.score else "n/a"
            for col, text in enumerate(
                (
                    m.candidate.name,
                    score,
                    f"{m.latency_p95_ms:.0f}" if m.latency_p95_ms else "n/a",
                    row_note(result, m),
                )
            ):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        measured = [m for m in result.candidates if m.score is not None]
        self.chart.set_data(
            [m.candidate.name for m in measured],
            [
                (
                    f"{result.objective} tokens/s",
                    [m.score.mean for m in measured if m.score],
                    [m.score.stddev for m in measured if m.score],
                )
            ],
        )

    def show_before_after(self, pair: tuple[Measured, Measured], objective: str | None) -> str:
        """The re-measurement in the chart; returns its sentence ("" when one side has no
        score)."""
        before, after = pair
        scores = [m.score for m in (before, after)]
        means = [sc.mean if sc else None for sc in scores]
        self.chart.set_data(
            ["before", "after"],
            [(objective or "tokens/s", means, [sc.stddev if sc else None for sc in scores])],
        )
        if not (before.score and after.score):
            return ""
        return (
            f"Before {before.score.mean:.1f} ± {before.score.stddev:.1f}, after "
            f"{after.score.mean:.1f} ± {after.score.stddev:.1f} tokens/s "
            f"({after.score.mean / before.score.mean:.2f}×)."
        )
