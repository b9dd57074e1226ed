"""Turn a job's exception into one sentence for the user; log the unexpected ones in full.

Expected failures are the project's own (`core.failure.UserFacingError`: a server that is not
running, a bad file, a refused change), a cancel, and the OS's (`OSError`: files, sockets,
permissions). Their message says what is wrong; the app adds its own words for the typed fix
(`fix_text`). Anything else — a plain `ValueError` or `RuntimeError` included — is a bug: its
traceback goes to the log file (`logfile.log_path()`) and the user reads one sentence pointing
at "Open log".
"""

from __future__ import annotations

import logging

from velollm_desktop.core.cancel import Cancelled
from velollm_desktop.core.failure import Failure, Fix, UserFacingError, fix_of
from velollm_desktop.core.http.errors import ServerError

log = logging.getLogger("velollm_desktop.jobs")

EXPECTED: tuple[type[BaseException], ...] = (Cancelled, ServerError, OSError, UserFacingError)
"""Failures raised on purpose, with a message meant for the user."""
BUGS: tuple[type[BaseException], ...] = (KeyError, IndexError, NotImplementedError, RecursionError)
"""Subclasses of builtin bases that only a bug raises (never expected, whatever they mix in)."""

FIX_WORDS: dict[Fix, str] = {
    Fix.START_OLLAMA: ", or set the right address in Settings",
    Fix.INSTALL_ENGINE: "; or set their folder in Settings",
}
"""The app's words for a typed fix, after the message (the CLI has its own: cli_errors.py)."""


def fix_text(fix: Fix) -> str:
    """What the app adds to a failure's message for `fix` ("" when the message says it all)."""
    return FIX_WORDS.get(fix, "")


def say(exc: BaseException) -> str:
    """An expected failure as the app says it: its message, then the app's words for its fix."""
    return (str(exc) or type(exc).__name__) + fix_text(fix_of(exc))


def is_expected(exc: BaseException) -> bool:
    """Whether `exc` is a failure the user can act on (not a bug)."""
    return isinstance(exc, EXPECTED) and not isinstance(exc, BUGS)


def user_message(exc: BaseException, what: str = "job") -> str:
    """One sentence for the user; an unexpected exception is logged with its traceback first."""
    if is_expected(exc):
        log.info("%s failed: %s", what, exc)
        return say(exc)
    log.error("unexpected error in the %s", what, exc_info=exc)
    return (
        f"Unexpected error in the {what} ({type(exc).__name__}); "
        "the details are in the log (Open log in the tray menu or Settings)."
    )


def failure_of(exc: BaseException, what: str = "job") -> Failure:
    """The frozen, typed failure a job hands to its page (`user_message` logs a bug first)."""
    if isinstance(exc, Cancelled):
        return Failure(type(exc).__name__, str(exc) or "cancelled")
    return Failure(type(exc).__name__, user_message(exc, what), fix_of(exc), is_expected(exc))
