"""The figures a benchmark chart can show per test: (value, error bar) by metric name."""

from __future__ import annotations

from collections.abc import Sequence

from velollm_desktop.core.bench.model import BenchmarkResult, TestResult
from velollm_desktop.core.failure import BadInput

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
    raise BadInput(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")


Series = tuple[str, list[float | None], list[float | None]]
"""One bar series: its label, a value per test, an error bar per test."""


def chart_series(
    labelled: Sequence[tuple[str, BenchmarkResult]], metric: str
) -> tuple[list[str], list[Series]]:
    """The tests of every result (first seen first) and one series per result for `metric`;
    a test a result did not run is a gap (None)."""
    tests: list[str] = []
    for _, r in labelled:
        tests += [t.name for t in r.results if t.name not in tests]
    series = []
    for label, r in labelled:
        by_name = {t.name: metric_of(t, metric) for t in r.results}
        none = (None, None)
        series.append(
            (
                label,
                [by_name.get(n, none)[0] for n in tests],
                [by_name.get(n, none)[1] for n in tests],
            )
        )
    return tests, series
