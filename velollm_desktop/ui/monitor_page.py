"""The dashboard's Monitor page: hardware summary, rolling plots, and Ollama's loaded models."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.hardware.report import render_text
from velollm_desktop.core.monitor.history import SampleHistory
from velollm_desktop.core.monitor.sampler import SystemSample
from velollm_desktop.core.ollama.models import LoadedModel

GIB = 1024**3
WINDOWS_S = {"Last 60 s": 60.0, "Last 10 min": 600.0}
GPU_PENS = ("#4caf50", "#ff7043", "#29b6f6", "#ab47bc", "#ffca28", "#8d6e63", "#26a69a", "#ec407a")
GPU_PLOTS = (  # title, unit, field
    ("GPU load", "%", lambda g: g.utilization_pct),
    ("GPU memory", "MiB", lambda g: g.vram_used_mib),
    ("GPU temperature", "°C", lambda g: g.temperature_c),
    ("GPU power", "W", lambda g: g.power_w),
)
REDRAW_MS = 500
"""Plots redraw at most this often (ms), however fast samples arrive."""


class MonitorPage(QWidget):
    """Live plots redrawn on a coalescing timer, only while visible."""

    def __init__(self, history: SampleHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self._dirty = False
        self._window_s = 60.0
        pg.setConfigOptions(antialias=False, background="#1e1e1e", foreground="#dddddd")

        top = QHBoxLayout()
        self.hardware_label = QLabel("Detecting hardware…")
        self.hardware_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hardware_label.setStyleSheet("font-family: monospace;")
        self.hardware_label.setWordWrap(True)
        top.addWidget(self.hardware_label, 1)
        self.window_combo = QComboBox()
        self.window_combo.addItems(list(WINDOWS_S))
        self.window_combo.currentTextChanged.connect(self._on_window_changed)
        top.addWidget(self.window_combo, 0, Qt.AlignmentFlag.AlignTop)

        grid = QGridLayout()
        self.plots: dict[str, pg.PlotWidget] = {}
        self._gpu_curves: dict[str, list[pg.PlotDataItem]] = {}
        titles = [(t, u) for t, u, _ in GPU_PLOTS] + [("CPU", "%"), ("RAM", "MiB")]
        for n, (title, unit) in enumerate(titles):
            w = pg.PlotWidget(title=f"{title} ({unit})")
            w.setMinimumHeight(130)
            w.showGrid(x=True, y=True, alpha=0.2)
            w.setLabel("bottom", "s")
            w.setMouseEnabled(x=False, y=False)
            w.hideButtons()
            if unit == "%":
                w.setYRange(0, 100, padding=0.02)
            grid.addWidget(w, n // 3, n % 3)
            self.plots[title] = w
        self.no_gpu_label = QLabel(
            "No GPU with live metrics was found: GPU plots stay empty (n/a)."
        )
        self.no_gpu_label.setVisible(False)
        self._cpu_curve = self.plots["CPU"].plot(pen=pg.mkPen("#ab47bc", width=2))
        self._ram_curve = self.plots["RAM"].plot(pen=pg.mkPen("#2196f3", width=2))

        self.ollama_status = QLabel("Ollama: checking…")
        # server-provided text (error bodies, model names) is never rendered as HTML
        self.ollama_status.setTextFormat(Qt.TextFormat.PlainText)
        self.ollama_table = QTableWidget(0, 5)
        self.ollama_table.setHorizontalHeaderLabels(
            ["Model", "Size (GiB)", "Placement", "Context (tokens)", "Unloads at"]
        )
        self.ollama_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.ollama_table.setMaximumHeight(140)
        self.ollama_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.no_gpu_label)
        layout.addLayout(grid, 1)
        layout.addWidget(self.ollama_status)
        layout.addWidget(self.ollama_table)

        self._timer = QTimer(self)
        self._timer.timeout.connect(self.redraw)
        self._timer.start(REDRAW_MS)

    # -- inputs ---------------------------------------------------------------------------
    def set_hardware(self, spec: HardwareSpec) -> None:
        """Show the detected hardware."""
        self.hardware_label.setText(render_text(spec))

    def mark_dirty(self, _sample: SystemSample | None = None) -> None:
        """A new sample arrived: redraw at the next timer tick (if visible)."""
        self._dirty = True

    def set_loaded_models(self, models: Sequence[LoadedModel]) -> None:
        """Show Ollama's `/api/ps` result."""
        self.ollama_status.setText(
            f"Ollama: {len(models)} model(s) loaded"
            if models
            else "Ollama: running, no model loaded"
        )
        self.ollama_table.setRowCount(len(models))
        for row, m in enumerate(models):
            values = (
                m.name,
                f"{m.size_bytes / GIB:.2f}",
                m.placement,
                str(m.context_length) if m.context_length else "n/a",
                m.expires_at or "n/a",
            )
            for col, text in enumerate(values):
                self.ollama_table.setItem(row, col, QTableWidgetItem(text))

    def set_ollama_unavailable(self, reason: str) -> None:
        """Ollama is not running: a calm status line, not an error."""
        self.ollama_status.setText(f"{reason}. Loaded models appear here when it runs.")
        self.ollama_table.setRowCount(0)

    # -- drawing --------------------------------------------------------------------------
    def _on_window_changed(self, text: str) -> None:
        self._window_s = WINDOWS_S[text]
        self._dirty = True
        self.redraw()

    def _ensure_gpu_curves(self, count: int) -> None:
        for title, _unit, _field in GPU_PLOTS:
            curves = self._gpu_curves.setdefault(title, [])
            while len(curves) < count:
                i = len(curves)
                curves.append(
                    self.plots[title].plot(
                        pen=pg.mkPen(GPU_PENS[i % len(GPU_PENS)], width=2), name=f"GPU {i}"
                    )
                )

    def redraw(self) -> None:
        """Update the curves from the history (skipped when hidden or nothing changed)."""
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        w = self._window_s
        self._cpu_curve.setData(*self.history.series(lambda s: s.cpu_pct, w))
        self._ram_curve.setData(*self.history.series(lambda s: s.ram_used_mib, w))
        n = self.history.gpu_count()
        self.no_gpu_label.setVisible(n == 0)
        self._ensure_gpu_curves(n)
        for title, _unit, field in GPU_PLOTS:
            for i, curve in enumerate(self._gpu_curves[title]):
                curve.setData(*self.history.gpu_series(i, field, w))
        for plot in self.plots.values():
            plot.setXRange(-w, 0, padding=0)
