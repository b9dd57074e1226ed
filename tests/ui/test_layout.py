"""Window size and page layout: every page usable at 800×600, the first size fits the screen."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QScrollArea

from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.app import Controller
from velollm_desktop.ui.main_window import PREFERRED_SIZE, first_size


def test_first_size_is_clamped_to_the_available_screen():
    assert first_size(QSize(3000, 2000)) == PREFERRED_SIZE
    # QT_SCALE_FACTOR=2 on a 1600×1000 screen: 800×500 logical pixels are available
    assert first_size(QSize(800, 500)) == QSize(736, 460)


def test_every_page_fits_800x600_without_sideways_scrolling(qtbot):
    controller = Controller(QApplication.instance(), Settings.load(), force_no_tray=True)
    window = controller.window
    qtbot.addWidget(window)
    try:
        available = QGuiApplication.primaryScreen().availableGeometry().size()
        assert window.width() <= available.width() and window.height() <= available.height()
        window.resize(800, 600)
        tabs = window.tabs
        titles = [tabs.tabText(i) for i in range(tabs.count())]
        expected = {"Monitor", "Benchmark", "Optimize", "Speculative", "Tune", "Settings"}
        assert expected <= set(titles)  # every page is checked, also ones added later
        for i in range(tabs.count()):
            tabs.setCurrentIndex(i)
            qtbot.wait(50)
            area = tabs.widget(i)
            assert isinstance(area, QScrollArea)
            assert tabs.currentWidget() is tabs.page(i)  # the page, not its scroll area
            # nothing cut at the right edge: the page is at most as wide as the view
            assert area.horizontalScrollBar().maximum() == 0, titles[i]
            # and when it is taller than the view, it scrolls instead of squeezing
            page = tabs.page(i)
            assert page.height() >= page.minimumSizeHint().height() - 1, titles[i]
    finally:
        controller.shutdown()
