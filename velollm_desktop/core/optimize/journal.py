"""The optimizer's undo journal: typed entries, one reader, one lock.

Every apply appends an entry BEFORE it replaces a file (`state` "intent") and marks it "done"
once the file is written and the commands ran. A run killed in between leaves an "intent"
entry; undo repairs it from what is on disk (docs/RELIABILITY.md, "Apply and undo"). Entries
written before the state existed have none and read as "done", so a journal written by an
earlier version is still undone.

An apply whose commands set variables outside its file (`launchctl setenv`, the Windows user
environment) records each one's value from before (`env`, journalled with the intent); undo sets
them back. Entries without `env` (earlier versions, or a target whose variables live in its file)
undo the file only. Earlier versions ignore the key, so the journal stays readable both ways.

`JournalLock` serialises plan check → journal → write → commands across processes (two
`velollm optimize --apply`, the app and the CLI): a second run waits `LOCK_WAIT_S`, then
refuses with one sentence.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fsutil import UnreadableFile, atomic_write_text, read_own_json
from velollm_desktop.core.optimize.writers import NAME_RE

LOCK_WAIT_S = 30.0
"""How long a second apply/undo waits for the first (a restart takes seconds) before refusing."""
LOCK_POLL_S = 0.05
MAX_JOURNAL_BYTES = 4 * 1024 * 1024
"""An undo journal is a few hundred bytes an apply; a larger file is not ours."""


class ApplyError(UserFacingError, RuntimeError):
    """Applying or undoing failed; the message is one line that says what state things are in."""


class Busy(ApplyError):
    """Another apply or undo holds the lock."""


class EntryState(Enum):
    INTENT = "intent"
    """Journalled; the file may or may not have been replaced (a kill can stop here)."""
    DONE = "done"
    """The file was written and the commands ran."""


@dataclass(frozen=True)
class EnvValue:
    """One environment variable an apply set outside its file: its value before, and ours."""

    name: str
    before: str | None
    """None: it was unset (undo removes it)."""
    applied: str

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "before": self.before, "applied": self.applied}

    @classmethod
    def from_json(cls, data: object) -> EnvValue:
        """Parse one recorded variable; ApplyError for a bad name or a value that is not text."""
        if not isinstance(data, dict):
            raise ApplyError("a recorded environment variable is not an object")
        name, before, applied = data.get("name"), data.get("before"), data.get("applied")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ApplyError(f"{str(name)[:100]!r} is not an environment variable name")
        texts = [applied] if before is None else [before, applied]
        if not all(isinstance(v, str) and "\0" not in v for v in texts):
            raise ApplyError(f"the recorded value of {name} is not text")
        assert isinstance(applied, str)  # checked above (mypy)
        return cls(name, before if isinstance(before, str) else None, applied)

    def shown(self) -> str:
        """What undo does to it, as the user reads it: `NAME: ours → before` (or `unset`)."""
        return f"{self.name}: {self.applied} → {'unset' if self.before is None else self.before}"


@dataclass(frozen=True)
class JournalEntry:
    """One apply: what was replaced, where its backup is, and what we wrote (its hash)."""

    target: Path
    backup: Path | None
    existed: bool
    mode: int | None
    uid: int | None
    gid: int | None
    sha256: str | None
    time_s: float
    state: EntryState = EntryState.DONE
    env: tuple[EnvValue, ...] | None = None
    """The variables the apply set outside its file, with their values before; None: not
    recorded (an entry of an earlier version, or a target whose variables are in its file)."""

    def to_json(self) -> dict[str, Any]:
        """The journal's on-disk form (the keys of the first format, plus `state` and `env`)."""
        data = asdict(self)
        data.pop("time_s")
        data.pop("env")
        return {
            "time": self.time_s,
            **data,
            "target": str(self.target),
            "backup": str(self.backup) if self.backup else None,
            "state": self.state.value,
            **({} if self.env is None else {"env": [v.to_json() for v in self.env]}),
        }

    @classmethod
    def from_json(cls, data: object) -> JournalEntry:
        """Parse one entry; ApplyError (one line) for any missing or wrongly typed field."""
        if not isinstance(data, dict):
            raise ApplyError("an entry is not an object")
        target, backup = data.get("target"), data.get("backup")
        if not isinstance(target, str) or not (backup is None or isinstance(backup, str)):
            raise ApplyError(f"an entry names {str(target)[:200]!r} / {str(backup)[:200]!r}")
        ints = {k: data.get(k) for k in ("mode", "uid", "gid")}
        if not all(
            v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in ints.values()
        ):
            raise ApplyError(
                f"the entry for {target[:200]!r} has a mode or owner that is not a number"
            )
        sha, when = data.get("sha256"), data.get("time", 0.0)
        if not (sha is None or isinstance(sha, str)) or not isinstance(when, (int, float)):
            raise ApplyError(f"the entry for {target[:200]!r} has a bad hash or time")
        try:
            state = EntryState(data.get("state", EntryState.DONE.value))
        except ValueError:
            raise ApplyError(f"the entry for {target[:200]!r} has an unknown state") from None
        return cls(
            target=Path(target),
            backup=Path(backup) if backup else None,
            existed=bool(data.get("existed")),
            mode=ints["mode"],
            uid=ints["uid"],
            gid=ints["gid"],
            sha256=sha,
            time_s=float(when),
            state=state,
            env=_env_from_json(target, data.get("env")),
        )

    def done(self) -> JournalEntry:
        return replace(self, state=EntryState.DONE)


def _env_from_json(target: str, data: object) -> tuple[EnvValue, ...] | None:
    if data is None:
        return None
    if not isinstance(data, list):
        raise ApplyError(f"the entry for {target[:200]!r} has an environment that is not a list")
    return tuple(EnvValue.from_json(v) for v in data)


def read_entries(path: Path) -> list[JournalEntry]:
    """The journal's entries (none when it does not exist) — the one reader of the file.

    ApplyError (one line that says nothing was changed) when it is not a regular file, too
    large, not JSON or not a list of entries.
    """
    try:
        data = read_own_json(path, max_bytes=MAX_JOURNAL_BYTES)  # regular, size, depth: no hang
    except FileNotFoundError:
        return []
    except UnreadableFile as exc:
        raise ApplyError(
            f"the undo journal is unreadable ({str(exc)[:200]}); nothing was changed — "
            "restore the file from its .bak copy by hand, then delete the journal"
        ) from None
    try:
        if not isinstance(data, list):
            raise ApplyError("it is not a list of entries")
        return [JournalEntry.from_json(e) for e in data]
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, ApplyError) as exc:
        raise ApplyError(
            f"the undo journal {path} is unreadable ({str(exc)[:200]}); nothing was changed — "
            "restore the file from its .bak copy by hand, then delete the journal"
        ) from None


def write_entries(path: Path, entries: list[JournalEntry]) -> None:
    atomic_write_text(path, json.dumps([e.to_json() for e in entries], indent=1))


class JournalLock:
    """An exclusive lock on `<journal>.lock` (flock / msvcrt), re-entrant within one Applier."""

    def __init__(self, journal: Path, wait_s: float | None = None) -> None:
        self.path = journal.with_name(journal.name + ".lock")
        self.wait_s = LOCK_WAIT_S if wait_s is None else wait_s
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> JournalLock:
        if self._depth == 0:
            self._fd = self._acquire()
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None

    def _acquire(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        deadline = time.monotonic() + self.wait_s
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise Busy(
                    f"another VeloLLM apply or undo is still running (it holds {self.path}); "
                    f"nothing was changed — wait for it to finish, then try again"
                )
            time.sleep(LOCK_POLL_S)
        return fd


def _try_lock(fd: int) -> bool:
    try:
        if os.name == "nt":
            import msvcrt  # noqa: PLC0415 - Windows only

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        else:
            import fcntl  # noqa: PLC0415 - POSIX only

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fd: int) -> None:
    if os.name == "nt":
        import msvcrt  # noqa: PLC0415

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
    else:
        import fcntl  # noqa: PLC0415

        fcntl.flock(fd, fcntl.LOCK_UN)
