"""The speculative-decoding comparison flow, once: measure every mode, then save the result.

The Speculative page (through the job runner) and `velollm compare` both call
`compare_and_save`, so a comparison is saved in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from velollm_desktop.core.bench.store import History
from velollm_desktop.core.speculative.compare import CompareResult, run_compare


@dataclass(frozen=True)
class ComparisonRun:
    result: CompareResult
    history_id: int | None
    """Its id in the history, or None when no history was given (or it is closed)."""


def compare_and_save(*args: Any, history: History | None = None, **kwargs: Any) -> ComparisonRun:
    """`run_compare(*args, **kwargs)`, then add the result to `history` (if given and open)."""
    result = run_compare(*args, **kwargs)
    entry = None
    if history is not None and not history.closed:
        entry = history.add_comparison(result)
    return ComparisonRun(result, entry)
