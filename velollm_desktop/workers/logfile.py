"""The app's log file in the user's log directory, and hooks that send uncaught errors to it."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path
from types import TracebackType

from platformdirs import user_log_dir

from velollm_desktop import APP_ID
from velollm_desktop.core.http.bounds import RedactingFormatter

LOG_NAME = "velollm-desktop.log"
MAX_BYTES = 1_000_000
BACKUPS = 2
QUIET_LOGGERS = ("httpx", "httpcore")
"""Libraries that log every request at INFO: kept to warnings (their requests are debug)."""
_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def log_path() -> Path:
    """Where the log is written (platformdirs' user_log_dir, e.g. ~/.local/state/<app>/log)."""
    return Path(user_log_dir(APP_ID, appauthor=False)) / LOG_NAME


def install(level: int = logging.INFO) -> Path | None:
    """Add a rotating file handler to the root logger and route uncaught exceptions to it.

    Returns the log path, or None when the directory cannot be written (the app still runs;
    logging then goes to stderr only).
    """
    path = log_path()
    root = logging.getLogger()
    if any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        return path  # installed already
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file (%s): %s", path, exc)
        return None
    handler.setFormatter(RedactingFormatter(_FORMAT))  # URL passwords never reach the file
    handler.setLevel(level)
    for other in root.handlers:  # keep stderr as terse as before: only the file gets INFO
        if other.level == logging.NOTSET:
            other.setLevel(root.level)
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, level))
    for chatty in QUIET_LOGGERS:  # one line per HTTP request (ten /health 503 per start)
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
    _hook_uncaught()
    return path


def _log_uncaught(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None, where: str
) -> None:
    logging.getLogger("velollm_desktop.uncaught").critical(
        "uncaught exception in %s", where, exc_info=(kind, exc, tb)
    )


def _hook_uncaught() -> None:
    previous_sys, previous_thread = sys.excepthook, threading.excepthook

    def on_sys(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _log_uncaught(kind, exc, tb, "the GUI thread")
        previous_sys(kind, exc, tb)

    def on_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            name = args.thread.name if args.thread else "a thread"
            _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback, name)
        previous_thread(args)

    sys.excepthook = on_sys
    threading.excepthook = on_thread
