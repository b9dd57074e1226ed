"""Start at login: an XDG autostart entry (Linux), the Run key (Windows), a LaunchAgent (macOS).

Enabling writes exactly one file or registry value; disabling removes exactly that, so
toggling twice leaves nothing behind.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import sys
from pathlib import Path

from velollm_desktop import APP_ID, APP_NAME
from velollm_desktop.core.fsutil import atomic_write_text

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
LAUNCH_AGENT_LABEL = "io.velollm.desktop"


def launch_command() -> list[str]:
    """argv that starts the GUI the way this copy was started (frozen bundle or Python)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "velollm_desktop"]


def _xdg_path(home: Path | None = None) -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str((home or Path.home()) / ".config")
    return Path(base) / "autostart" / f"{APP_ID}.desktop"


def _launch_agent_path(home: Path | None = None) -> Path:
    return (home or Path.home()) / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"


def desktop_entry(argv: list[str]) -> str:
    """An XDG autostart .desktop entry whose Exec line is quoted per the spec."""
    exec_line = " ".join(_desktop_quote(a) for a in argv)
    return (
        "[Desktop Entry]\nType=Application\n"
        f"Name={APP_NAME}\nComment=LLM hardware monitor in the system tray\n"
        f"Exec={exec_line}\nIcon={APP_ID}\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
    )


def _desktop_quote(arg: str) -> str:
    # Desktop Entry spec: quote args with reserved chars; escape " ` $ \ inside quotes.
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def is_enabled() -> bool:
    """Whether start-at-login is currently set up for this user."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import winreg  # noqa: PLC0415

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.QueryValueEx(key, APP_NAME)
            return True
        except OSError:
            return False
    if sys.platform == "darwin":
        return _launch_agent_path().exists()
    return _xdg_path().exists()


def set_enabled(enabled: bool, argv: list[str] | None = None) -> Path | None:
    """Enable or disable start-at-login; returns the file written (None on Windows/disable)."""
    argv = argv or launch_command()
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import subprocess  # noqa: PLC0415
        import winreg  # noqa: PLC0415

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            if enabled:
                winreg.SetValueEx(key, APP_NAME, 0, winreg.REG_SZ, subprocess.list2cmdline(argv))
            else:
                try:
                    winreg.DeleteValue(key, APP_NAME)
                except FileNotFoundError:
                    pass
        return None
    path = _launch_agent_path() if sys.platform == "darwin" else _xdg_path()
    if not enabled:
        path.unlink(missing_ok=True)
        return None
    if sys.platform == "darwin":
        plist = {"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": argv, "RunAtLoad": True}
        atomic_write_text(path, plistlib.dumps(plist).decode())
    else:
        atomic_write_text(path, desktop_entry(argv))
    return path


def describe(argv: list[str] | None = None) -> str:
    """The command that would run at login, shell-quoted for display."""
    return shlex.join(argv or launch_command())
