"""Start-up helpers of `main()`: one instance per user, and the ready report for the bench."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)


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
