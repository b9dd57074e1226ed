"""Write a recommendation where it takes effect, keep a backup, verify, and undo.

Linux (systemd): the drop-in /etc/systemd/system/ollama.service.d/override.conf (never the
unit itself, which Ollama's installer overwrites), then `systemctl daemon-reload` and
`systemctl restart ollama`. When that directory is not writable by us, the file is staged in
a temp file and copied with `pkexec` (or `sudo`): `plan()` returns the exact commands first.
macOS: a LaunchAgent that re-applies `launchctl setenv` at login, plus `launchctl setenv` now.
Windows: the user environment (registry), as the Ollama FAQ says.

Apply is a transaction: the journal entry (target, backup, mode, owner, hash of what we
write) is written BEFORE the file is replaced; when a command cannot run, fails or hangs
(`COMMAND_TIMEOUT_S`), the previous file is restored and the error says so. `undo()`
restores the previous file byte for byte with its mode and owner (or removes a file we
created); it refuses, with one line, a corrupt journal, a missing backup, a path the journal
did not record for this applier, a symlink, and a file edited since we wrote it (unless
`force=True`: the caller asked the user).
"""

from __future__ import annotations

import contextlib
import hashlib
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

from velollm_desktop.core.fsutil import (
    UnreadableFile,
    atomic_write_text,
    read_own_json,
    unique_backup_path,
)
from velollm_desktop.core.optimize import writers
from velollm_desktop.core.optimize.catalogue import DESKTOP_APP_OVERRIDES
from velollm_desktop.core.settings import data_dir

DROPIN = Path("/etc/systemd/system/ollama.service.d/override.conf")
Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]
COMMAND_TIMEOUT_S = 60.0
"""Longest wait for one command (`systemctl restart` of a loaded server takes seconds)."""


class ApplyError(RuntimeError):
    """Applying or undoing failed; the message is one line that says what state things are in."""


class UserEdited(ApplyError):
    """The file changed since we wrote it: undo would discard the user's edits (ask first)."""


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess:
    """Run argv (never through a shell), capturing output; `COMMAND_TIMEOUT_S` cap."""
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )


def sha256_file(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def refuse_symlinks(target: Path) -> None:
    """Never write through a symlinked file or a symlinked directory it sits in (`.d`)."""
    for p in (target, target.parent):
        if p.is_symlink():
            raise ApplyError(
                f"{p} is a symbolic link: refusing to write through it into another place; "
                "replace it with a real file or directory first"
            )


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
        overridden = ", ".join(k for k in env if k in DESKTOP_APP_OVERRIDES)
        warning: tuple[str, ...] = ()
        if overridden:
            warning = (
                f"Warning: the Ollama desktop app sets {overridden} from its own settings when it "
                "starts the server, overriding these values; change them in the app's Settings too.",
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
        """Journal, back up, write, run the commands; returns the backup path (None if new).

        Raises ApplyError (a RuntimeError) when a command cannot run, fails or hangs: the
        previous file is then restored and the message says so.
        """
        refuse_symlinks(plan.target)
        existed = plan.target.exists()
        st = plan.target.stat() if existed else None
        backup = unique_backup_path(plan.target) if existed else None
        entry = {
            "time": time.time(),
            "target": str(plan.target),
            "backup": str(backup) if backup else None,
            "existed": existed,
            "mode": st.st_mode & 0o7777 if st else None,
            "uid": st.st_uid if st else None,
            "gid": st.st_gid if st else None,
            "sha256": hashlib.sha256(plan.content.encode("utf-8")).hexdigest(),
        }
        entries = self._entries()
        self._save([*entries, entry])  # the journal first: a crash below is still undoable
        try:
            if plan.privileged:
                self._privileged_write(plan, backup)
            else:
                self._write(plan, backup, st)
        except BaseException:
            self._save(entries)  # nothing was replaced
            raise
        for cmd in plan.commands:
            if "<staged file>" in cmd:
                continue  # done by _privileged_write
            failure = self._run(cmd)
            if failure:
                self.undo(force=True, restart=False)
                raise ApplyError(f"{failure} — the previous configuration was restored")
        return backup

    def _write(self, plan: Plan, backup: Path | None, st: os.stat_result | None) -> None:
        if backup is not None:
            shutil.copy2(plan.target, backup)
        if not plan.target.parent.exists():
            plan.target.parent.mkdir(parents=True)
            refuse_symlinks(plan.target)
        atomic_write_text(plan.target, plan.content, mode=st.st_mode & 0o777 if st else 0o644)
        if st is not None:
            _chown(plan.target, st.st_uid, st.st_gid)

    def _run(self, cmd: Sequence[str]) -> str | None:
        """Run one command; a sentence saying how it failed, or None."""
        shown = " ".join(cmd)
        try:
            res = self.runner(cmd)
        except subprocess.TimeoutExpired:
            return f"`{shown}` did not finish within {COMMAND_TIMEOUT_S:g} s"
        except OSError as exc:
            return f"`{shown}` could not run ({exc.strerror or exc})"
        if res.returncode != 0:
            out = (res.stderr or res.stdout or "").strip()[:300]
            return f"`{shown}` failed ({res.returncode}): {out}"
        return None

    def _privileged_write(self, plan: Plan, backup: Path | None) -> None:
        elevate = list(_elevate())
        if backup is not None:
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

    @staticmethod
    def _check(res: subprocess.CompletedProcess) -> None:
        if res.returncode != 0:
            raise ApplyError(f"{' '.join(res.args)} failed: {(res.stderr or '').strip()[:300]}")

    # -- journal and undo -----------------------------------------------------------------
    def _entries(self) -> list[dict]:
        """The journal's entries; ApplyError (one line) when it exists but is unreadable."""
        try:
            data = read_own_json(self.journal)
        except FileNotFoundError:
            return []
        except UnreadableFile as exc:
            raise ApplyError(
                f"the undo journal {self.journal} is unreadable ({exc}); nothing was changed — "
                "restore the file from its .bak copy by hand, then delete the journal"
            ) from None
        if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
            raise ApplyError(
                f"the undo journal {self.journal} is not a list of entries; nothing was changed"
            )
        return data

    def _save(self, entries: list[dict]) -> None:
        atomic_write_text(self.journal, json.dumps(entries, indent=1))

    def can_undo(self) -> bool:
        """Whether there is an applied change to undo (False when the journal is unreadable)."""
        try:
            return bool(self._entries())
        except ApplyError:
            return False

    def known_targets(self) -> set[Path]:
        """The only paths undo may write or delete."""
        plist = Path.home() / "Library" / "LaunchAgents" / f"{writers.LAUNCH_AGENT_LABEL}.plist"
        return {self.dropin, plist, data_dir() / "ollama-env.ps1"}

    def _checked(self, entry: dict) -> tuple[Path, Path | None]:
        """The entry's target and backup, or ApplyError when it names a path we never wrote."""
        target, backup = entry.get("target"), entry.get("backup")
        if not isinstance(target, str) or Path(target) not in self.known_targets():
            raise ApplyError(
                f"the undo journal names {str(target)[:200]!r}, which this applier never writes; "
                "nothing was changed"
            )
        t = Path(target)
        if backup is not None and (
            not isinstance(backup, str)
            or Path(backup).parent != t.parent
            or not Path(backup).name.startswith(f"{t.name}.bak-")
        ):
            raise ApplyError(
                f"the undo journal names {str(backup)[:200]!r} as the backup of {t}, which is not "
                "one we made; nothing was changed"
            )
        return t, Path(backup) if backup else None

    def undo(self, *, force: bool = False, restart: bool = True) -> str:
        """Restore the state before the last apply; returns what was done.

        Raises UserEdited when the file changed since we wrote it (call again with
        `force=True` once the user agreed), ApplyError for a missing backup, a corrupt
        journal or a path the journal should not name.
        """
        entries = self._entries()
        if not entries:
            return "nothing to undo"
        last = entries[-1]
        target, backup = self._checked(last)
        refuse_symlinks(target)
        recorded = last.get("sha256")
        current = sha256_file(target)
        if not force and recorded and current is not None and current != recorded:
            raise UserEdited(
                f"{target} was edited after VeloLLM wrote it; undo would discard those edits"
            )
        if (last.get("existed") and backup is None) or (backup and not backup.exists()):
            raise ApplyError(
                f"the backup {backup} recorded for the last apply is missing; {target} was "
                "left as it is"
            )
        done = self._restore(target, backup, last)
        self._save(entries[:-1])
        if self.platform.startswith("linux") and self.restart and restart:
            prefix = _elevate() if not _writable(target) else []
            for cmd in (
                [*prefix, "systemctl", "daemon-reload"],
                [*prefix, "systemctl", "restart", "ollama"],
            ):
                failure = self._run(cmd)
                if failure:
                    return f"{done}; but {failure}: restart Ollama yourself"
        return done

    def _restore(self, target: Path, backup: Path | None, entry: dict) -> str:
        privileged = not _writable(target)
        elevate = _elevate() if privileged else []
        if backup is not None:
            if privileged:
                self._check(self.runner([*elevate, "cp", "-p", str(backup), str(target)]))
            else:
                atomic_write_bytes(target, backup.read_bytes())
                mode = entry.get("mode")
                os.chmod(target, mode if isinstance(mode, int) else 0o644)
                if isinstance(entry.get("uid"), int) and isinstance(entry.get("gid"), int):
                    _chown(target, entry["uid"], entry["gid"])
            return f"restored {target} from {backup}"
        if privileged:
            self._check(self.runner([*elevate, "rm", "-f", str(target)]))
        else:
            target.unlink(missing_ok=True)
        return f"removed {target} (it did not exist before)"


def _chown(path: Path, uid: int, gid: int) -> None:
    """Give `path` back its owner (only root can; others keep their own files anyway)."""
    with contextlib.suppress(PermissionError, AttributeError):
        os.chown(path, uid, gid)


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
