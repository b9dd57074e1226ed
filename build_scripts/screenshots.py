"""Regenerate the README screenshots from the real app (offscreen Qt, real sampler, real llama-server).

    QT_QPA_PLATFORM=offscreen python build_scripts/screenshots.py

Writes docs/screenshots/dashboard.png, benchmark.png and tray.png.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtGui import QColor, QPainter, QPixmap  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.conftest import test_model_path  # noqa: E402
from velollm_desktop.core.llamacpp.server import LlamaServer  # noqa: E402
from velollm_desktop.core.settings import Settings  # noqa: E402
from velollm_desktop.ui.app import Controller  # noqa: E402
from velollm_desktop.ui.icons import draw_tray_pixmap  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def pump(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def main() -> int:
    app = QApplication(sys.argv)
    settings = Settings.load()
    settings.set("tray_hint_shown", True)
    c = Controller(app, settings, force_no_tray=True)
    w = c.window
    w.resize(1200, 820)
    w.show()
    with LlamaServer(test_model_path(), threads=2) as server:
        page = c.benchmark_page
        page.kind.setCurrentIndex(page.kind.findData("llamacpp"))
        page.url.setText(server.url)
        page.suite.setCurrentText("standard")
        page.runs.setValue(2)
        w.tabs.setCurrentWidget(w.monitor)
        page.start()  # a real load for the monitor plots
        t0 = time.time()
        while page.worker is not None and time.time() - t0 < 300:
            pump(0.5)
        pump(2)
        w.monitor.mark_dirty()
        w.monitor.redraw()
        w.grab().save(str(OUT / "dashboard.png"))
        page.runs.setValue(3)
        page.start()
        while page.worker is not None and time.time() - t0 < 600:
            pump(0.5)
        for i in range(min(2, page.history_list.count())):
            item = page.history_list.item(i)
            item.setCheckState(item.checkState().Checked)
        w.tabs.setCurrentWidget(page)
        page.compare_checked()
        pump(1)
        w.grab().save(str(OUT / "benchmark.png"))
    c.shutdown()
    # The tray icon as drawn, at tray size, on a light and on a dark panel
    sheet = QPixmap(200, 48)
    p = QPainter(sheet)
    for x, bg in ((0, "#e0e0e0"), (100, "#202020")):
        p.fillRect(x, 0, 100, 48, QColor(bg))
        for i, levels in enumerate(((35.0, 60.0, 20.0), (None, 92.0, 80.0))):
            p.drawPixmap(x + 10 + i * 44, 8, draw_tray_pixmap(levels, size=32))
    p.end()
    sheet.save(str(OUT / "tray.png"))
    print("wrote", *sorted(p.name for p in OUT.iterdir()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
