"""The newest benchmark of each (model, backend, suite) from the history database, read-only.

The database is opened with `mode=ro`: the exporter never creates, migrates or moves aside the
app's history. Each result's JSON is read defensively (older and newer exports differ): a
field that is missing or not a finite number is left out, never guessed. Energy per token is
read from each test's energy reading (`results[].energy.j_per_generated_token`, written by
energy-aware benchmarks) or a flat `j_per_token`-like field; results without one have no
energy series.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from velollm_desktop.core.exporter.state import MAX_BENCH_ROWS, BenchRow, label_text, model_label

BUSY_TIMEOUT_S = 0.5
ENERGY_KEYS = ("energy_per_token_j", "joules_per_token", "j_per_token", "energy_j_per_token")
LATEST_SQL = """
SELECT started_at, kind, model, suite, body FROM results
WHERE id IN (SELECT max(id) FROM results GROUP BY model, kind, suite)
ORDER BY id DESC LIMIT ?
"""


def _number(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("mean")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _mean(values: list[float | None]) -> float | None:
    seen = [v for v in values if v is not None]
    return sum(seen) / len(seen) if seen else None


def _energy(body: dict, tests: list) -> float | None:
    """Mean J per generated token: each test's `energy.j_per_generated_token` (the benchmark's
    energy reading), else a flat field of the result or test; None when nothing measured it."""
    for key in ENERGY_KEYS:
        if (value := _number(body.get(key))) is not None:
            return value
    per_test = []
    for t in tests:
        reading = t.get("energy")
        if isinstance(reading, dict) and "j_per_generated_token" in reading:
            per_test.append(_number(reading["j_per_generated_token"]))
        else:
            per_test += [_number(t.get(k)) for k in ENERGY_KEYS if k in t]
    return _mean(per_test)


def _timestamp(text: Any) -> float | None:
    if not isinstance(text, str) or len(text) > 64:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def bench_row(
    started_at: Any, kind: Any, model: Any, suite: Any, body_text: Any
) -> BenchRow | None:
    """One row from one history result; None when it is not a usable result."""
    when = _timestamp(started_at)
    try:
        body = json.loads(body_text) if isinstance(body_text, str) else None
    except ValueError:
        return None
    if when is None or not isinstance(body, dict) or body.get("cancelled") is True:
        return None
    tests = [t for t in body.get("results") or () if isinstance(t, dict)]
    ttft_ms = _mean([_number(t.get("ttft_ms")) for t in tests])
    return BenchRow(
        model=model_label(model),
        backend=label_text(kind, 32),
        suite=label_text(suite, 32),
        started_at_s=when,
        decode_tokens_per_s=_mean([_number(t.get("decode_tokens_per_s")) for t in tests]),
        prompt_tokens_per_s=_mean([_number(t.get("prompt_tokens_per_s")) for t in tests]),
        ttft_s=ttft_ms / 1000.0 if ttft_ms is not None else None,
        joules_per_token=_energy(body, tests),
    )


def latest_results(path: Path) -> tuple[tuple[BenchRow, ...], str | None]:
    """(rows, None) or ((), why) — a missing database is no results, not an error."""
    path = Path(path)
    if not path.is_file():
        return (), None
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        return (), f"cannot open the history: {exc}"
    try:
        rows = db.execute(LATEST_SQL, (MAX_BENCH_ROWS,)).fetchall()
    except sqlite3.Error as exc:
        return (), f"cannot read the history: {exc}"
    finally:
        db.close()
    out = [bench_row(*row) for row in rows]
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for row in out:  # two models whose labels collapse to one name: keep the newest
        if row is not None and (key := (row.model, row.backend, row.suite)) not in seen:
            seen.add(key)
            unique.append(row)
    return tuple(unique), None
