"""Bar charts with error bars (pyqtgraph), and PNG export."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter

SERIES_COLOURS = (
    "#42a5f5",
    "#66bb6a",
    "#ffa726",
    "#ab47bc",
    "#ef5350",
    "#26c6da",
    "#d4e157",
    "#8d6e63",
)
MIN_HEIGHT = 220
"""Logical pixels: a bar chart is never squeezed below this (legend and bars stay apart)."""


class BarChart(pg.PlotWidget):
    """Grouped bars: one group per category, one bar per series, each with ±error."""

    def __init__(self, title: str, y_label: str, parent=None) -> None:
        super().__init__(parent=parent, title=title)
        self.setLabel("left", y_label)
        self.showGrid(y=True, alpha=0.2)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(MIN_HEIGHT)  # below it the page scrolls; the legend keeps its room
        self.legend = self.addLegend(offset=(10, 10))
        # categories are names, not numbers: no "(x0.001)" SI prefix when there is one bar
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.bars: list[pg.BarGraphItem] = []
        self.empty_text = "No results yet"
        self._show_empty()

    def _show_empty(self, text: str | None = None) -> None:
        """Before any data (or with nothing to draw): one line of text, no dummy 0–1 axes."""
        self.clear()
        self.legend.clear()
        self.bars = []
        if text is not None:
            self.empty_text = text
        for side in ("left", "bottom"):
            self.getPlotItem().hideAxis(side)
        self.showGrid(y=False)
        self._empty = pg.TextItem(self.empty_text, color="#aaaaaa", anchor=(0.5, 0.5))
        self.addItem(self._empty)
        self._empty.setPos(0.5, 0.5)
        self.setXRange(0, 1, padding=0)
        self.setYRange(0, 1, padding=0)

    def set_data(
        self,
        categories: Sequence[str],
        series: Sequence[tuple[str, Sequence[float | None], Sequence[float | None]]],
    ) -> None:
        """`series` = [(name, means per category, errors per category)]; `None` draws no bar.
        With no value at all, the empty text stays (never an empty plot with axes)."""
        if not any(m is not None for _, means, _ in series for m in means):
            self._show_empty()
            return
        self.clear()
        for side in ("left", "bottom"):
            self.getPlotItem().showAxis(side)
        self.showGrid(y=True, alpha=0.2)
        self.legend.clear()
        self.bars = []
        n = max(1, len(series))
        width = 0.8 / n
        for s, (name, means, errs) in enumerate(series):
            xs, hs, es = [], [], []
            for c, (m, e) in enumerate(zip(means, errs, strict=False)):
                if m is None:
                    continue
                xs.append(c - 0.4 + width * (s + 0.5))
                hs.append(m)
                es.append(e or 0.0)
            colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
            bar = pg.BarGraphItem(x=xs, height=hs, width=width * 0.9, brush=colour)
            self.addItem(bar)
            self.bars.append(bar)
            if xs:
                self.addItem(
                    pg.ErrorBarItem(
                        x=np.array(xs),
                        y=np.array(hs),
                        height=2 * np.array(es),
                        beam=width * 0.3,
                        pen=pg.mkPen("#eeeeee", width=1.5),
                    )
                )
            if len(series) > 1:  # one series: the title says what it is
                self.legend.addItem(bar, name)
        tops = [
            m + (e or 0.0)
            for _, means, errs in series
            for m, e in zip(means, errs, strict=False)
            if m is not None
        ]
        # headroom above the tallest bar for the legend (one line per series)
        room = 1.1 if n == 1 else 1.15 + 0.08 * n
        self.setYRange(0, (max(tops) if tops else 1.0) * room, padding=0)
        axis = self.getAxis("bottom")
        # "short_completion" → "short\ncompletion": names stay readable side by side when narrow
        labels = [str(c).replace("_", "\n", 1) for c in categories]
        axis.setTicks([list(enumerate(labels))])
        axis.setHeight(None if all("\n" not in t for t in labels) else 58)
        self.setXRange(-0.6, len(categories) - 0.4, padding=0)

    def export_png(self, path: Path) -> None:
        """Save the chart as PNG (pyqtgraph's SVG export is broken: pyqtgraph#3485)."""
        exporter = ImageExporter(self.plotItem)
        exporter.parameters()["width"] = max(800, int(self.width()))
        exporter.export(str(path))
