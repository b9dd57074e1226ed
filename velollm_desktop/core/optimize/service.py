"""How Ollama runs on this machine, and therefore where a setting takes effect.

A value written to the systemd drop-in only matters when systemd starts Ollama; the macOS
app re-reads `launchctl setenv` values when it is reopened; a server started by hand in a
terminal reads only that terminal's environment; a remote server is configured on its own
machine. `detect_runtime` tells these apart from the files and processes it sees (both
injectable: tests pass a sandboxed root and a fake process list) so the GUI and the CLI offer
only the target that takes effect, or say plainly why nothing can be applied.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

import psutil

UNIT = "ollama.service"
_UNIT_DIRS = ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system")
_APP_NAMES = ("ollama app", "ollama app.exe", "ollama.app", "ollama-app")


class Runtime(str, Enum):
    """Who starts the Ollama server here."""

    SYSTEMD = "systemd"
    DESKTOP_APP = "desktop app"
    MANUAL = "started by hand"
    NOT_INSTALLED = "not installed"
    REMOTE = "remote"
    UNSEEN = "answers, not seen by name"
    """The API answers at a local address but no process here is called `ollama serve`
    (a container, a wrapper, a renamed binary, another user's process)."""


@dataclass(frozen=True)
class ProcInfo:
    """One process, as far as detection needs it."""

    pid: int
    name: str
    cmdline: tuple[str, ...]
    parent_name: str = ""


@dataclass(frozen=True)
class RuntimeInfo:
    """The answer: how Ollama runs, whether the app can apply settings, and why (not)."""

    runtime: Runtime
    can_apply: bool
    explanation: str
    server_pid: int | None = None


def system_root() -> Path:
    """`/`, or the sandbox named by `VELOLLM_SYSTEM_ROOT` (tests and demos run the real app
    against a fake /etc without touching the machine's)."""
    return Path(os.environ.get("VELOLLM_SYSTEM_ROOT") or "/")


def systemd_dirs(root: Path = Path("/")) -> tuple[Path, ...]:
    """systemd's unit directories under `root` (highest precedence first)."""
    return tuple(root / d for d in _UNIT_DIRS)


def dropin_path(root: Path = Path("/")) -> Path:
    """The drop-in the optimizer writes, under `root`."""
    return root / "etc/systemd/system" / f"{UNIT}.d" / "override.conf"


def is_local_url(url: str) -> bool:
    """Whether `url` points at this machine (loopback, localhost or this host's name)."""
    host = (urlsplit(url if "://" in url else f"http://{url}").hostname or "").lower()
    if host in ("", "localhost", "0.0.0.0", "::"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        import socket  # noqa: PLC0415

        return host in (socket.gethostname().lower(), socket.getfqdn().lower())


def list_processes() -> list[ProcInfo]:
    """The processes named like Ollama (and their parents' names), from psutil."""
    out = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            name = (proc.info["name"] or "").lower()
            if "ollama" not in name:
                continue
            parent = proc.parent()
            out.append(
                ProcInfo(
                    proc.pid,
                    name,
                    tuple(proc.info["cmdline"] or ()),
                    (parent.name() or "").lower() if parent else "",
                )
            )
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def _server(procs: Iterable[ProcInfo]) -> ProcInfo | None:
    for p in procs:
        if p.name in ("ollama", "ollama.exe") and "serve" in p.cmdline:
            return p
    return None


def _app_running(procs: Iterable[ProcInfo]) -> bool:
    return any(p.name in _APP_NAMES or p.name.startswith("ollama app") for p in procs)


def _managed(
    root: Path, platform: str, procs: list[ProcInfo], server: ProcInfo | None
) -> RuntimeInfo | None:
    """A systemd service or the desktop app: the two places a setting can be applied."""
    pid = server.pid if server else None
    if platform.startswith("linux") and any((d / UNIT).exists() for d in systemd_dirs(root)):
        return RuntimeInfo(
            Runtime.SYSTEMD,
            True,
            f"Ollama runs as the systemd service {UNIT}: settings go to its drop-in "
            f"{dropin_path(root)} and take effect when the service restarts.",
            pid,
        )
    app_installed = platform == "darwin" and (root / "Applications/Ollama.app").exists()
    if platform in ("darwin", "win32") and (
        app_installed or _app_running(procs) or (server and server.parent_name.startswith("ollama"))
    ):
        return RuntimeInfo(
            Runtime.DESKTOP_APP,
            True,
            "Ollama runs from its desktop app: the settings are stored for the app, which "
            "must be quit and reopened for them to take effect.",
            pid,
        )
    return None


def _unseen(url: str) -> RuntimeInfo:
    """The API answers, the process list does not know it: it runs, we cannot configure it."""
    return RuntimeInfo(
        Runtime.UNSEEN,
        False,
        f"Ollama runs and answers at {url}, but not as a process named `ollama serve` that "
        "VeloLLM can see (a container, a wrapper script, a renamed binary or another user's "
        "process): its settings are set where it is started (`docker run -e NAME=value`, "
        "the container's or the script's environment). Use Copy commands for the values.",
    )


def _unmanaged(server: ProcInfo | None, installed: bool) -> RuntimeInfo:
    """Started by hand, installed but not running, or not installed: nothing to apply to."""
    if server is not None:
        return RuntimeInfo(
            Runtime.MANUAL,
            False,
            f"Ollama was started by hand (`ollama serve`, pid {server.pid}, no service manages "
            "it): it reads only the environment of the terminal that started it. Use Copy "
            "commands, paste them in that terminal and start `ollama serve` again.",
            server.pid,
        )
    if installed:
        return RuntimeInfo(
            Runtime.MANUAL,
            False,
            "Ollama is installed but not running, and no service or app starts it: set the "
            "variables (Copy commands) in the terminal where you run `ollama serve`.",
        )
    return RuntimeInfo(
        Runtime.NOT_INSTALLED,
        False,
        "Ollama is not installed here (no ollama.service, no Ollama app or `ollama` program, "
        "no running server): there is nothing to apply the settings to.",
    )


def detect_runtime(
    url: str,
    *,
    root: Path = Path("/"),
    platform: str | None = None,
    processes: Callable[[], list[ProcInfo]] = list_processes,
    which: Callable[[str], str | None] = shutil.which,
    answers: bool | None = None,
) -> RuntimeInfo:
    """How the Ollama server at `url` runs (see the module doc). `answers`: whether its API
    answered just now (None: not asked); the process list never contradicts the API."""
    platform = platform or sys.platform
    if not is_local_url(url):
        return RuntimeInfo(
            Runtime.REMOTE,
            False,
            f"Ollama at {url} runs on another machine: its settings are changed there "
            "(run VeloLLM on that machine, or use Copy commands).",
        )
    procs = processes()
    server = _server(procs)
    managed = _managed(root, platform, procs, server)
    if managed is not None:
        return managed
    if server is None and answers:
        return _unseen(url)
    return _unmanaged(server, installed=server is None and bool(which("ollama")))
