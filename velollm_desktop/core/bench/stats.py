"""Summary statistics for repeated measurements: mean, sample stddev, min, max, 95 % CI."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, fields

from velollm_desktop.core.measurement import RunMeasurement

# Two-sided 95 % Student t quantiles for n−1 degrees of freedom (1…30); beyond that, 1.96.
_T95 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t95(dof: int) -> float:
    """Student's t for a two-sided 95 % interval with `dof` degrees of freedom."""
    if dof < 1:
        return math.nan
    return _T95[dof - 1] if dof <= len(_T95) else 1.96


@dataclass(frozen=True)
class Stats:
    """Summary of `n` measurements (same unit as the inputs)."""

    n: int
    mean: float
    stddev: float
    """Sample standard deviation (n−1); 0 for a single value."""
    min: float
    max: float
    ci95_low: float
    ci95_high: float

    @property
    def ci95_half_width(self) -> float:
        """Half the width of the 95 % confidence interval of the mean."""
        return (self.ci95_high - self.ci95_low) / 2

    def overlaps(self, other: Stats) -> bool:
        """Whether the two 95 % intervals overlap (then neither is clearly better)."""
        return not (self.ci95_high < other.ci95_low or other.ci95_high < self.ci95_low)


def summarize(values: Sequence[float | None]) -> Stats | None:
    """Stats of the finite values, or `None` if there are none."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    n = len(vals)
    mean = statistics.fmean(vals)
    sd = statistics.stdev(vals) if n > 1 else 0.0
    half = t95(n - 1) * sd / math.sqrt(n) if n > 1 else 0.0
    return Stats(n, mean, sd, min(vals), max(vals), mean - half, mean + half)


@dataclass(frozen=True)
class RunStats:
    """The summaries of a set of runs, one per measured speed and latency (a benchmark test's,
    a speculative mode's): named like the `RunMeasurement` fields they summarise."""

    decode_tokens_per_s: Stats | None
    """Client clock."""
    server_decode_tokens_per_s: Stats | None
    """The server's own counters."""
    ttft_ms: Stats | None
    prompt_tokens_per_s: Stats | None


def summarize_runs(runs: Sequence[RunMeasurement]) -> RunStats:
    """Each figure of `runs` summarised (`None` where no run has it)."""
    return RunStats(*(summarize([getattr(r, f.name) for r in runs]) for f in fields(RunStats)))


def ratio_ci95(num: Stats, den: Stats) -> tuple[float, float, float]:
    """Ratio of means with an approximate 95 % interval (delta method on relative errors).

    Returns (ratio, low, high). Used for speedups: num = candidate, den = baseline.
    """
    if den.mean == 0:
        return math.nan, math.nan, math.nan
    r = num.mean / den.mean
    rel = 0.0
    for s in (num, den):
        if s.mean and s.n > 1:
            rel += (s.ci95_half_width / s.mean) ** 2
    half = r * math.sqrt(rel)
    return r, r - half, r + half


NOISY_CV = 0.10
"""A result whose coefficient of variation (stddev / mean) is above this is called noisy."""
NOISE_ADVICE = "close other programs and run again with more runs"


def coefficient_of_variation(stats: Stats | None) -> float | None:
    """stddev / mean, or `None` when it is undefined (no stats, one run, a zero mean)."""
    if stats is None or stats.n < 2 or stats.mean <= 0:
        return None
    return stats.stddev / stats.mean


def noise_warning(
    stats: Stats | None, runs_requested: int | None = None, runs_done: int | None = None
) -> str | None:
    """Why a measurement cannot be trusted yet, with what to do; `None` when it looks fine.

    Noisy when the coefficient of variation is above 10 % (llama-bench's ± makes the same
    point), or when fewer runs finished than the suite asked for. `runs_done` defaults to
    the number of values in `stats`; `stats=None` with `runs_done` checks the count only.
    """
    n = runs_done if runs_done is not None else (stats.n if stats is not None else 0)
    problems = []
    if runs_requested and n < runs_requested:
        problems.append(f"only {n} of {runs_requested} runs")
    cv = coefficient_of_variation(stats)
    if cv is not None and cv > NOISY_CV:
        problems.append(f"noisy: ±{100 * cv:.0f} % between runs (over {100 * NOISY_CV:.0f} %)")
    if not problems:
        return None
    return f"{'; '.join(problems)}: {NOISE_ADVICE}"


def compared_differences(results: Sequence[object]) -> list[str]:
    """What differs between compared runs: any of "suite", "model", "backend".

    `results` are BenchmarkResults (duck-typed: `suite`, `model`, `server.kind`).
    """
    keys = (
        ("suite", lambda r: r.suite),
        ("model", lambda r: r.model),
        ("backend", lambda r: r.server.kind),
    )
    return [label for label, key in keys if len({key(r) for r in results}) > 1]


def comparison_warning(results: Sequence[object]) -> str | None:
    """A warning when compared runs differ in suite, model or backend (not like for like)."""
    differ = compared_differences(results)
    if not differ:
        return None
    return (
        f"These runs differ in {' and '.join(differ)}: the bars compare different set-ups,"
        " not the same one measured twice."
    )
