"""The Benchmark page's results panel: the table (one row per test, noisy tests flagged), the
warning line, and the chart with its metric picker. Composed into the page; knows nothing of it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.bench.metrics import METRICS, chart_series
from velollm_desktop.core.bench.model import BenchmarkResult, TestResult
from velollm_desktop.core.bench.stats import Stats, noise_warning
from velollm_desktop.core.energy import describe_energy, format_j_per_token
from velollm_desktop.ui.charts import BarChart

HEADERS = (  # two-line headers: the table fits its pane at 1100×760 and at 800×600
    "Test",
    "Runs",
    "Decode\n(tok/s)",
    "Server decode\n(tok/s)",
    "TTFT\n(ms)",
    "Prompt\n(tok/s)",
    "Energy\n(J/token)",
    "Note",
)


def pm(s: Stats | None, digits: int = 1) -> str:
    """ "mean ± stddev" or "n/a"."""
    return f"{s.mean:.{digits}f} ± {s.stddev:.{digits}f}" if s else "n/a"


class BenchmarkResults(QWidget):
    """Table, warning, metric picker and chart, top to bottom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(7, QHeaderView.ResizeMode.Stretch)  # elided, full in tooltip
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color:#8a5a00;")
        self.warning.setVisible(False)
        self.chart = BarChart("Decode speed (mean ± stddev)", "tokens/s")
        self.chart_metric = QComboBox()
        for key, (title, unit) in METRICS.items():
            self.chart_metric.addItem(f"{title} ({unit})", key)
        self.chart_metric.currentIndexChanged.connect(lambda _i: self.chart_results(*self._charted))
        self._charted: tuple[list[tuple[str, BenchmarkResult]], str] = ([], "")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.warning)
        layout.addWidget(self.chart_metric)
        layout.addWidget(self.chart, 1)

    def show_rows(self, tests: Sequence[TestResult]) -> None:
        """One row per test; the noisy ones flagged in the Note column and the warning."""
        self.table.setRowCount(len(tests))
        noisy = []
        for row, t in enumerate(tests):
            note = noise_warning(t.decode_tokens_per_s, t.runs_requested)
            cells = (
                t.name,
                str(len(t.runs)),
                pm(t.decode_tokens_per_s),
                pm(t.server_decode_tokens_per_s),
                pm(t.ttft_ms, 0),
                pm(t.prompt_tokens_per_s, 0),
                format_j_per_token(t.energy).removesuffix(" J/token"),
                f"⚠ {note}" if note else "ok",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(describe_energy(t.energy) if col == 6 else text)
                self.table.setItem(row, col, item)
            if note:
                noisy.append(f"{t.name}: {note}")
        self.show_warning("\n".join(noisy))

    def show_warning(self, text: str) -> None:
        """The warning line ("" hides it)."""
        self.warning.setText(f"⚠ {text}" if text else "")
        self.warning.setVisible(bool(text))

    def chart_results(self, labelled: list[tuple[str, BenchmarkResult]], note: str = "") -> None:
        """Chart results side by side in the picked metric; `note` says what differs."""
        self._charted = (labelled, note)
        metric = self.chart_metric.currentData() or "decode"
        title, unit = METRICS[metric]
        self.chart.setTitle(title)
        self.chart.setLabel("left", unit)
        tests, series = chart_series(labelled, metric)
        self.chart.set_data(tests, series)
        self.chart.setLabel("bottom", f"test — {note}" if note else "test")
