"""A failure as data: what went wrong and the fix it calls for, typed, across threads and layers.

Every failure core raises on purpose for the user derives from `UserFacingError` (mixed into
`ValueError`, `RuntimeError`, … where callers already catch those). Its message says what is
wrong in words that fit both faces; the fix is typed (`fix = Fix.START_SERVER` on
`ServerNotRunning`, …) and the GUI (`workers/errors.fix_text`) and the CLI (`cli_errors.fix_text`)
each say it in their own words, so rewording a message never disables a feature or a fix.
The job runner turns a job's exception into a frozen `Failure` that the page reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar


class Fix(Enum):
    NONE = "none"
    START_SERVER = "start-the-server"
    """Nothing answers at the address: start it (the message says how) or use the built-in
    engine."""
    START_OLLAMA = "start-ollama"
    """Ollama does not answer: start it (the message says how), or its address (a setting) is
    wrong."""
    SET_ADDRESS = "set-the-address"
    """The address is not a usable URL."""
    INSTALL_ENGINE = "install-the-engine"
    """No usable llama.cpp program was found (install the engine, or say where it is)."""

    @property
    def starts_server(self) -> bool:
        """Whether the fix is to start a server (the GUI then offers the built-in engine)."""
        return self in (Fix.START_SERVER, Fix.START_OLLAMA)


class UserFacingError(Exception):
    """Base of every failure core raises on purpose, with a message meant for the user.

    What is not one (a plain `ValueError`, `KeyError`, …) is a bug: the GUI logs its traceback
    and says "Unexpected error"; the CLI prints the traceback.
    """

    fix: ClassVar[Fix] = Fix.NONE


class BadInput(UserFacingError, ValueError):
    """A value, choice or file the user gave cannot be used (still a `ValueError` for callers)."""


class CannotRun(UserFacingError, RuntimeError):
    """What was asked cannot run here, or a program it runs failed (still a `RuntimeError`)."""


@dataclass(frozen=True)
class Failure:
    type_name: str
    message: str
    """One sentence for the user, in the app's words (a bug's says where its traceback is)."""
    fix: Fix = Fix.NONE
    expected: bool = True
    """False for a bug (its traceback is in the log)."""


def fix_of(exc: BaseException) -> Fix:
    """The typed fix an exception's class names (`Fix.NONE` when it names none)."""
    fix = getattr(type(exc), "fix", Fix.NONE)
    return fix if isinstance(fix, Fix) else Fix.NONE


class FixNote(str):
    """A note (its text) that names a typed fix: a failure core reports as a line of a result
    (e.g. "Ollama is not running …" among the Optimize page's notes) rather than raises; each
    face adds its own words for `fix`, as for a raised failure."""

    fix: Fix

    def __new__(cls, text: str, fix: Fix) -> FixNote:
        note = super().__new__(cls, text)
        note.fix = fix
        return note

    @classmethod
    def of(cls, exc: BaseException) -> FixNote:
        """The exception's message as a note with its class's fix."""
        return cls(str(exc) or type(exc).__name__, fix_of(exc))


def note_fix(note: str) -> Fix:
    """The fix a note names (`Fix.NONE` for plain text)."""
    return note.fix if isinstance(note, FixNote) else Fix.NONE
