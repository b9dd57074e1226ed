"""The Benchmark page's history: the list of stored runs, comparing checked runs, and
exporting / importing results (a base class of BenchmarkPage, which builds the rest)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from velollm_desktop.core.bench.model import BenchmarkResult
from velollm_desktop.core.bench.stats import compared_differences, comparison_warning
from velollm_desktop.core.bench.store import History, HistoryBusy, export_file, from_json
from velollm_desktop.core.fsutil import read_own_json
from velollm_desktop.ui.charts import BarChart

IMPORT_MAX_BYTES = 64 * 1024 * 1024
"""An exported result is < 1 MB; a larger file is not one."""


class BenchmarkHistoryBase(QWidget):
    """History and file actions; the page (subclass) provides what is declared here."""

    history: History
    result: BenchmarkResult | None
    status: QLabel
    chart: BarChart

    if TYPE_CHECKING:  # defined by BenchmarkPage

        def _chart(self, labelled: list[tuple[str, BenchmarkResult]], note: str = "") -> None: ...

        def _show_warning(self, text: str) -> None: ...

        def show_result(self, result: BenchmarkResult) -> None: ...

    def _build_history(self) -> QGridLayout:
        """The history list, Compare and the export/import buttons."""
        self.history_list = QListWidget()
        self.compare_button = QPushButton("Compare checked runs")
        self.compare_button.clicked.connect(lambda: self.compare_checked())
        export_row = QGridLayout()  # 2 × 2: the left pane stays narrow at 800×600
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
            export_row.addWidget(b, n // 2, n % 2)
        return export_row

    def reload_history(self) -> None:
        """Refresh the history list (newest first); while another program holds the history,
        the list stays as it was."""
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

    def compare_checked(self) -> None:
        """Chart the checked history entries side by side."""
        chosen = []
        for i in range(self.history_list.count()):
            item = self.history_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                entry_id = item.data(Qt.ItemDataRole.UserRole)
                r = self.history.load(entry_id)
                chosen.append((f"#{entry_id} {r.server.kind}:{r.model}", r))
        if len(chosen) < 2:
            self.status.setText("Check at least two runs in the history to compare them.")
            return
        results = [r for _, r in chosen]
        warning = comparison_warning(results)
        differ = compared_differences(results)
        self._chart(chosen, f"different {', '.join(differ)} per bar" if differ else "")
        self._show_warning(warning or "")
        self.status.setText(f"Comparing {len(chosen)} runs.")

    # -- files ----------------------------------------------------------------------------
    def _export(self, fmt: str) -> None:
        if self.result is None:
            self.status.setText("Run or pick a benchmark first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export", str(Path.home() / f"benchmark.{fmt}"), f"{fmt.upper()} (*.{fmt})"
        )
        if path:
            export_file(self.result, Path(path))
            self.status.setText(f"Wrote {path}")

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import", str(Path.home()), "JSON (*.json)")
        if not path:
            return
        try:
            # the one bounded reader: a FIFO, /dev/zero or a 100 000-deep file is one sentence
            data = read_own_json(Path(path), max_bytes=IMPORT_MAX_BYTES, max_depth=16)
            result = from_json(json.dumps(data))
        except (OSError, ValueError) as exc:
            self.status.setText(f"Could not import {path}: {exc}")
            return
        self.history.add(result)
        self.reload_history()
        self.show_result(result)

    def _export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save chart", str(Path.home() / "benchmark.png"), "PNG (*.png)"
        )
        if path:
            self.chart.export_png(Path(path))
            self.status.setText(f"Saved {path}")
