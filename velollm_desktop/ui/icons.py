"""The live tray icon: three bars (GPU load, GPU memory or RAM, CPU) drawn on each update.

Each bar has a dark well and a light outline, so it reads on dark and light panels alike;
the fill colour turns amber above 75 % and red above 90 %.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore
from PySide6.QtCore import QRectF
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap

from velollm_desktop.ui.resources import resource_path

# `QtCore.Qt` is looked up at draw time, not imported: the first touch of PySide6's `Qt`
# namespace (or of a QPen / setBrush) builds ~93 enums, 25-40 ms measured on 2 cores, and the
# first draw happens after the tray icon is shown (see waiting_icon).

if TYPE_CHECKING:  # types only: keeps psutil/NVML off the tray's start path
    from velollm_desktop.core.monitor.sampler import SystemSample

BAR_COLOURS = (QColor("#4caf50"), QColor("#2196f3"), QColor("#ab47bc"))  # GPU, memory, CPU
WARN = QColor("#ffb300")
HOT = QColor("#e53935")
WELL = QColor(30, 30, 30, 230)
OUTLINE = QColor(235, 235, 235)
NA_GREY = QColor(150, 150, 150)


def tray_levels(sample: SystemSample | None) -> tuple[float | None, float, float]:
    """(GPU util %, VRAM % of the first GPU or RAM %, CPU %) for the three bars."""
    if sample is None:
        return None, 0.0, 0.0
    gpu = sample.gpus[0] if sample.gpus else None
    util = gpu.utilization_pct if gpu else None
    if gpu and gpu.vram_used_mib is not None and gpu.vram_total_mib:
        mem = 100.0 * gpu.vram_used_mib / gpu.vram_total_mib
    else:
        mem = sample.ram_pct
    return util, mem, sample.cpu_pct


def _fill_colour(level: float, base: QColor) -> QColor:
    if level >= 90:
        return HOT
    if level >= 75:
        return WARN
    return base


def _draw_not_available(p: QPainter, well: QRectF, size: int) -> None:
    """A bar with no reading ("n/a", no GPU): a grey hatched slot crossed out, never the dark
    well of a real bar, so it cannot be read as 0 %."""
    p.setPen(QPen(NA_GREY, max(1.0, size / 32), QtCore.Qt.PenStyle.DashLine))
    p.setBrush(QBrush(NA_GREY, QtCore.Qt.BrushStyle.BDiagPattern))
    p.drawRoundedRect(well, 2, 2)
    p.setPen(QPen(NA_GREY, max(1.5, size / 20)))
    inner = well.adjusted(2, 2, -2, -2)
    p.drawLine(inner.topLeft(), inner.bottomRight())
    p.drawLine(inner.bottomLeft(), inner.topRight())


def draw_tray_pixmap(
    levels: tuple[float | None, float, float], size: int = 64, paused: bool = False
) -> QPixmap:
    """Render the three-bar icon; a `None` level (no GPU) draws a crossed-out grey slot."""
    pix = QPixmap(size, size)
    pix.fill(QtCore.Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    gap = size * 0.06
    bar_w = (size - 4 * gap) / 3
    for i, level in enumerate(levels):
        x = gap + i * (bar_w + gap)
        well = QRectF(x, gap, bar_w, size - 2 * gap)
        if level is None:
            _draw_not_available(p, well, size)
            continue
        p.setPen(QPen(OUTLINE, max(1.0, size / 32)))
        p.setBrush(WELL)
        p.drawRoundedRect(well, 2, 2)
        frac = max(0.0, min(100.0, level)) / 100.0
        inner = well.adjusted(2, 2, -2, -2)
        h = inner.height() * frac
        fill = QRectF(inner.left(), inner.bottom() - h, inner.width(), h)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        colour = QColor(150, 150, 150) if paused else _fill_colour(level, BAR_COLOURS[i])
        p.setBrush(colour)
        p.drawRect(fill)
    p.end()
    return pix


def _shipped_icon(name: str, fallback_levels: tuple[float | None, float, float]) -> QIcon:
    """`resources/<name>` as an icon, else the three bars drawn at `fallback_levels`."""
    path = resource_path(name)
    if path is not None:
        icon = QIcon(str(path))
        if not icon.isNull():
            return icon
    return QIcon(draw_tray_pixmap(fallback_levels))


def waiting_icon() -> QIcon:
    """The tray icon before the first sample: the shipped 64 px PNG (else empty bars)."""
    return _shipped_icon("icons/velollm-desktop-64.png", (None, 0.0, 0.0))


def app_icon() -> QIcon:
    """The application icon (from resources/, else the three-bar drawing)."""
    return _shipped_icon("velollm-desktop.svg", (60.0, 40.0, 80.0))
