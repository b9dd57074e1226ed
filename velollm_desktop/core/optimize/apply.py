"""Write a recommendation where it takes effect, keep a backup, verify, and undo.

The `Applier` composes the target of this OS (`targets.target_for`: a systemd drop-in, a
launchd agent or the Windows user environment) and carries out its `Plan` — typed steps
(`targets_steps`: write the file, run a command, restart Ollama) that `plan()` returns for
the user to see first.

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

Where the plan's commands set variables outside the file (`Plan.env`: `launchctl setenv`, the
Windows user environment), apply first reads their values (`target.read_env`, under the lock)
into the intent entry; undo — and a rollback — restores the file, then runs
`target.give_back_env` (each one set back, or removed where it was unset). A failure there is
an ApplyError that also says the file was restored. An entry of an earlier version (no recorded
values) undoes the file only, with the target's note on what stays set.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from velollm_desktop.core.fsutil import unique_backup_path
from velollm_desktop.core.optimize.journal import (
    ApplyError,
    EntryState,
    EnvValue,
    JournalEntry,
    JournalLock,
    read_entries,
    write_entries,
)
from velollm_desktop.core.optimize.safe_files import (
    refuse_symlinks,
    sha256_file,
    sigterm_deferred,
    writable,
)
from velollm_desktop.core.optimize.targets import DROPIN, Target, target_for
from velollm_desktop.core.optimize.targets_files import Runner
from velollm_desktop.core.optimize.targets_steps import Plan, WriteFile
from velollm_desktop.core.settings import data_dir

__all__ = ["DROPIN", "Applier", "ApplyError", "Plan", "Runner", "UserEdited", "run_command"]

COMMAND_TIMEOUT_S = 60.0
"""Longest wait for one command (`systemctl restart` of a loaded server takes seconds)."""


class UserEdited(ApplyError):
    """The file changed since we wrote it: undo would discard the user's edits (ask first)."""


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess:
    """Run argv (never through a shell), capturing output; `COMMAND_TIMEOUT_S` cap."""
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
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
        self._platform = platform or sys.platform
        self._dropin, self._restart = dropin, restart
        self.target: Target = target_for(self._platform, runner, dropin=dropin, restart=restart)
        self._lock = JournalLock(self.journal)

    # what the target was chosen from (read-only: another one needs another Applier)
    @property
    def platform(self) -> str:
        return self._platform

    @property
    def dropin(self) -> Path:
        return self._dropin

    @property
    def restart(self) -> bool:
        return self._restart

    def plan(self, env: Mapping[str, str]) -> Plan:
        """The target's steps for `env` (nothing is changed)."""
        return self.target.plan(env)

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
            st = plan.target.stat() if plan.target.exists() else None
            before = self.target.read_env([k for k, _ in plan.env or ()])  # nothing changed yet
            entry = _intent(plan, st, before)
            write_entries(self.journal, [*entries, entry])  # first: a crash below is repairable
            try:
                self._perform(plan, entry, st)
            except BaseException as exc:
                left = self._rollback(entries, entry)
                if left and isinstance(exc, ApplyError):
                    raise ApplyError(f"{exc}; but {left}") from exc
                raise
            write_entries(self.journal, [*entries, entry.done()])
            return entry.backup

    def _perform(self, plan: Plan, entry: JournalEntry, st: os.stat_result | None) -> None:
        for step in plan.steps:
            if isinstance(step, WriteFile):
                self.target.write(step, entry.backup, st)
                continue
            failure = self._run(step.argv)
            if failure:
                raise ApplyError(f"{failure} — the previous configuration was restored")

    def _rollback(self, entries: list[JournalEntry], entry: JournalEntry) -> str:
        """Put back what `entry` replaced (if it was replaced: the file, then the environment)
        and drop the entry; what could not be given back, in words ("" when everything)."""
        failures: list[str] = []
        if entry.sha256 is not None and sha256_file(entry.target) == entry.sha256:
            self.target.restore(entry)
            failures = self._give_env_back(entry)
        write_entries(self.journal, entries)
        return _env_left(failures, entry)

    def _give_env_back(self, entry: JournalEntry) -> list[str]:
        """Run the target's commands that set `entry`'s variables back; how each one failed."""
        steps = self.target.give_back_env(entry.env) if entry.env else ()
        return [failure for step in steps if (failure := self._run(step.argv))]

    def _run(self, cmd: Sequence[str]) -> str | None:
        """Run one command; a sentence saying how it failed, or None."""
        shown = " ".join(cmd)
        shown = shown if len(shown) <= 300 else shown[:300] + "…"
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
        return self.target.restarts

    def env_on_undo(self) -> tuple[EnvValue, ...] | None:
        """The variables the next undo sets back (None: none recorded — nothing to undo, or an
        entry of an earlier version); read only, for the consent text."""
        try:
            entries = self._entries()
        except ApplyError:
            return None
        for e in reversed(entries):
            if e.state is EntryState.INTENT and (
                e.sha256 is None or sha256_file(e.target) != e.sha256
            ):
                continue  # never written: undo drops it and undoes the one before
            return e.env
        return None

    def known_targets(self) -> set[Path]:
        """The only paths undo may write or delete: the file this OS's target writes."""
        return {self.target.path}

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
        done = self._env_undone(last, self.target.restore(last), entries[:-1])
        if restart:
            for step in self.target.restart():
                failure = self._run(step.argv)
                if failure:
                    return f"{done}; but {failure}: restart Ollama yourself"
        return done

    def _env_undone(self, last: JournalEntry, done: str, rest: list[JournalEntry]) -> str:
        """After the file is back (`done`): drop the entry, set the environment back."""
        write_entries(self.journal, rest)
        if last.env is None:
            note = self.target.unrecorded_env_note
            return f"{done}; {note}" if note else done
        left = _env_left(self._give_env_back(last), last)
        if left:
            raise ApplyError(f"{done}, but {left}")
        if not last.env:
            return done
        return f"{done}; the environment is set back ({', '.join(v.shown() for v in last.env)})"


def _env_left(failures: list[str], entry: JournalEntry) -> str:
    """The sentence for variables that could not be set back ("" when none failed)."""
    if not failures or not entry.env:
        return ""
    todo = ", ".join(v.shown() for v in entry.env)
    return f"the environment was not set back: {'; '.join(failures)} — set it yourself ({todo})"


def _intent(
    plan: Plan, st: os.stat_result | None, before: Mapping[str, str | None]
) -> JournalEntry:
    """The journal entry written before `plan` replaces its file (and, with `plan.env`, the
    environment: each variable's value from `before`)."""
    env = None if plan.env is None else tuple(EnvValue(k, before.get(k), v) for k, v in plan.env)
    return JournalEntry(
        target=plan.target,
        backup=unique_backup_path(plan.target) if st is not None else None,
        existed=st is not None,
        mode=st.st_mode & 0o7777 if st else None,
        uid=st.st_uid if st else None,
        gid=st.st_gid if st else None,
        sha256=hashlib.sha256(plan.content.encode("utf-8")).hexdigest(),
        time_s=time.time(),
        state=EntryState.INTENT,
        env=env,
    )
