"""The figures a benchmark chart can show per test: (value, error bar) by metric name."""

from __future__ import annotations

from velollm_desktop.core.bench.model import TestResult

METRICS = {
    "decode": ("Decode speed (mean ± stddev)", "tokens/s"),
    "energy": ("Energy per generated token", "J/token"),
    "efficiency": ("Generated tokens per watt-hour", "tokens/Wh"),
}
"""metric → (chart title, unit)."""


def metric_of(t: TestResult, metric: str) -> tuple[float | None, float | None]:
    """(value, error) of one test for `metric`; (None, None) where it was not measured."""
    if metric == "decode":
        s = t.decode_tokens_per_s
        return (s.mean, s.stddev) if s else (None, None)
    e = t.energy
    if e is None:
        return None, None
    if metric == "energy":
        return e.j_per_generated_token, None
    if metric == "efficiency":
        return e.generated_tokens_per_wh, None
    raise ValueError(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")
