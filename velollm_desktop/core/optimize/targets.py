"""Where a recommendation takes effect, one target per OS, chosen once by `target_for`:

- `SystemdDropIn` (Linux): the drop-in /etc/systemd/system/ollama.service.d/override.conf
  (never the unit itself, which Ollama's installer overwrites), then `systemctl daemon-reload`
  and `systemctl restart ollama`; when we may not write it, through pkexec/sudo;
- `LaunchdAgent` (macOS): a LaunchAgent that re-applies `launchctl setenv` at login, plus
  `launchctl setenv` now; the user reopens the Ollama app;
- `WindowsUserEnv`: a PowerShell script that sets the user environment (registry), as the
  Ollama FAQ says, run now; the user restarts Ollama from the Start menu.

Each has `plan` (the typed steps), `write` (its file, from the plan's `WriteFile`), `restart`
(the steps that make Ollama read the file again — the same for apply and undo; none where the
user restarts it) and `restore` (the previous file back, from a journal entry); `write` and
`restore` are the same for all three (`targets_files.FileTarget`, which each one is).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from velollm_desktop.core.optimize import writers
from velollm_desktop.core.optimize.catalogue import DESKTOP_APP_OVERRIDES
from velollm_desktop.core.optimize.journal import JournalEntry
from velollm_desktop.core.optimize.safe_files import elevate_prefix, sha256_file, writable
from velollm_desktop.core.optimize.targets_files import FileTarget, Runner
from velollm_desktop.core.optimize.targets_steps import Plan, Restart, Run, WriteFile
from velollm_desktop.core.settings import data_dir

DROPIN = Path("/etc/systemd/system/ollama.service.d/override.conf")


class Target(Protocol):
    @property
    def path(self) -> Path:
        """The one file this target writes (the only path its undo may touch)."""
        ...

    @property
    def restarts(self) -> bool:
        """Whether apply and undo restart Ollama (the consent text says so)."""
        ...

    def plan(self, env: Mapping[str, str]) -> Plan: ...
    def write(self, step: WriteFile, backup: Path | None, st: os.stat_result | None) -> None: ...
    def restart(self) -> tuple[Run, ...]: ...
    def restore(self, entry: JournalEntry) -> str: ...


class SystemdDropIn(FileTarget):
    def __init__(self, path: Path, runner: Runner, *, restart: bool = True) -> None:
        super().__init__(runner)
        self.path = path
        self.restarts = restart

    def plan(self, env: Mapping[str, str]) -> Plan:
        existing = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        content = writers.render_systemd(env, existing)
        elevate = None if writable(self.path) else tuple(elevate_prefix())
        write = WriteFile(self.path, content, 0o644, elevate)
        return Plan((write, *self._restart(elevate or ())), base_sha256=sha256_file(self.path))

    def restart(self) -> tuple[Run, ...]:
        return self._restart(() if writable(self.path) else tuple(elevate_prefix()))

    def _restart(self, prefix: tuple[str, ...]) -> tuple[Run, ...]:
        if not self.restarts:
            return ()
        return (
            Run((*prefix, "systemctl", "daemon-reload"), "systemd reads the drop-in"),
            Restart((*prefix, "systemctl", "restart", "ollama")),
        )


class LaunchdAgent(FileTarget):
    restarts = False

    @property
    def path(self) -> Path:
        return Path.home() / "Library" / "LaunchAgents" / f"{writers.LAUNCH_AGENT_LABEL}.plist"

    def plan(self, env: Mapping[str, str]) -> Plan:
        setenv = [
            Run(("launchctl", "setenv", k, v), f"sets {k} for what starts from now on")
            for k, v in sorted(writers.validate(env).items())
        ]
        return Plan(
            (WriteFile(self.path, writers.render_launchd(env)), *setenv),
            ("Quit and reopen the Ollama app so it starts the server with these values.",)
            + _desktop_app_warning(env),
        )

    def restart(self) -> tuple[Run, ...]:
        return ()  # the user reopens the app (the plan's note)


class WindowsUserEnv(FileTarget):
    restarts = False

    @property
    def path(self) -> Path:
        return data_dir() / "ollama-env.ps1"

    def plan(self, env: Mapping[str, str]) -> Plan:
        script = self.path
        run = Run(
            ("powershell", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File", str(script)),
            "sets the user environment variables",
        )
        return Plan(
            (WriteFile(script, writers.render_windows(env)), run),
            ("Quit Ollama from the taskbar first, then start it again from the Start menu.",)
            + _desktop_app_warning(env),
        )

    def restart(self) -> tuple[Run, ...]:
        return ()  # the user starts Ollama again (the plan's note)


def target_for(
    platform: str, runner: Runner, *, dropin: Path = DROPIN, restart: bool = True
) -> Target:
    """The target of this OS (`sys.platform`'s words): systemd on Linux, launchd on macOS,
    the user environment elsewhere (Windows)."""
    if platform.startswith("linux"):
        return SystemdDropIn(dropin, runner, restart=restart)
    if platform == "darwin":
        return LaunchdAgent(runner)
    return WindowsUserEnv(runner)


def _desktop_app_warning(env: Mapping[str, str]) -> tuple[str, ...]:
    overridden = ", ".join(k for k in env if k in DESKTOP_APP_OVERRIDES)
    if not overridden:
        return ()
    return (
        f"Warning: the Ollama desktop app sets {overridden} from its own settings when it "
        "starts the server, overriding these values; change them in the app's Settings too.",
    )
