"""What the tray menu's actions do: quick optimize, quick benchmark, tune, open the log.

Each opens the matching dashboard page; nothing changes on the system unless the user accepts
the page's own confirmation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from velollm_desktop.core.kinds import BackendKind
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


class OptimizeIntents(Protocol):
    """What the tray asks of the Optimize page."""

    def compute(self, after: str = "", then: Callable[[Any], None] | None = None) -> bool: ...

    def can_apply(self) -> bool: ...

    def summary(self) -> str: ...

    def apply(self) -> bool: ...

    def wait_for_hardware(self) -> None: ...


class BenchmarkIntents(Protocol):
    """What the tray asks of the Benchmark page."""

    def run_quick_suite(self) -> bool: ...


class TuneIntents(Protocol):
    """What the tray asks of the Tune page."""

    def choose_target(self, kind: BackendKind) -> None: ...


class TrayPages(Protocol):
    """The dashboard's pages, as far as the tray uses them (`ui/pages.Pages` is one)."""

    @property
    def optimize(self) -> OptimizeIntents: ...

    @property
    def benchmark(self) -> BenchmarkIntents: ...

    @property
    def tune(self) -> TuneIntents: ...


class TrayHost(Protocol):
    """What the tray's actions need from the app (the Controller): the pages' intents and a
    few of its own; no widget and no private field of either."""

    def pages(self) -> TrayPages:
        """The dashboard's pages (the window is built on first use)."""
        ...

    def show_page(self, page: Any) -> None:
        """Make `page` the dashboard's current tab (the window is not raised)."""
        ...

    def show_dashboard(self) -> None: ...

    def notify(self, title: str, text: str) -> None:
        """A tray balloon (nothing without a tray)."""
        ...

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


def quick_optimize(host: TrayHost) -> None:
    """Show the recommendation, then offer to apply it (the page's own confirmation)."""
    page = host.pages().optimize
    host.show_page(page)

    def offer(_state: object) -> None:  # after the page has shown the recommendation
        host.show_dashboard()
        # what would change, or (nothing to apply here) the page's sentences on why
        host.notify("Quick optimize", shorten(page.summary(), BALLOON_CHARS))
        if page.can_apply():
            page.apply()  # shows the confirmation; nothing changes unless it is accepted

    if not host.hardware_known():  # detection still runs: continue when it is done
        host.quick_optimize_after_detection()
        host.show_dashboard()
        page.wait_for_hardware()
    elif not page.compute(then=offer):  # `then` is connected before the worker starts
        host.show_dashboard()


def quick_benchmark(host: TrayHost) -> None:
    """The quick suite on the Benchmark page's chosen server; a balloon when it ends."""
    page = host.pages().benchmark
    page.run_quick_suite()
    host.show_page(page)


def open_tune(host: TrayHost) -> None:
    """A tune takes minutes and needs a model: open the page, don't start."""
    page = host.pages().tune
    page.choose_target(BackendKind.OLLAMA)
    host.show_page(page)
    host.show_dashboard()


def run_tray_action(host: TrayHost, key: str) -> None:
    """The tray menu's `action_requested(key)`."""
    if key == "quick_optimize":
        quick_optimize(host)
    elif key == "quick_benchmark":
        quick_benchmark(host)
    elif key == "open_log":
        open_log()
    elif key == "tune":
        open_tune(host)
