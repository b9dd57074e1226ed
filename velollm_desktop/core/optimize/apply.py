"""Write a recommendation where it takes effect, keep a backup, verify, and undo.

Linux (systemd): the drop-in /etc/systemd/system/ollama.service.d/override.conf (never the
unit itself, which Ollama's installer overwrites), then `systemctl daemon-reload` and
`systemctl restart ollama`. When that directory is not writable by us, the file is staged in
a temp file and copied with `pkexec` (or `sudo`): `plan()` returns the exact commands first.
macOS: a LaunchAgent that re-applies `launchctl setenv` at login, plus `launchctl setenv` now.
Windows: the user environment (registry), as the Ollama FAQ says.

Every file write is atomic with a timestamped backup, recorded in a journal (data dir), so
`undo()` restores the previous file byte for byte (or removes a file we created).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from velollm_desktop.core.fsutil import atomic_write_text, unique_backup_path
from velollm_desktop.core.optimize import writers
from velollm_desktop.core.optimize.catalogue import DESKTOP_APP_OVERRIDES
from velollm_desktop.core.settings import data_dir

DROPIN = Path("/etc/systemd/system/ollama.service.d/override.conf")
Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess:
    """Run argv (never through a shell), capturing output; 120 s cap."""
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)


@dataclass(frozen=True)
class Plan:
    """What applying will do, shown to the user before anything changes."""

    target: Path
    content: str
    privileged: bool
    commands: tuple[tuple[str, ...], ...]
    """Commands run after (or, when privileged, to perform) the write, in order."""
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """Human-readable: the file and the exact commands."""
        lines = [f"write {self.target}" + (" (as administrator)" if self.privileged else "")]
        lines += ["run: " + " ".join(_display_quote(a) for a in cmd) for cmd in self.commands]
        return "\n".join(lines + list(self.notes))


def _display_quote(arg: str) -> str:
    return writers.shell_quote(arg) if any(c in arg for c in " '\"$`\\;&|<>*?") else arg


def _elevate() -> list[str]:
    if os.geteuid() == 0 if hasattr(os, "geteuid") else False:
        return []
    for tool in ("pkexec", "sudo"):
        if shutil.which(tool):
            return [tool]
    raise PermissionError(
        "writing the systemd drop-in needs administrator rights: install pkexec or sudo, "
        "or use `velollm optimize --format systemd` and apply it yourself"
    )


class Applier:
    """Applies, records and undoes configuration writes. `runner` runs commands (injectable)."""

    def __init__(
        self,
        *,
        runner: Runner = run_command,
        journal: Path | None = None,
        platform: str | None = None,
        dropin: Path = DROPIN,
        restart: bool = True,
    ) -> None:
        self.runner = runner
        self.journal = journal or data_dir() / "optimizer-journal.json"
        self.platform = platform or sys.platform
        self.dropin = dropin
        self.restart = restart

    # -- planning -------------------------------------------------------------------------
    def plan(self, env: Mapping[str, str]) -> Plan:
        """The write and commands for this platform (nothing is changed)."""
        if self.platform.startswith("linux"):
            existing = self.dropin.read_text(encoding="utf-8") if self.dropin.exists() else ""
            content = writers.render_systemd(env, existing)
            privileged = not _writable(self.dropin)
            cmds: list[tuple[str, ...]] = []
            if privileged:
                elevate = _elevate()
                cmds.append(
                    (*elevate, "install", "-D", "-m", "0644", "<staged file>", str(self.dropin))
                )
                prefix = tuple(elevate)
            else:
                prefix = ()
            if self.restart:
                cmds += [
                    (*prefix, "systemctl", "daemon-reload"),
                    (*prefix, "systemctl", "restart", "ollama"),
                ]
            return Plan(self.dropin, content, privileged, tuple(cmds))
        overridden = [k for k in env if k in DESKTOP_APP_OVERRIDES]
        warning = (
            (
                f"Warning: the Ollama desktop app sets {', '.join(overridden)} from its own settings when it "
                "starts the server, overriding these values; change them in the app's Settings too.",
            )
            if overridden
            else ()
        )
        if self.platform == "darwin":
            path = Path.home() / "Library" / "LaunchAgents" / f"{writers.LAUNCH_AGENT_LABEL}.plist"
            cmds = [("launchctl", "setenv", k, v) for k, v in sorted(writers.validate(env).items())]
            return Plan(
                path,
                writers.render_launchd(env),
                False,
                tuple(cmds),
                (
                    "Quit and reopen the Ollama app so it starts the server with these values.",
                    *warning,
                ),
            )
        path = data_dir() / "ollama-env.ps1"
        return Plan(
            path,
            writers.render_windows(env),
            False,
            (("powershell", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File", str(path)),),
            (
                "Quit Ollama from the taskbar first, then start it again from the Start menu.",
                *warning,
            ),
        )

    # -- applying -------------------------------------------------------------------------
    def apply(self, plan: Plan) -> Path | None:
        """Write the file (backup first), run the commands; returns the backup path (None if new).

        Raises RuntimeError with the command's output if a command fails; the file is then
        restored from the backup.
        """
        existed = plan.target.exists()
        if plan.privileged:
            backup = self._privileged_write(plan)
        else:
            backup = atomic_write_text(plan.target, plan.content, backup=existed)
        self._record(plan.target, backup, existed)
        for cmd in plan.commands:
            if "<staged file>" in cmd:
                continue  # done by _privileged_write
            res = self.runner(cmd)
            if res.returncode != 0:
                self.undo()
                raise RuntimeError(
                    f"`{' '.join(cmd)}` failed ({res.returncode}): {(res.stderr or res.stdout).strip()[:300]}"
                    " — the previous configuration was restored"
                )
        return backup

    def _privileged_write(self, plan: Plan) -> Path | None:
        elevate = list(_elevate())
        backup = None
        if plan.target.exists():
            backup = unique_backup_path(plan.target)
            self._check(self.runner([*elevate, "cp", "-p", str(plan.target), str(backup)]))
        with tempfile.NamedTemporaryFile("w", delete=False, suffix=".conf", encoding="utf-8") as fh:
            fh.write(plan.content)
            staged = fh.name
        try:
            # install(1) writes a temp file in the target dir and renames it: atomic
            self._check(
                self.runner([*elevate, "install", "-D", "-m", "0644", staged, str(plan.target)])
            )
        finally:
            os.unlink(staged)
        return backup

    @staticmethod
    def _check(res: subprocess.CompletedProcess) -> None:
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(res.args)} failed: {(res.stderr or '').strip()[:300]}")

    # -- journal and undo -----------------------------------------------------------------
    def _entries(self) -> list[dict]:
        try:
            data = json.loads(self.journal.read_text(encoding="utf-8"))
            return data if isinstance(data, list) else []
        except (OSError, ValueError):
            return []

    def _record(self, target: Path, backup: Path | None, existed: bool) -> None:
        entries = self._entries()
        entries.append(
            {
                "time": time.time(),
                "target": str(target),
                "backup": str(backup) if backup else None,
                "existed": existed,
            }
        )
        atomic_write_text(self.journal, json.dumps(entries, indent=1))

    def can_undo(self) -> bool:
        """Whether there is an applied change to undo."""
        return bool(self._entries())

    def undo(self) -> str:
        """Restore the state before the last apply; returns what was done."""
        entries = self._entries()
        if not entries:
            return "nothing to undo"
        last = entries.pop()
        target = Path(last["target"])
        privileged = not _writable(target)
        elevate = _elevate() if privileged else []
        if last["existed"] and last["backup"]:
            if privileged:
                self._check(self.runner([*elevate, "cp", "-p", last["backup"], str(target)]))
            else:
                data = Path(last["backup"]).read_bytes()
                atomic_write_bytes(target, data)
            done = f"restored {target} from {last['backup']}"
        else:
            if privileged:
                self._check(self.runner([*elevate, "rm", "-f", str(target)]))
            else:
                target.unlink(missing_ok=True)
            done = f"removed {target} (it did not exist before)"
        atomic_write_text(self.journal, json.dumps(entries, indent=1))
        if self.platform.startswith("linux") and self.restart:
            for cmd in (
                [*elevate, "systemctl", "daemon-reload"],
                [*elevate, "systemctl", "restart", "ollama"],
            ):
                self.runner(cmd)
        return done


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Byte-exact atomic replace (used by undo)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _writable(path: Path) -> bool:
    d = path.parent
    while not d.exists() and d != d.parent:
        d = d.parent
    return os.access(d, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))
