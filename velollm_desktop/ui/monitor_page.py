"""The dashboard's Monitor page: hardware summary, rolling plots, and Ollama's loaded models.

Every plot's title carries its current value (and the maximum or total where one exists),
as nvtop does beside its bars. Without a GPU, the GPU plots are not shown at all: CPU and
RAM get the room and one line says that no GPU metrics were found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.hardware.report import fmt, render_text
from velollm_desktop.core.monitor.history import SampleHistory
from velollm_desktop.core.monitor.sampler import GpuSample, SystemSample
from velollm_desktop.core.monitor.text import gib, live_spec, unloads_in
from velollm_desktop.core.ollama.models import LoadedModel
from velollm_desktop.ui.wrapping_label import WrappingLabel
from velollm_desktop.workers.task import TaskWorker, start_task

WINDOWS_S = {"Last 60 s": 60.0, "Last 10 min": 600.0}
GPU_PENS = ("#4caf50", "#ff7043", "#29b6f6", "#ab47bc", "#ffca28", "#8d6e63", "#26a69a", "#ec407a")
GPU_PLOTS = (  # title, unit, field
    ("GPU load", "%", lambda g: g.utilization_pct),
    (
        "GPU memory",
        "GiB",
        lambda g: g.vram_used_mib / 1024 if g.vram_used_mib is not None else None,
    ),
    ("GPU temperature", "°C", lambda g: g.temperature_c),
    ("GPU power", "W", lambda g: g.power_w),
)
NO_GPU_TEXT = "No GPU metrics found: showing CPU and RAM only."
PAUSED_TEXT = (
    "Monitoring is paused: the charts and values below are the last ones read and do not "
    "change. Untick “Pause monitoring” in the tray menu to resume."
)
PAUSED_PREFIX = "Paused · "
UNIT_AFTER_NUMBER = re.compile(r"(\d) (GiB|MiB|GB|MB|KiB|%|°C|W|MHz|GHz|tokens)(?!\w)")
PERCENT_TICKS = [[(v, str(v)) for v in (0, 25, 50, 75, 100)]]


def no_unit_breaks(text: str) -> str:
    """A number and its unit never wrap apart ("0 MiB" keeps a no-break space)."""
    return UNIT_AFTER_NUMBER.sub("\\1\u00a0\\2", text)


OLLAMA_COLUMNS = ("Model", "Size", "Placement", "Context (tokens)", "Unloads", "")
REDRAW_MS = 500
"""Plots redraw at most this often (ms), however fast samples arrive."""


def _gpu_value(title: str, g: GpuSample) -> str:
    """The current reading of one GPU for a plot's title."""
    if title == "GPU load":
        return fmt(g.utilization_pct, "%")
    if title == "GPU memory":
        if g.vram_used_mib is None or not g.vram_total_mib:
            return fmt(None)
        return f"{g.vram_used_mib / 1024:.1f} of {g.vram_total_mib / 1024:.1f} GiB"
    if title == "GPU temperature":
        return fmt(g.temperature_c, "°C")
    return fmt(g.power_w, "W")


class MonitorPage(QWidget):
    """Live plots redrawn on a coalescing timer, only while visible."""

    def __init__(
        self,
        history: SampleHistory,
        parent: QWidget | None = None,
        ollama_url: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.history = history
        self._ollama_url = ollama_url
        self._spec: HardwareSpec | None = None
        self._dirty = False
        self._window_s = 60.0
        self._has_gpu: bool | None = None
        self.unload_worker: TaskWorker | None = None
        pg.setConfigOptions(antialias=False, background="#1e1e1e", foreground="#dddddd")

        top = self._build_top()
        self.grid = QGridLayout()
        self.plots: dict[str, pg.PlotWidget] = {}
        self._gpu_curves: dict[str, list[pg.PlotDataItem]] = {}
        for title, unit, _ in GPU_PLOTS:
            self.plots[title] = self._make_plot(title, unit)
        self.plots["CPU"] = self._make_plot("CPU", "%")
        self.plots["RAM"] = self._make_plot("RAM", "GiB")
        self.paused = False
        self.paused_label = WrappingLabel(PAUSED_TEXT)
        self.paused_label.setStyleSheet(
            "background:#fff3cd; color:#5c4400; padding:4px; border-radius:3px;"
        )
        self.paused_label.setVisible(False)
        self.no_gpu_label = QLabel(NO_GPU_TEXT)
        self.no_gpu_label.setVisible(False)
        self._cpu_curve = self.plots["CPU"].plot(pen=pg.mkPen("#ab47bc", width=2))
        self._ram_curve = self.plots["RAM"].plot(pen=pg.mkPen("#2196f3", width=2))
        self._layout_plots(has_gpu=True)

        self.ollama_status = WrappingLabel("Ollama: checking…")
        # server-provided text (error bodies, model names) is never rendered as HTML
        self.ollama_status.setTextFormat(Qt.TextFormat.PlainText)
        self.ollama_table = self._make_ollama_table()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.paused_label)
        layout.addWidget(self.no_gpu_label)
        layout.addLayout(self.grid, 1)
        layout.addWidget(self.ollama_status)
        layout.addWidget(self.ollama_table)

        self._timer = QTimer(self)
        self._timer.timeout.connect(self.redraw)
        self._timer.start(REDRAW_MS)

    def _build_top(self) -> QHBoxLayout:
        """The hardware line and the plots' time window."""
        top = QHBoxLayout()
        self.hardware_label = WrappingLabel("Detecting hardware…")
        self.hardware_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hardware_label.setStyleSheet("font-family: monospace;")
        top.addWidget(self.hardware_label, 1)
        self.window_combo = QComboBox()
        self.window_combo.addItems(list(WINDOWS_S))
        self.window_combo.currentTextChanged.connect(self._on_window_changed)
        top.addWidget(self.window_combo, 0, Qt.AlignmentFlag.AlignTop)
        return top

    @staticmethod
    def _make_ollama_table() -> QTableWidget:
        table = QTableWidget(0, len(OLLAMA_COLUMNS))
        table.setHorizontalHeaderLabels(list(OLLAMA_COLUMNS))
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setVisible(False)
        table.setMinimumHeight(90)
        table.setMaximumHeight(160)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        return table

    def _make_plot(self, title: str, unit: str) -> pg.PlotWidget:
        w = pg.PlotWidget(title=f"{title} ({unit})")
        w.setMinimumHeight(120)
        w.showGrid(x=True, y=True, alpha=0.2)
        w.setLabel("bottom", "seconds ago")
        w.setLabel("left", unit)
        for side in ("left", "bottom"):
            w.getAxis(side).enableAutoSIPrefix(False)  # the unit is in the label
        w.setMouseEnabled(x=False, y=False)
        w.hideButtons()
        if unit == "%":
            # fixed ticks with room at both ends: 0 and 100 keep their labels at any size
            w.getAxis("left").setTicks(PERCENT_TICKS)
            w.setYRange(0, 100, padding=0.08)
        w.setProperty("unit", unit)
        return w

    def _layout_plots(self, has_gpu: bool) -> None:
        """GPU plots and CPU/RAM in a 3-wide grid; without a GPU, CPU and RAM only, taller."""
        if has_gpu == self._has_gpu:
            return
        self._has_gpu = has_gpu
        for w in self.plots.values():
            self.grid.removeWidget(w)
        names = [t for t, _, _ in GPU_PLOTS] + ["CPU", "RAM"] if has_gpu else ["CPU", "RAM"]
        for title, _u, _f in GPU_PLOTS:
            self.plots[title].setVisible(has_gpu)
        columns, rows = (3, 2) if has_gpu else (2, 1)
        for i in range(3):  # equal cells: the plots line up whatever their labels' widths
            self.grid.setColumnStretch(i, 1 if i < columns else 0)
            self.grid.setRowStretch(i, 1 if i < rows else 0)
        for n, name in enumerate(names):
            if has_gpu:
                self.grid.addWidget(self.plots[name], n // 3, n % 3)
            else:
                self.grid.addWidget(self.plots[name], 0, n)
            self.plots[name].setMinimumHeight(120 if has_gpu else 220)
        self.no_gpu_label.setVisible(not has_gpu)

    def title_of(self, name: str) -> str:
        """The text a plot's title shows now (its name, unit and current value)."""
        return self.plots[name].plotItem.titleLabel.text

    # -- inputs ---------------------------------------------------------------------------
    def set_hardware(self, spec: HardwareSpec) -> None:
        """Show the detected hardware (memory and GPU lines then follow the live samples)."""
        self._spec = spec
        self.hardware_label.setText(
            no_unit_breaks(render_text(live_spec(spec, self.history.latest)))
        )

    def set_paused(self, paused: bool) -> None:
        """Say that the values are frozen (and mark every plot title) while paused."""
        self.paused = paused
        self.paused_label.setVisible(paused)
        self._dirty = True
        if self.history.latest is not None:
            self._show_values(self.history.latest)

    def mark_dirty(self, _sample: SystemSample | None = None) -> None:
        """A new sample arrived: redraw at the next timer tick (if visible)."""
        self._dirty = True

    def set_loaded_models(self, models: Sequence[LoadedModel]) -> None:
        """Show Ollama's `/api/ps` result, one Unload button per model."""
        self.ollama_status.setText(
            f"Ollama: {len(models)} model(s) loaded"
            if models
            else "Ollama: running, no model loaded"
        )
        self.ollama_table.setRowCount(len(models))
        for row, m in enumerate(models):
            values = (
                m.name,
                gib(m.size_bytes),
                m.placement,
                str(m.context_length) if m.context_length else "n/a",
                unloads_in(m.expires_at),
            )
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col == 4 and m.expires_at:
                    item.setToolTip(m.expires_at)
                self.ollama_table.setItem(row, col, item)
            button = QPushButton("Unload")
            button.setToolTip(f"Free the memory {m.name} uses now (keep_alive: 0)")
            button.setEnabled(self._ollama_url is not None)
            button.clicked.connect(lambda _=False, name=m.name: self._unload(name))
            self.ollama_table.setCellWidget(row, 5, button)

    def set_ollama_unavailable(self, reason: str) -> None:
        """Ollama is not running: a calm status line, not an error."""
        self.ollama_status.setText(f"{reason}. Loaded models appear here when it runs.")
        self.ollama_table.setRowCount(0)

    def unload_button(self, row: int) -> QPushButton:
        """The Unload button of a table row."""
        return self.ollama_table.cellWidget(row, 5)

    def _unload(self, name: str) -> None:
        if self._ollama_url is None or self.unload_worker is not None:
            return
        from velollm_desktop.core.ollama.client import OllamaClient  # noqa: PLC0415

        url = self._ollama_url()

        def unload() -> str:
            with OllamaClient(url) as client:
                client.unload(name)
            return name

        self.ollama_status.setText(f"Unloading {name}…")
        for row in range(self.ollama_table.rowCount()):
            self.unload_button(row).setEnabled(False)
        worker = TaskWorker(unload, pass_control=False)
        worker.result.connect(self._unloaded)
        worker.failed.connect(lambda e: self.ollama_status.setText(f"Could not unload {name}: {e}"))
        worker.finished.connect(self._unload_finished)
        self.unload_worker = worker
        start_task(self, worker)

    def _unloaded(self, name: str) -> None:
        """Ollama confirmed: the row goes now, not at the next poll."""
        table = self.ollama_table
        for row in reversed(range(table.rowCount())):
            item = table.item(row, 0)
            if item is not None and item.text() == name:
                table.removeRow(row)
        left = table.rowCount()
        self.ollama_status.setText(
            f"Unloaded {name}. "
            + (f"Ollama: {left} model(s) loaded." if left else "Ollama: running, no model loaded.")
        )

    def _unload_finished(self) -> None:
        self.unload_worker = None
        for row in range(self.ollama_table.rowCount()):
            self.unload_button(row).setEnabled(True)

    def join(self, timeout_s: float = 5.0) -> bool:
        """Wait for an unload in progress."""
        return self.unload_worker is None or self.unload_worker.join(timeout_s)

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
        latest = self.history.latest
        self._cpu_curve.setData(*self.history.series(lambda s: s.cpu_pct, w))
        self._ram_curve.setData(*self.history.series(lambda s: s.ram_used_mib / 1024, w))
        n = self.history.gpu_count()
        self._layout_plots(has_gpu=n > 0)
        self._ensure_gpu_curves(n)
        for title, _unit, field in GPU_PLOTS:
            for i, curve in enumerate(self._gpu_curves[title]):
                curve.setData(*self.history.gpu_series(i, field, w))
        for plot in self.plots.values():
            plot.setXRange(-w, 0, padding=0)
        if latest is not None:
            self._show_values(latest)
            if self._spec is not None:
                text = no_unit_breaks(render_text(live_spec(self._spec, latest)))
                if text != self.hardware_label.text():
                    self.hardware_label.setText(text)

    def _power_limit_w(self, index: int) -> float | None:
        """The GPU's power limit from the hardware detection, when it reported one."""
        gpus = self._spec.gpus if self._spec is not None else ()
        return next((g.power_limit_w for g in gpus if g.index == index), None)

    def _show_values(self, s: SystemSample) -> None:
        """Current values in the titles; RAM and VRAM axes from 0 to the total."""
        cpu_max = max(self.history.series(lambda x: x.cpu_pct, self._window_s)[1], default=0.0)
        mark = PAUSED_PREFIX if self.paused else ""
        self.plots["CPU"].setTitle(f"{mark}CPU: {s.cpu_pct:.0f} % (peak {cpu_max:.0f} %)")
        total_gib = s.ram_total_mib / 1024
        self.plots["RAM"].setTitle(
            f"{mark}RAM: {s.ram_used_mib / 1024:.1f} of {total_gib:.1f} GiB ({s.ram_pct:.0f} %)"
        )
        if total_gib > 0:
            self.plots["RAM"].setYRange(0, total_gib, padding=0.02)
        for title, _unit, field in GPU_PLOTS:
            values = []
            for g in s.gpus:
                text = _gpu_value(title, g)
                if title == "GPU load" and g.utilization_pct is not None:
                    peak = max(
                        self.history.gpu_series(g.index, field, self._window_s)[1], default=0
                    )
                    text += f" (peak {peak:.0f} %)"
                elif title == "GPU power" and g.power_w is not None:
                    limit = self._power_limit_w(g.index)
                    text += f" of {limit:.0f} W" if limit else ""
                values.append(text)
            self.plots[title].setTitle(f"{mark}{title}: {' · '.join(values) or 'n/a'}")
        totals = [g.vram_total_mib for g in s.gpus if g.vram_total_mib]
        if totals:
            self.plots["GPU memory"].setYRange(0, max(totals) / 1024, padding=0.02)
