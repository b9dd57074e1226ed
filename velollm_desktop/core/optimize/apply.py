"""Write a recommendation where it takes effect, keep a backup, verify, and undo.

Linux (systemd): the drop-in /etc/systemd/system/ollama.service.d/override.conf (never the
unit itself, which Ollama's installer overwrites), then `systemctl daemon-reload` and
`systemctl restart ollama`. When that directory is not writable by us, the file is staged in
a temp file and copied with `pkexec` (or `sudo`): `plan()` returns the exact commands first.
macOS: a LaunchAgent that re-applies `launchctl setenv` at login, plus `launchctl setenv` now.
Windows: the user environment (registry), as the Ollama FAQ says.

Apply is a transaction under one lock (`journal.JournalLock`: a second apply or undo waits,
then refuses): the journal entry (target, backup, mode, owner, hash of what we write) is
written BEFORE the file is replaced, as an "intent", and marked done after the commands ran;
when a command cannot run, fails or hangs (`COMMAND_TIMEOUT_S`), or the run is interrupted,
the previous file is restored and the error says so; SIGTERM waits until the apply finished.
An entry left as an intent by a kill is repaired by undo from what is on disk. `undo()`
restores the previous file byte for byte with its mode and owner (or removes a file we
created); it refuses, with one line, a corrupt journal, a missing backup, a path the journal
did not record for this applier, a symlink, and a file edited since we wrote it (unless
`force=True`: the caller asked the user).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from velollm_desktop.core.fsutil import atomic_write_bytes, atomic_write_text, unique_backup_path
from velollm_desktop.core.optimize import writers
from velollm_desktop.core.optimize.catalogue import DESKTOP_APP_OVERRIDES
from velollm_desktop.core.optimize.journal import (
    ApplyError,
    EntryState,
    JournalEntry,
    JournalLock,
    read_entries,
    write_entries,
)
from velollm_desktop.core.optimize.safe_files import (
    chown_back,
    elevate_prefix,
    exclusive_copy,
    refuse_symlinks,
    sha256_file,
    sigterm_deferred,
    writable,
)
from velollm_desktop.core.settings import data_dir

DROPIN = Path("/etc/systemd/system/ollama.service.d/override.conf")
Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]
COMMAND_TIMEOUT_S = 60.0
"""Longest wait for one command (`systemctl restart` of a loaded server takes seconds)."""


class UserEdited(ApplyError):
    """The file changed since we wrote it: undo would discard the user's edits (ask first)."""


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess:
    """Run argv (never through a shell), capturing output; `COMMAND_TIMEOUT_S` cap."""
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
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
    base_sha256: str | None = ""
    """The target's hash when the plan was made (None: it did not exist; "": not recorded):
    apply refuses when the file changed since (another apply ran in between)."""

    def describe(self) -> str:
        """Human-readable: the file and the exact commands."""
        lines = [f"write {self.target}" + (" (as administrator)" if self.privileged else "")]
        lines += ["run: " + c for c in self.command_lines()]
        return "\n".join(lines + list(self.notes))

    def command_lines(self) -> tuple[str, ...]:
        """Each command as the user reads it (the preview and `describe`)."""
        return tuple(" ".join(writers.display_quote(a) for a in cmd) for cmd in self.commands)

    @property
    def restarts(self) -> bool:
        """Whether the plan restarts Ollama (its systemd restart step)."""
        return any(cmd[-2:] == ("restart", "ollama") for cmd in self.commands)


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
        self._lock = JournalLock(self.journal)

    # -- planning -------------------------------------------------------------------------
    def plan(self, env: Mapping[str, str]) -> Plan:
        """The write and commands for this platform (nothing is changed)."""
        if self.platform.startswith("linux"):
            existing = self.dropin.read_text(encoding="utf-8") if self.dropin.exists() else ""
            content = writers.render_systemd(env, existing)
            privileged = not writable(self.dropin)
            cmds: list[tuple[str, ...]] = []
            if privileged:
                elevate = elevate_prefix()
                cmds.append(
                    (*elevate, "install", "-D", "-m", "0644", "<staged file>", str(self.dropin))
                )
                prefix = tuple(elevate)
            else:
                prefix = ()
            if self.restart:
                cmds += _restart_commands(prefix)
            return Plan(
                self.dropin, content, privileged, tuple(cmds), base_sha256=sha256_file(self.dropin)
            )
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

        Raises ApplyError when another apply holds the lock past `LOCK_WAIT_S`, the file
        changed since the plan, or a command cannot run, fails or hangs: the previous file is
        then restored and the message says so.
        """
        with self._lock, sigterm_deferred():
            refuse_symlinks(plan.target)
            if plan.base_sha256 != "" and sha256_file(plan.target) != plan.base_sha256:
                raise ApplyError(
                    f"{plan.target} changed since this plan was made (another apply?); nothing "
                    "was changed — look at the recommendation again"
                )
            entries = self._entries()
            existed = plan.target.exists()
            st = plan.target.stat() if existed else None
            entry = JournalEntry(
                target=plan.target,
                backup=unique_backup_path(plan.target) if existed else None,
                existed=existed,
                mode=st.st_mode & 0o7777 if st else None,
                uid=st.st_uid if st else None,
                gid=st.st_gid if st else None,
                sha256=hashlib.sha256(plan.content.encode("utf-8")).hexdigest(),
                time_s=time.time(),
                state=EntryState.INTENT,
            )
            write_entries(self.journal, [*entries, entry])  # first: a crash below is repairable
            try:
                self._perform(plan, entry, st)
            except BaseException:
                self._rollback(entries, entry)
                raise
            write_entries(self.journal, [*entries, entry.done()])
            return entry.backup

    def _perform(self, plan: Plan, entry: JournalEntry, st: os.stat_result | None) -> None:
        if plan.privileged:
            self._privileged_write(plan, entry.backup)
        else:
            self._write(plan, entry.backup, st)
        for cmd in plan.commands:
            if "<staged file>" in cmd:
                continue  # done by _privileged_write
            failure = self._run(cmd)
            if failure:
                raise ApplyError(f"{failure} — the previous configuration was restored")

    def _rollback(self, entries: list[JournalEntry], entry: JournalEntry) -> None:
        """Put back what `entry` replaced (if it was replaced) and drop the entry."""
        if entry.sha256 is not None and sha256_file(entry.target) == entry.sha256:
            self._restore(entry.target, entry.backup, entry)
        write_entries(self.journal, entries)

    def _write(self, plan: Plan, backup: Path | None, st: os.stat_result | None) -> None:
        if backup is not None:
            exclusive_copy(plan.target, backup)
        if not plan.target.parent.exists():
            plan.target.parent.mkdir(parents=True)
            refuse_symlinks(plan.target)
        atomic_write_text(plan.target, plan.content, mode=st.st_mode & 0o777 if st else 0o644)
        if st is not None:
            chown_back(plan.target, st.st_uid, st.st_gid)

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
        elevate = list(elevate_prefix())
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
    def _entries(self) -> list[JournalEntry]:
        """The journal's entries; ApplyError (one line) when it exists but is unreadable."""
        return read_entries(self.journal)

    def can_undo(self) -> bool:
        """Whether there is an applied change to undo (False when the journal is unreadable)."""
        try:
            return bool(self._entries())
        except ApplyError:
            return False

    def restarts_on_undo(self) -> bool:
        """Whether undo restarts Ollama (systemd) — the consent text says so."""
        return self.platform.startswith("linux") and self.restart

    def known_targets(self) -> set[Path]:
        """The only paths undo may write or delete."""
        plist = Path.home() / "Library" / "LaunchAgents" / f"{writers.LAUNCH_AGENT_LABEL}.plist"
        return {self.dropin, plist, data_dir() / "ollama-env.ps1"}

    def _checked(self, entry: JournalEntry) -> tuple[Path, Path | None]:
        """The entry's target and backup, or ApplyError when it names a path we never wrote."""
        t, backup = entry.target, entry.backup
        if t not in self.known_targets():
            raise ApplyError(
                f"the undo journal names {str(t)[:200]!r}, which this applier never writes; "
                "nothing was changed"
            )
        if backup is not None and (
            backup.parent != t.parent or not backup.name.startswith(f"{t.name}.bak-")
        ):
            raise ApplyError(
                f"the undo journal names {str(backup)[:200]!r} as the backup of {t}, which is not "
                "one we made; nothing was changed"
            )
        return t, backup

    def undo(self, *, force: bool = False, restart: bool = True) -> str:
        """Restore the state before the last apply; returns what was done.

        An entry an interrupted apply left as an intent is repaired first: when the file was
        never replaced, the entry is dropped (and said so) and the apply before it is undone.
        Raises UserEdited when the file changed since we wrote it (call again with
        `force=True` once the user agreed), ApplyError for a missing backup, a corrupt
        journal, a path the journal should not name, or another apply holding the lock.
        """
        with self._lock:
            entries = self._entries()
            dropped: list[str] = []
            while entries and self._never_written(entries[-1]):
                dropped.append(
                    f"an interrupted apply never replaced {entries[-1].target}: its entry was dropped"
                )
                entries = entries[:-1]
                write_entries(self.journal, entries)
            if not entries:
                return "; ".join(dropped) or "nothing to undo"
            done = self._undo_last(entries, force=force, restart=restart)
            return "; ".join([*dropped, done])

    def _never_written(self, entry: JournalEntry) -> bool:
        """An intent whose file is not what we would have written: the kill came first."""
        if entry.state is not EntryState.INTENT:
            return False
        target, backup = self._checked(entry)
        if entry.sha256 is not None and sha256_file(target) == entry.sha256:
            return False  # written: undo it like a finished apply
        if (
            backup is not None
            and backup.is_file()
            and writable(backup)
            and (sha256_file(backup) == sha256_file(target))
        ):
            backup.unlink()  # the copy of a file that is still there unchanged
        return True

    def _undo_last(self, entries: list[JournalEntry], *, force: bool, restart: bool) -> str:
        last = entries[-1]
        target, backup = self._checked(last)
        refuse_symlinks(target)
        current = sha256_file(target)
        if not force and last.sha256 and current is not None and current != last.sha256:
            raise UserEdited(
                f"{target} was edited after VeloLLM wrote it; undo would discard those edits"
            )
        if (last.existed and backup is None) or (backup and not backup.exists()):
            raise ApplyError(
                f"the backup {backup} recorded for the last apply is missing; {target} was "
                "left as it is"
            )
        done = self._restore(target, backup, last)
        write_entries(self.journal, entries[:-1])
        if self.restarts_on_undo() and restart:
            prefix = tuple(elevate_prefix()) if not writable(target) else ()
            for cmd in _restart_commands(prefix):
                failure = self._run(cmd)
                if failure:
                    return f"{done}; but {failure}: restart Ollama yourself"
        return done

    def _restore(self, target: Path, backup: Path | None, entry: JournalEntry) -> str:
        privileged = not writable(target)
        elevate = elevate_prefix() if privileged else []
        if backup is not None:
            if privileged:
                self._check(self.runner([*elevate, "cp", "-p", str(backup), str(target)]))
            else:
                atomic_write_bytes(target, backup.read_bytes())
                os.chmod(target, entry.mode if entry.mode is not None else 0o644)
                if entry.uid is not None and entry.gid is not None:
                    chown_back(target, entry.uid, entry.gid)
            return f"restored {target} from {backup}"
        if privileged:
            self._check(self.runner([*elevate, "rm", "-f", str(target)]))
        else:
            target.unlink(missing_ok=True)
        return f"removed {target} (it did not exist before)"


def _restart_commands(prefix: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """What makes systemd's Ollama read the drop-in (apply and undo run the same two)."""
    return ((*prefix, "systemctl", "daemon-reload"), (*prefix, "systemctl", "restart", "ollama"))
