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

launchd and Windows also set variables outside the file (the running launchd environment, the
user's registry): `read_env` reads their values before an apply (journalled with the intent) and
`give_back_env` is the steps undo runs to set them back — `launchctl setenv`/`unsetenv` per
variable, or one PowerShell command (names checked by `writers.NAME_RE`, values only as
`writers.powershell_quote`d literals). An argv list every time: no value reaches a shell.
"""

from __future__ import annotations

import base64
import binascii
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from velollm_desktop.core.optimize import writers
from velollm_desktop.core.optimize.catalogue import DESKTOP_APP_OVERRIDES
from velollm_desktop.core.optimize.journal import ApplyError, EnvValue, JournalEntry
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
    def read_env(self, names: Sequence[str]) -> dict[str, str | None]:
        """The values of `names` the plan's commands will replace (None: unset); ApplyError
        when they cannot be read (nothing was changed yet)."""
        ...

    def give_back_env(self, values: tuple[EnvValue, ...]) -> tuple[Run, ...]:
        """The commands that set `values` back to their `before` (unset where None)."""
        ...

    @property
    def unrecorded_env_note(self) -> str:
        """What undo of an entry without recorded values leaves behind ("" when nothing)."""
        ...


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

    unrecorded_env_note = (
        "the values it set with launchctl setenv stay until you log out "
        "(`launchctl unsetenv NAME` removes one now)"
    )

    def plan(self, env: Mapping[str, str]) -> Plan:
        values = tuple(sorted(writers.validate(env).items()))
        setenv = [
            Run(("launchctl", "setenv", k, v), f"sets {k} for what starts from now on")
            for k, v in values
        ]
        return Plan(
            (WriteFile(self.path, writers.render_launchd(env)), *setenv),
            ("Quit and reopen the Ollama app so it starts the server with these values.",)
            + _desktop_app_warning(env),
            env=values,
        )

    def restart(self) -> tuple[Run, ...]:
        return ()  # the user reopens the app (the plan's note)

    def read_env(self, names: Sequence[str]) -> dict[str, str | None]:
        """`launchctl getenv NAME` each: no output (or a failure) means unset."""
        found: dict[str, str | None] = {}
        for name in names:
            res = _ask(self.runner, ("launchctl", "getenv", name))
            out = res.stdout or ""
            found[name] = out.removesuffix("\n") if res.returncode == 0 and out else None
        return found

    def give_back_env(self, values: tuple[EnvValue, ...]) -> tuple[Run, ...]:
        return tuple(
            Run(("launchctl", "unsetenv", v.name), f"unsets {v.name} (it was not set before)")
            if v.before is None
            else Run(("launchctl", "setenv", v.name, v.before), f"sets {v.name} back")
            for v in values
        )


class WindowsUserEnv(FileTarget):
    restarts = False

    @property
    def path(self) -> Path:
        return data_dir() / "ollama-env.ps1"

    unrecorded_env_note = (
        "the user environment variables it set stay: remove them under Settings → "
        '"Edit environment variables for your account"'
    )

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
            env=tuple(sorted(writers.validate(env).items())),
        )

    def restart(self) -> tuple[Run, ...]:
        return ()  # the user starts Ollama again (the plan's note)

    def read_env(self, names: Sequence[str]) -> dict[str, str | None]:
        """One PowerShell run printing `NAME -` (unset) or `NAME +<base64 of UTF-8>` a line:
        ASCII only, whatever the console's code page."""
        if not names:
            return {}
        res = _ask(self.runner, powershell_command(read_user_env_script(names)))
        if res.returncode != 0:
            raise ApplyError(
                f"the user environment could not be read ({res.returncode}: "
                f"{(res.stderr or res.stdout or '').strip()[:300]}); nothing was changed"
            )
        found = _parse_read(res.stdout or "", names)
        if set(found) != set(names):
            missing = ", ".join(n for n in names if n not in found)
            raise ApplyError(f"PowerShell did not report {missing}; nothing was changed")
        return found

    def give_back_env(self, values: tuple[EnvValue, ...]) -> tuple[Run, ...]:
        if not values:
            return ()
        script = set_user_env_script({v.name: v.before for v in values})
        return (Run(powershell_command(script), "sets the user environment variables back"),)


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


def powershell_command(script: str) -> tuple[str, ...]:
    return ("powershell", "-NoProfile", "-NonInteractive", "-Command", script)


def _names(names: Sequence[str]) -> list[str]:
    bad = [n for n in names if not writers.NAME_RE.match(n)]
    if bad:
        raise ApplyError(f"{bad[0][:100]!r} is not an environment variable name; nothing was run")
    return list(names)


def read_user_env_script(names: Sequence[str]) -> str:
    """PowerShell: each name's user-environment value, as `WindowsUserEnv.read_env` parses it."""
    listed = ", ".join(writers.powershell_quote(n) for n in _names(names))
    return (
        "$ErrorActionPreference = 'Stop'; "
        f"foreach ($k in @({listed})) {{ "
        "$v = [Environment]::GetEnvironmentVariable($k, 'User'); "
        "if ($null -eq $v) { $k + ' -' } "
        "else { $k + ' +' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($v)) } }"
    )


def set_user_env_script(values: Mapping[str, str | None]) -> str:
    """PowerShell that sets each user variable to its value, or removes it (None → `$null`)."""
    lines = ["$ErrorActionPreference = 'Stop'"]
    for name in _names(list(values)):
        value = values[name]
        quoted = "$null" if value is None else writers.powershell_quote(value)
        lines.append(
            f"[Environment]::SetEnvironmentVariable({writers.powershell_quote(name)}, "
            f"{quoted}, 'User')"
        )
    return "; ".join(lines)


def _parse_read(out: str, names: Sequence[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for line in out.splitlines():
        name, _, rest = line.strip().partition(" ")
        if name not in names or not (rest == "-" or rest.startswith("+")):
            continue
        try:
            found[name] = (
                None if rest == "-" else base64.b64decode(rest[1:], validate=True).decode("utf-8")
            )
        except (binascii.Error, UnicodeDecodeError):
            raise ApplyError(
                f"PowerShell reported {name} unreadably; nothing was changed"
            ) from None
    return found


def _ask(runner: Runner, argv: Sequence[str]) -> subprocess.CompletedProcess:
    """Run a read-only command; ApplyError (nothing was changed) when it cannot run or hangs."""
    try:
        return runner(argv)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ApplyError(
            f"`{' '.join(argv)[:200]}` could not run ({exc}), so the values undo would need "
            "cannot be recorded; nothing was changed"
        ) from None


def _desktop_app_warning(env: Mapping[str, str]) -> tuple[str, ...]:
    overridden = ", ".join(k for k in env if k in DESKTOP_APP_OVERRIDES)
    if not overridden:
        return ()
    return (
        f"Warning: the Ollama desktop app sets {overridden} from its own settings when it "
        "starts the server, overriding these values; change them in the app's Settings too.",
    )
