"""The dashboard's Fleet page: one row per host, its level and why, and sparklines.

Targets come from the `fleet_targets` setting. Each poll runs `FleetMonitor.poll()` (core) on
a background thread, one poll at a time; the poll itself returns within its deadline whatever
the hosts do, so a slow or dead host delays nothing else and the GUI thread never waits.
"""

from __future__ import annotations

import threading
from collections import deque

from PySide6.QtCore import QCoreApplication, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.fleet.model import HostStatus, TargetStatus
from velollm_desktop.core.fleet.monitor import FleetMonitor, host_statuses, worst_level
from velollm_desktop.core.fleet.targets import TargetError, parse_targets, split_targets
from velollm_desktop.core.fleet.velollm import row_text
from velollm_desktop.core.settings import Settings
from velollm_desktop.workers.runner import Job
from velollm_desktop.workers.task import TaskWorker, start_task

GIB = 1024**3
LEVEL_COLOURS = {"ok": "#2e7d32", "warn": "#f9a825", "down": "#c62828"}
LEVEL_TEXT = {"ok": "OK", "warn": "WARN", "down": "DOWN"}
SPARK_POINTS = 60


def draw_fleet_dot(pixmap, level: str) -> None:
    """Paint the fleet's worst level as a dot in the icon's top-right corner."""
    size = pixmap.width()
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(QColor("#ffffff"), max(1.0, size / 32)))
    p.setBrush(QColor(LEVEL_COLOURS.get(level, "#9e9e9e")))
    d = size * 0.42
    p.drawEllipse(int(size - d - 1), 1, int(d), int(d))
    p.end()


class Sparkline(QWidget):
    """A tiny line of the last SPARK_POINTS values (None = a gap), scaled to `top` or the max."""

    def __init__(self, label: str, colour: str, top: float | None = None) -> None:
        super().__init__()
        self.label, self.colour, self.top = label, colour, top
        self.values: deque[float | None] = deque(maxlen=SPARK_POINTS)
        self.setFixedSize(130, 34)
        self.setToolTip(label)

    def add(self, value: float | None) -> None:
        self.values.append(value)
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#262626"))
        known = [v for v in self.values if v is not None]
        top = self.top or (max(known) if known else 1.0) or 1.0
        w, h = self.width(), self.height() - 12
        line = QPolygonF()
        step = w / max(1, SPARK_POINTS - 1)
        offset = SPARK_POINTS - len(self.values)
        for i, v in enumerate(self.values):
            if v is None:
                continue
            line.append(QPointF((offset + i) * step, 12 + h - h * min(v, top) / top))
        p.setPen(QPen(QColor(self.colour), 1.5))
        p.drawPolyline(line)
        p.setPen(QColor("#bbbbbb"))
        last = known[-1] if self.values and self.values[-1] is not None else None
        p.drawText(2, 10, f"{self.label} {'-' if last is None else f'{last:.0f}'}")
        p.end()


def _target_line(s: TargetStatus) -> str:
    if not s.up:
        return f"{s.kind or '?'} {s.url}: DOWN"  # the reason is on the row's last line
    bits = [f"{s.kind} {s.url}", f"{s.probe_ms:.0f} ms" if s.probe_ms is not None else ""]
    if s.cpu_pct is not None:
        bits.append(f"CPU {s.cpu_pct:.0f} %")
    if s.ram_used_bytes is not None and s.ram_total_bytes:
        bits.append(f"RAM {s.ram_used_bytes / GIB:.1f}/{s.ram_total_bytes / GIB:.1f} GiB")
    for g in s.gpus:
        vram = (
            f" {g.vram_used_bytes / GIB:.1f}/{g.vram_total_bytes / GIB:.1f} GiB"
            if (g.vram_used_bytes is not None and g.vram_total_bytes)
            else ""
        )
        temp = f" {g.temperature_c:.0f} °C" if g.temperature_c is not None else ""
        load = f" {g.load_pct:.0f} %" if g.load_pct is not None else ""
        bits.append(f"{g.name}{load}{vram}{temp}")
    if s.requests_running is not None:
        bits.append(f"{s.requests_running} running, {s.requests_waiting or 0} waiting")
    if s.tokens_per_s is not None:
        bits.append(f"{s.tokens_per_s:.1f} tok/s")
    if s.models:
        bits.append("models: " + ", ".join(m.rsplit("/", 1)[-1] for m in s.models[:4]))
    if s.note:
        bits.append(s.note)
    return " · ".join(b for b in bits if b)


def _target_lines(targets: list[TargetStatus]) -> list[str]:
    """Each target's line, then one line per model a VeloLLM exporter reports."""
    lines = []
    for t in targets:
        lines.append(_target_line(t))
        lines += [f"    {row_text(row)}" for row in (t.model_rows[:16] if t.up else ())]
    return lines


def _first(values) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


class HostRow(QFrame):
    """One host: a coloured level badge, its targets, why it is not OK, three sparklines."""

    def __init__(self, host: str) -> None:
        super().__init__()
        self.host = host
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        self.badge = QLabel()
        self.badge.setFixedWidth(60)
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name = QLabel(f"<b>{host}</b>")
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.cpu = Sparkline("CPU %", "#42a5f5", 100.0)
        self.gpu = Sparkline("GPU %", "#66bb6a", 100.0)
        self.tokens = Sparkline("tok/s", "#ffa726")
        sparks = QHBoxLayout()
        for s in (self.cpu, self.gpu, self.tokens):
            sparks.addWidget(s)
        grid.addWidget(self.badge, 0, 0, 2, 1)
        grid.addWidget(self.name, 0, 1)
        grid.addLayout(sparks, 0, 2, 2, 1)
        grid.addWidget(self.details, 1, 1)
        grid.addWidget(self.reason, 2, 1, 1, 2)
        grid.setColumnStretch(1, 1)

    def show_status(self, status: HostStatus) -> None:
        self.level = status.level
        colour = LEVEL_COLOURS[status.level]
        self.badge.setText(LEVEL_TEXT[status.level])
        self.badge.setStyleSheet(f"background:{colour};color:white;font-weight:bold;padding:4px;")
        self.setStyleSheet(f"HostRow {{ border: 2px solid {colour}; border-radius: 4px; }}")
        self.details.setText("\n".join(_target_lines(status.targets)))
        self.reason.setText("; ".join(status.reasons))
        self.reason.setVisible(bool(status.reasons))
        ups = [t for t in status.targets if t.up]
        self.cpu.add(_first(t.cpu_pct for t in ups))
        self.gpu.add(_first(g.load_pct for t in ups for g in t.gpus))
        tok = [t.tokens_per_s for t in ups if t.tokens_per_s is not None]
        self.tokens.add(sum(tok) if tok else None)


class FleetPage(QWidget):
    """Polls the fleet every `interval_s` while it has targets.

    Signals:
        polled(object): the list[HostStatus] of a finished poll.
        worst_changed(str, str): the fleet's worst level ("ok"/"warn"/"down") and why.
    """

    polled = Signal(object)
    worst_changed = Signal(str, str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.monitor: FleetMonitor | None = None
        self.rows: dict[str, HostRow] = {}
        self.hosts: list[HostStatus] = []
        self._busy = threading.Event()
        self._poll_worker: Job | None = None
        self._worst: tuple[str, str] = ("", "")
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.status = QLabel()
        self.status.setWordWrap(True)
        top.addWidget(self.status, 1)
        self.poll_button = QPushButton("Poll now")
        self.poll_button.clicked.connect(self.poll)
        top.addWidget(self.poll_button)
        layout.addLayout(top)
        self.rows_box = QVBoxLayout()
        self.rows_box.addStretch(1)
        holder = QWidget()
        holder.setLayout(self.rows_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        layout.addWidget(scroll, 1)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.poll)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.apply_settings()

    def apply_settings(self) -> None:
        """Re-read the targets and interval (after Settings changed)."""
        self.timer.stop()
        if self.monitor is not None and not self._busy.is_set():
            self.monitor.close()
        self.monitor = None
        for row in self.rows.values():
            row.deleteLater()
        self.rows = {}
        try:
            targets = parse_targets(split_targets(self.settings.get("fleet_targets")))
        except TargetError as exc:
            self.status.setText(f"Fleet targets in Settings: {exc}")
            return
        if not targets:
            self.status.setText(
                "No fleet targets: add URLs in Settings (e.g. http://127.0.0.1:11434,"
                " node=http://gpu-box:9100). Only the hosts you type are contacted."
            )
            return
        self.monitor = FleetMonitor(targets)
        self.status.setText(f"Watching {len(targets)} target(s)…")
        self.timer.start(int(self.settings.get("fleet_poll_s") * 1000))
        self.poll()

    def poll(self) -> None:
        """Start one background poll unless one is running."""
        if self.monitor is None or self._busy.is_set():
            return
        self._busy.set()
        worker = TaskWorker(self.monitor.poll, pass_control=False)
        worker.result.connect(self._show)
        worker.failed.connect(lambda msg: self.status.setText(f"Poll failed: {msg}"))
        worker.finished.connect(lambda m=self.monitor: self._done(m))
        self._poll_worker = start_task(self, worker)

    def _done(self, monitor: FleetMonitor) -> None:
        self._busy.clear()
        if monitor is not self.monitor:  # the targets changed during that poll
            monitor.close()

    def _show(self, statuses: list[TargetStatus]) -> None:
        self.hosts = host_statuses(statuses)
        for host in self.hosts:
            row = self.rows.get(host.host)
            if row is None:
                row = self.rows[host.host] = HostRow(host.host)
                self.rows_box.insertWidget(self.rows_box.count() - 1, row)
            row.show_status(host)
        up = sum(s.up for s in statuses)
        self.status.setText(f"{up} of {len(statuses)} target(s) up on {len(self.hosts)} host(s)")
        worst = self.worst()
        if worst != self._worst:
            self._worst = worst
            self.worst_changed.emit(*worst)
        self.polled.emit(self.hosts)

    def worst(self) -> tuple[str, str]:
        """The fleet's worst level and why ("ok", "" before the first poll)."""
        worst = worst_level(self.hosts)
        why = "; ".join(r for h in self.hosts if h.level == worst for r in h.reasons)
        return worst, why

    def shutdown(self) -> None:
        """Stop polling (the running poll, if any, ends within its deadline)."""
        self.timer.stop()
        worker = self._poll_worker  # the runner owns it, not this page
        if worker is not None:
            worker.join(5.0)
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None
