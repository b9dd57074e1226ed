"""`CliError`, the one exception the CLI's commands raise for the user, and the CLI's words for
a failure's typed fix (no import of `cli`: the commands import this module)."""

from __future__ import annotations

from velollm_desktop.core.failure import Fix, fix_of

FIX_WORDS: dict[Fix, str] = {
    Fix.START_OLLAMA: ", or pass the right address with --url URL (or set OLLAMA_HOST)",
}
"""The CLI's words after a failure's message (the app has its own: workers/errors.py); a fix
not named here needs no words (the message says it all, e.g. the engine's install command)."""


def fix_text(fix: Fix) -> str:
    """What the CLI adds to a failure's message for `fix` ("" when the message says it all)."""
    return FIX_WORDS.get(fix, "")


def say(exc: BaseException) -> str:
    """A failure as the CLI says it: its message, then the CLI's words for its fix."""
    return (str(exc) or type(exc).__name__) + fix_text(fix_of(exc))


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code
