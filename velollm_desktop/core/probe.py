"""Safe helpers for hardware probes: bounded subprocesses and log-once warnings.

A probe never raises to its caller: a missing tool, a permission error, a timeout or
garbage output yields `None` and one log line (per distinct problem, per process).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from pathlib import Path

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
"""Hard cap, in seconds, on any subprocess a hardware probe starts."""

_logged: set[str] = set()
_logged_lock = threading.Lock()


def log_once(key: str, message: str, *args: object) -> None:
    """Log `message` at INFO level the first time `key` is seen in this process."""
    with _logged_lock:
        if key in _logged:
            return
        _logged.add(key)
    log.info(message, *args)


def run_tool(argv: list[str], timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Run `argv` (no shell) and return its stdout, or `None` if it is absent or fails.

    The first element is looked up on PATH; the child is killed after `timeout_s` seconds.
    """
    exe = shutil.which(argv[0])
    if exe is None:
        log_once(f"missing:{argv[0]}", "%s not found on PATH; skipping that probe", argv[0])
        return None
    try:
        done = subprocess.run(
            [exe, *argv[1:]],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log_once(f"fail:{argv[0]}", "%s failed: %s", argv[0], exc)
        return None
    if done.returncode != 0:
        log_once(f"rc:{argv[0]}", "%s exited with status %s", argv[0], done.returncode)
        return None
    return done.stdout


def read_text(path: Path) -> str | None:
    """Return the stripped text of a small file (sysfs, /proc), or `None` if unreadable."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def read_int(path: Path) -> int | None:
    """Return the integer in a sysfs-style file, or `None` if absent or not an integer."""
    text = read_text(path)
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def to_float(text: object) -> float | None:
    """Parse a number from tool output ("N/A", "[Not Supported]", "" → `None`)."""
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value
