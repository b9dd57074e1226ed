"""The Benchmark page's history panel: the list of stored runs, comparing checked runs, and
exporting / importing results. A widget of its own, composed into the page: it knows the
history store and the chart it may save, never the page; it speaks through signals."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.bench.model import BenchmarkResult
from velollm_desktop.core.bench.store import History, HistoryBusy, export_file, from_json
from velollm_desktop.core.fsutil import read_own_json
from velollm_desktop.ui.charts import BarChart

IMPORT_MAX_BYTES = 64 * 1024 * 1024
"""An exported result is < 1 MB; a larger file is not one."""


class BenchmarkHistoryPanel(QWidget):
    """The history list, "Compare checked runs" and the file buttons.

    Signals:
        compare_requested(list): the checked runs, `[(label, BenchmarkResult), …]`, two or more.
        imported(BenchmarkResult): a result read from a file (added to the history) to show.
        message(str): a sentence for the page's status line.
    """

    compare_requested = Signal(list)
    imported = Signal(object)
    message = Signal(str)

    def __init__(self, history: History, chart: BarChart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.chart = chart
        """The chart "Save chart PNG…" writes."""
        self.current: BenchmarkResult | None = None
        """The result "Export JSON/CSV…" writes (`set_current`)."""
        self.history_list = QListWidget()
        self.compare_button = QPushButton("Compare checked runs")
        self.compare_button.clicked.connect(lambda: self.compare_checked())
        files = QGridLayout()  # 2 × 2: the left pane stays narrow at 800×600
        for n, (text, slot) in enumerate(
            (
                ("Export JSON…", partial(self._export, "json")),
                ("Export CSV…", partial(self._export, "csv")),
                ("Import JSON…", self._import),
                ("Save chart PNG…", self._export_png),
            )
        ):
            b = QPushButton(text)
            b.clicked.connect(lambda _checked=False, slot=slot: slot())
            files.addWidget(b, n // 2, n % 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("History (check two or more to compare)"))
        layout.addWidget(self.history_list, 1)
        layout.addWidget(self.compare_button)
        layout.addLayout(files)
        self.reload()

    def set_current(self, result: BenchmarkResult | None) -> None:
        """The result on screen (what Export writes)."""
        self.current = result

    def reload(self) -> None:
        """Refresh the list (newest first); while another program holds the history, the list
        stays as it was."""
        try:
            entries = self.history.entries()
        except HistoryBusy:
            return
        self.history_list.clear()
        for entry in entries:
            item = QListWidgetItem(entry.label)
            item.setData(Qt.ItemDataRole.UserRole, entry.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.history_list.addItem(item)

    def add(self, result: BenchmarkResult) -> int | None:
        """Store `result` and list it; returns its id (None when the history is busy: the
        message says so)."""
        try:
            entry_id = self.history.add(result)
        except HistoryBusy as exc:
            self.message.emit(f"Not added to the history: {exc}")
            return None
        self.reload()
        return entry_id

    def compare_checked(self) -> None:
        """Ask for the checked entries side by side (`compare_requested`)."""
        chosen = []
        for i in range(self.history_list.count()):
            item = self.history_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                entry_id = item.data(Qt.ItemDataRole.UserRole)
                r = self.history.load(entry_id)
                chosen.append((f"#{entry_id} {r.server.kind}:{r.model}", r))
        if len(chosen) < 2:
            self.message.emit("Check at least two runs in the history to compare them.")
            return
        self.compare_requested.emit(chosen)

    # -- files ----------------------------------------------------------------------------
    def _export(self, fmt: str) -> None:
        if self.current is None:
            self.message.emit("Run or pick a benchmark first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export", str(Path.home() / f"benchmark.{fmt}"), f"{fmt.upper()} (*.{fmt})"
        )
        if path:
            export_file(self.current, Path(path))
            self.message.emit(f"Wrote {path}")

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import", str(Path.home()), "JSON (*.json)")
        if not path:
            return
        try:
            # the one bounded reader: a FIFO, /dev/zero or a 100 000-deep file is one sentence
            data = read_own_json(Path(path), max_bytes=IMPORT_MAX_BYTES, max_depth=16)
            result = from_json(json.dumps(data))
        except (OSError, ValueError) as exc:
            self.message.emit(f"Could not import {path}: {exc}")
            return
        self.add(result)
        self.imported.emit(result)

    def _export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save chart", str(Path.home() / "benchmark.png"), "PNG (*.png)"
        )
        if path:
            self.chart.export_png(Path(path))
            self.message.emit(f"Saved {path}")
