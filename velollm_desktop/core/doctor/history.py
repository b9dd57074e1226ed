"""Decode speed against this machine's own history, and the regression watch's trigger."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from velollm_desktop.core.bench.store import HistoryEntry
from velollm_desktop.core.doctor.model import Finding, FindingKind

SLOW_RATIO = 0.5
"""The newest run below half the median of the earlier ones is "far below"."""
MIN_EARLIER = 2


def slow_decode(entries: Sequence[HistoryEntry]) -> list[Finding]:
    """For each (kind, server, model): the newest run vs the median of its earlier runs."""
    groups: dict[tuple[str, str, str], list[HistoryEntry]] = {}
    for e in sorted(entries, key=lambda e: e.id):
        if e.decode_mean:
            groups.setdefault((e.kind, e.server, e.model), []).append(e)
    out = []
    for (kind, server, model), runs in groups.items():
        *earlier, newest = runs
        if len(earlier) < MIN_EARLIER or newest.decode_mean is None:
            continue
        median = statistics.median(e.decode_mean or 0.0 for e in earlier)
        if median > 0 and newest.decode_mean < SLOW_RATIO * median:
            out.append(
                Finding(
                    FindingKind.SLOW_DECODE,
                    server,
                    model,
                    f"{model} on {kind} decoded at {newest.decode_mean:.1f} tok/s in run #{newest.id}, "
                    f"{newest.decode_mean / median:.0%} of its median {median:.1f} tok/s over "
                    f"{len(earlier)} earlier runs on this machine",
                    (),
                    (("decode_tokens_per_s", newest.decode_mean), ("median_tokens_per_s", median)),
                )
            )
    return out
