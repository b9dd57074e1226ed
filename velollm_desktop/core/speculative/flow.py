"""The speculative-decoding comparison flow, once: measure every mode, then save the result.

The Speculative page (through the job runner) and `velollm compare` both call
`compare_and_save`, so a comparison is saved in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velollm_desktop.core import jsonio
from velollm_desktop.core.bench.store import History, HistoryBusy, save_aside
from velollm_desktop.core.speculative.compare import CompareResult, run_compare


@dataclass(frozen=True)
class ComparisonRun:
    result: CompareResult
    history_id: int | None
    """Its id in the history, or None when no history was given (or it is closed)."""
    unsaved_path: Path | None = None
    """Where the result went instead when the history was busy (never lost)."""
    unsaved_reason: str = ""
    """Why it is not in the history (the `HistoryBusy` sentence), when `unsaved_path` is set."""


def compare_and_save(*args: Any, history: History | None = None, **kwargs: Any) -> ComparisonRun:
    """`run_compare(*args, **kwargs)`, then add the result to `history` (if given and open);
    when the history is busy, the result goes to `unsaved-comparison-*.json` in the data
    directory instead and `ComparisonRun.unsaved_path` says where."""
    result = run_compare(*args, **kwargs)
    if history is None or history.closed:
        return ComparisonRun(result, None)
    try:
        return ComparisonRun(result, history.add_comparison(result))
    except HistoryBusy as exc:
        path = save_aside("comparison", result.started_at, jsonio.dumps(result) + "\n")
        return ComparisonRun(result, None, path, str(exc))
