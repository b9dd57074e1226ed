"""`CliError`: the one exception the CLI's commands raise for the user (no import of `cli`)."""

from __future__ import annotations


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code
