"""Turn a job's exception into one sentence for the user; log the unexpected ones in full.

Expected failures (a server that is not running, a bad file, a refused permission) already
carry a sentence that says what to do. Anything else is a bug: its traceback goes to the log
file (`logfile.log_path()`) and the user reads one sentence pointing at "Open log".
"""

from __future__ import annotations

import logging

from velollm_desktop.core.cancel import Cancelled
from velollm_desktop.core.failure import Failure, fix_of
from velollm_desktop.core.http.errors import ServerError

log = logging.getLogger("velollm_desktop.jobs")

EXPECTED: tuple[type[BaseException], ...] = (
    Cancelled,
    ServerError,
    OSError,
    ValueError,
    LookupError,
    RuntimeError,
)
"""Failures core code raises on purpose, with a message meant for the user."""
BUGS: tuple[type[BaseException], ...] = (KeyError, IndexError, NotImplementedError, RecursionError)
"""Subclasses of the above that only a bug raises."""


def is_expected(exc: BaseException) -> bool:
    """Whether `exc` is a failure the user can act on (not a bug)."""
    return isinstance(exc, EXPECTED) and not isinstance(exc, BUGS)


def user_message(exc: BaseException, what: str = "job") -> str:
    """One sentence for the user; an unexpected exception is logged with its traceback first."""
    if is_expected(exc):
        log.info("%s failed: %s", what, exc)
        return str(exc) or type(exc).__name__
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
