"""Start-up helpers of `main()`: one instance per user, and the ready report for the bench."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from velollm_desktop import APP_ID, APP_NAME, __version__
from velollm_desktop.ui.icons import app_icon

log = logging.getLogger(__name__)


def parse_arguments(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """`velollm-desktop`'s own options, and the rest (Qt's, e.g. -platform)."""
    parser = argparse.ArgumentParser(
        prog="velollm-desktop", description=f"{APP_NAME}: tray monitor and dashboard"
    )
    parser.add_argument("--version", action="version", version=f"velollm-desktop {__version__}")
    parser.add_argument(
        "--show", action="store_true", help="open the dashboard at start even with a tray"
    )
    parser.add_argument(
        "--no-tray", action="store_true", help="run as a normal window without a tray icon"
    )
    parser.add_argument(
        "--quit-after", type=float, default=0, help=argparse.SUPPRESS
    )  # seconds; for tests/bench
    return parser.parse_known_args(list(argv))


def make_application(qt_args: Sequence[str]) -> QApplication:
    """The QApplication with the app's names and icon; it stays when its last window closes
    (the tray keeps the app)."""
    app = QApplication([sys.argv[0], *qt_args])
    app.setApplicationName(APP_ID)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    return app


class ReadyHost(Protocol):
    """What the ready report reads of the app (the Controller): its tray and its window."""

    tray: Any
    window: Any


NO_TRAY_HINT = (
    "No system tray was found, so VeloLLM runs as a normal window (closing it quits). "
    "On GNOME, install the \u201cAppIndicator and KStatusNotifierItem Support\u201d extension "
    "(package gnome-shell-extension-appindicator) and log in again to get the tray icon."
)


WELCOME_TEXT = (
    "Welcome to VeloLLM Desktop. It watches this machine's CPU, GPU and memory and the "
    "models Ollama has loaded, benchmarks and tunes local LLM servers, and recommends "
    "Ollama settings (nothing changes without your yes). It lives in the system tray: the "
    "small bar icon by the clock shows CPU, GPU and memory; click it for this window, "
    "right-click it for quick actions. Closing this window keeps it running in the tray."
)
"""Shown once, at the first start with a tray (the window opens by itself that one time)."""


def report_ready_when_visible(controller: ReadyHost, path: str, parent: QObject) -> None:
    """For bench/tray_overhead.py: write the wall time at which the tray icon (or, without a
    tray, the window) first became visible."""

    def check() -> None:
        visible = (
            (controller.tray.icon.geometry().width() > 0)
            if controller.tray
            else controller.window.isVisible()
        )
        if visible:
            timer.stop()
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(f"{time.time():.6f}\n")

    timer = QTimer(parent)
    timer.timeout.connect(check)
    timer.start(10)


def single_instance_server(app: QApplication):
    """The listening InstanceServer; `None` when another instance answered (it shows its
    dashboard); `False` when it cannot be had (QtNetwork missing from a stripped Windows
    bundle): run without it."""
    try:
        if hasattr(socket, "AF_UNIX"):  # a plain socket: no QtNetwork in the tray (RSS)
            from velollm_desktop.ui import single_instance  # noqa: PLC0415 - after the app
        else:  # pragma: no cover - Windows
            from velollm_desktop.ui import single_instance_qt as single_instance  # noqa: PLC0415
    except ImportError as exc:
        log.warning("single instance check unavailable: %s", exc)
        return False
    try:
        name = single_instance.server_name()
    except OSError as exc:  # every private folder is taken: run, but without the check
        log.warning("single instance check unavailable: %s", exc)
        return False
    if single_instance.ask_running_instance_to_show(name):
        return None
    server = single_instance.InstanceServer(name, parent=app)
    server.listen()
    return server
