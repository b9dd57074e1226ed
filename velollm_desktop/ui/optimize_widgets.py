"""The Optimize page's memory widgets: a bar per model and its bytes in words."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from velollm_desktop.core.optimize.recommend import ModelFit

GIB = 1024**3


def breakdown_text(fit: ModelFit) -> str:
    """ "name: weights … / KV … / compute … MiB (by llama.cpp projection)"."""
    mib = 1024 * 1024
    return (
        f"{fit.name}: weights {fit.weights_bytes / mib:,.0f} MiB / KV cache "
        f"{fit.kv_cache_bytes / mib:,.0f} MiB / compute {fit.compute_bytes / mib:,.0f} MiB"
        f" — computed by {fit.method}"
        + (f"; {fit.placement} (llama.cpp's --fit does this itself)" if fit.n_cpu_moe else "")
    )


class MemoryBar(QWidget):
    """Weights | KV cache | compute | free, against the memory budget of one model."""

    COLOURS = (QColor("#42a5f5"), QColor("#ffa726"), QColor("#ab47bc"))

    def __init__(self, fit: ModelFit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fit = fit
        self.setMinimumHeight(22)
        self.setToolTip(
            f"{fit.name}: weights {fit.weights_bytes / GIB:.2f} GiB, KV cache {fit.kv_cache_bytes / GIB:.2f} "
            f"GiB, compute {fit.compute_bytes / GIB:.2f} GiB, of {max(fit.budget_bytes, 0) / GIB:.1f} GiB"
        )

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0, 2, -1, -2)
        p.fillRect(
            r, QColor("#2e7d32") if self.fit.fits_on_gpu or self.fit.num_ctx else QColor("#8e2424")
        )
        total = max(self.fit.budget_bytes, self.fit.vram_bytes, 1)
        x = r.left()
        for part, colour in zip(
            (self.fit.weights_bytes, self.fit.kv_cache_bytes, self.fit.compute_bytes),
            self.COLOURS,
            strict=True,
        ):
            w = r.width() * part / total
            p.fillRect(QRectF(x, r.top(), w, r.height()), colour)
            x += w
        p.setPen(QColor("white"))
        p.drawText(
            r.adjusted(6, 0, -6, 0),
            Qt.AlignmentFlag.AlignVCenter,
            f"{self.fit.name}  {self.fit.vram_bytes / GIB:.1f} / {max(self.fit.budget_bytes, 0) / GIB:.1f} GiB"
            f"  ctx {self.fit.num_ctx or 'n/a'}",
        )
        p.end()
