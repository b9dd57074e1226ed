"""Render resources/velollm-desktop.svg to the PNG sizes the installers need.

QT_QPA_PLATFORM=offscreen python build_scripts/render_icons.py
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 24, 32, 48, 64, 128, 256)
ROOT = Path(__file__).resolve().parents[1] / "resources"


def main() -> int:
    app = QGuiApplication(sys.argv)  # noqa: F841 - needed for QPainter
    renderer = QSvgRenderer(str(ROOT / "velollm-desktop.svg"))
    for size in SIZES:
        img = QImage(size, size, QImage.Format.Format_ARGB32)
        img.fill(Qt.GlobalColor.transparent)
        p = QPainter(img)
        renderer.render(p)
        p.end()
        img.save(str(ROOT / "icons" / f"velollm-desktop-{size}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
