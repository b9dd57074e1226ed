"""A benchmark result as CSV: one row per measured run, units in the column names."""

from __future__ import annotations

import csv
import io
from typing import Any

from velollm_desktop.core.bench.model import BenchmarkResult
from velollm_desktop.core.energy.model import EnergyReading

RUN_FIELDS = (
    "ttft_ms",
    "decode_tokens_per_s",
    "server_decode_tokens_per_s",
    "prompt_tokens_per_s",
    "prompt_tokens",
    "eval_count",
    "load_ms",
    "total_ms",
    "draft_n",
    "draft_n_accepted",
)


ENERGY_FIELDS = (
    "energy_method",
    "energy_j",
    "j_per_generated_token",
    "j_per_prompt_token",
    "generated_tokens_per_wh",
    "mean_w",
    "idle_w",
)
"""CSV columns of the test's energy (the same on each of its runs' rows)."""


def to_csv(result: BenchmarkResult) -> str:
    """One row per measured run, units in the column names."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["started_at", "server", "model", "test", "run", *RUN_FIELDS, *ENERGY_FIELDS])
    for t in result.results:
        energy = _energy_cells(t.energy)
        for i, r in enumerate(t.runs, 1):
            w.writerow(
                [
                    result.started_at,
                    result.server.kind,
                    result.model,
                    t.name,
                    i,
                    *("" if getattr(r, f) is None else getattr(r, f) for f in RUN_FIELDS),
                    *energy,
                ]
            )
    return buf.getvalue()


def _energy_cells(e: EnergyReading | None) -> list[Any]:
    if e is None:
        return [""] * len(ENERGY_FIELDS)
    cells: list[Any] = [e.method]
    for f in ENERGY_FIELDS[1:]:
        v = getattr(e, f)
        cells.append("" if v is None else v)
    return cells
