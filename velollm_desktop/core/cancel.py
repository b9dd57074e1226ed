"""The one base of every "the user cancelled" exception (tuning, comparison, benchmark, download).

Callers that only need to know "this was a cancel, not a failure" catch `Cancelled`; the job
runner reports it as a plain sentence and never logs a traceback for it.
"""

from __future__ import annotations


class Cancelled(Exception):
    """The user cancelled; the message says what was cleaned up (servers stopped, settings restored)."""
