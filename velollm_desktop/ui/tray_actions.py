"""What the tray menu's actions do: quick optimize, quick benchmark, tune, open the log.

Each opens the matching dashboard page; nothing changes on the system unless the user accepts
the page's own confirmation.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from velollm_desktop.core.wording import shorten
from velollm_desktop.workers import logfile

log = logging.getLogger(__name__)
TRAY_ACTIONS = {
    "quick_optimize": "Quick optimize…",
    "quick_benchmark": "Run quick benchmark",
    "tune": "Tune Ollama…",
    "open_log": "Open log",
}
"""The tray menu's actions (key → label); `run_tray_action` carries each one out."""

BALLOON_CHARS = 300
"""A tray balloon's text is cut at a sentence or word boundary to this length."""


_log_window = None
"""The log window shown when no program opens the log (kept so it is not collected)."""


class TrayHost(Protocol):
    """What the tray's actions need from the app (the Controller): no private field of it."""

    window: Any
    tray: Any
    optimize_page: Any
    benchmark_page: Any
    tune_page: Any

    def show_dashboard(self) -> None: ...

    def hardware_known(self) -> bool: ...

    def quick_optimize_after_detection(self) -> None: ...


def open_log() -> bool:
    """Open the log file in the desktop's viewer (creating it if nothing was logged yet);
    where the desktop has no program for it, show the path and the log in a window.
    Returns whether the desktop's viewer took it."""
    from PySide6.QtCore import QUrl  # noqa: PLC0415 - rarely used
    from PySide6.QtGui import QDesktopServices  # noqa: PLC0415

    path = logfile.log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as exc:
        log.warning("cannot create the log file %s: %s", path, exc)
    if QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        return True
    from velollm_desktop.ui.log_window import LogWindow  # noqa: PLC0415 - rarely used

    global _log_window  # noqa: PLW0603 - one log window at a time
    if _log_window is not None:
        _log_window.close()
    _log_window = LogWindow(path)
    _log_window.show()
    _log_window.raise_()
    return False


def quick_optimize(controller: TrayHost) -> None:
    """Show the recommendation, then offer to apply it (the page's own confirmation)."""
    window = controller.window
    page = controller.optimize_page
    window.tabs.setCurrentWidget(page)

    def offer(_state) -> None:  # after the page has shown the recommendation
        controller.show_dashboard()
        if not page.apply_button.isEnabled():  # nothing to apply here: the page says why
            controller.tray.notify("Quick optimize", shorten(page.status.text(), BALLOON_CHARS))
            return
        controller.tray.notify("Quick optimize", page.summary())
        page.apply()  # shows the confirmation; nothing changes unless it is accepted

    if not controller.hardware_known():  # detection still runs: continue when it is done
        controller.quick_optimize_after_detection()
        controller.show_dashboard()
        page.status.setText("Reading the hardware first; the recommendation follows.")
    elif not page.compute(then=offer):  # `then` is connected before the worker starts
        controller.show_dashboard()


def quick_benchmark(controller: TrayHost) -> None:
    window = controller.window
    controller.benchmark_page.suite.setCurrentText("quick")
    controller.benchmark_page.start()
    window.tabs.setCurrentWidget(controller.benchmark_page)


def open_tune(controller: TrayHost) -> None:
    """A tune takes minutes and needs a model: open the page, don't start."""
    window = controller.window
    controller.tune_page.target.setCurrentIndex(controller.tune_page.target.findData("ollama"))
    window.tabs.setCurrentWidget(controller.tune_page)
    controller.show_dashboard()


def run_tray_action(controller: TrayHost, key: str) -> None:
    """The tray menu's `action_requested(key)`."""
    if key == "quick_optimize":
        quick_optimize(controller)
    elif key == "quick_benchmark":
        quick_benchmark(controller)
    elif key == "open_log":
        open_log()
    elif key == "tune":
        open_tune(controller)
