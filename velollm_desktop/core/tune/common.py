"""What both tuning targets (llama-server, Ollama) share: results, the measuring loop, the verdict.

A candidate is measured in rounds until its 95 % interval is narrow enough to rank it
(half-width < `rel_precision` of the mean) or its share of the time budget is spent. A candidate
is called better only when its interval lies entirely above the baseline's.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from velollm_desktop.core.bench.stats import Stats, summarize
from velollm_desktop.core.cancel import Cancelled
from velollm_desktop.core.energy.model import EnergyReading
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.kinds import Objective
from velollm_desktop.core.optimize.fit import budget_for, footprint
from velollm_desktop.core.optimize.models import ModelProfile
from velollm_desktop.core.progress import ProgressFn
from velollm_desktop.core.tune.budget import BudgetClock
from velollm_desktop.core.wording import sentences

OBJECTIVES = ("decode", "throughput", "prompt", "efficiency")
PROMPT = (
    "Write a detailed, step by step explanation of how a hash map works, with an example in Python."
)
LONG_PROMPT = " ".join(
    ["The quick brown fox jumps over the lazy dog and keeps running through the forest."] * 24
)


class TuneCancelled(Cancelled):
    """Cancelled; every server we started was stopped and every setting we changed restored."""


class TuneCandidate(Protocol):
    """A setting to try: a display name and its settings as plain data."""

    name: str

    @property
    def settings(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TuneSettings:
    """The user's choices for one tune: what the page and the CLI pass, and what both targets
    hand to their tune unchanged (no argument list forwarded twice)."""

    objective: Objective = Objective.DECODE
    concurrency: int = 4
    """Clients, for the throughput objective."""
    budget_s: float = 180.0
    n_predict: int = 64
    ctx: int | None = None
    """Context every candidate must keep, tokens (None: the target's default; llama-server: 2048 per slot)."""


def remeasuring(result: TuneResult, n_predict: int) -> TuneSettings:
    """The settings a re-measure after Apply uses: the tune's objective and clients."""
    return TuneSettings(Objective(result.objective), result.concurrency, n_predict=n_predict)


@dataclass(frozen=True)
class Measured:
    """A candidate's measurements for the objective."""

    candidate: Any
    """The `TuneCandidate` measured (a llama-server `Candidate` or an `OllamaCandidate`)."""
    score: Stats | None
    """tokens/s: decode (single stream), aggregate (throughput) or prompt; generated tokens
    per joule for "efficiency"."""
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    samples: tuple[float, ...] = ()
    pruned: str | None = None
    """Why it was not measured (memory, no consent), if so."""
    load_ms: float | None = None
    """Time to load the model with this setting (ms; Ollama's load_duration), if measured."""
    energy: EnergyReading | None = None
    """The candidate's energy over all its rounds (J per generated token), when measured."""


@dataclass(frozen=True)
class TuneResult:
    """The table, the winner and its gain (ratio of means, with 95 % intervals)."""

    model: str
    objective: str
    concurrency: int
    baseline: Measured
    candidates: tuple[Measured, ...]
    winner: Measured
    gain: float
    significant: bool
    wall_s: float
    notes: tuple[str, ...] = field(default=())
    backend: str = "llamacpp"


Request = Callable[[int], tuple[float, float, int]]
"""One request numbered i → (tokens/s for the objective, latency ms, generated tokens)."""


def measure_rounds(
    request: Request,
    objective: str,
    concurrency: int,
    *,
    deadline: float,
    cancel: threading.Event,
    min_reps: int = 2,
    max_reps: int = 12,
    rel_precision: float = 0.05,
    on_sample: Callable[[int], None] | None = None,
) -> tuple[list[float], list[float]]:
    """Rounds of requests until precise enough or past `deadline` → (samples, latencies ms).

    For "throughput" a round is `concurrency` simultaneous requests and its sample is the
    aggregate generated tokens per wall second; otherwise one request, its own rate.
    `cancel` (the tune's stop: the user's cancel or the spent budget) ends the round in flight:
    that round is discarded (it was cut), the complete ones are returned; with none,
    `TuneCancelled`. `on_sample(n)` is called after each counted sample.
    """
    samples: list[float] = []
    latencies: list[float] = []
    i = 0
    while len(samples) < max_reps:
        if len(samples) >= min_reps and time.monotonic() > deadline:
            break  # out of this candidate's share of the budget
        if cancel.is_set():
            break
        try:
            sample, lats = _one_round(request, objective, concurrency, i)
        except Exception:
            if cancel.is_set():  # the stop surfaced as a transport or stream error
                break
            raise
        if cancel.is_set():
            break  # stopped while this round ran: it may have been cut, not counted
        samples.append(sample)
        latencies += lats
        i += concurrency if objective == "throughput" else 1
        if on_sample is not None:
            on_sample(len(samples))
        s = summarize(samples)
        if len(samples) >= min_reps and s and s.mean and s.ci95_half_width / s.mean < rel_precision:
            break
    if not samples and cancel.is_set():
        raise TuneCancelled("cancelled")
    return samples, latencies


def _one_round(
    request: Request, objective: str, concurrency: int, i: int
) -> tuple[float, list[float]]:
    """One sample and its latencies: `concurrency` requests at once (throughput), else one."""
    if objective == "throughput":
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            rows = list(pool.map(request, range(i, i + concurrency)))
        wall = time.perf_counter() - t0
        return sum(r[2] for r in rows) / wall, [r[1] for r in rows]
    rate, lat, _ = request(i)
    return rate, [lat]


def measured_from(
    candidate: Any,
    samples: Sequence[float],
    latencies: Sequence[float],
    load_ms: float | None = None,
) -> Measured:
    """A `Measured` with p50/p95 latency from the raw figures."""
    lat = sorted(latencies)
    return Measured(
        candidate,
        summarize(list(samples)),
        statistics.median(lat) if lat else None,
        lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else None,
        tuple(samples),
        load_ms=load_ms,
    )


def verdict(measured: Sequence[Measured], notes: list[str]) -> tuple[Measured, float, bool]:
    """(winner, gain, significant): the best mean wins only if its interval clears the baseline's
    (measured[0]); otherwise the baseline stays and a note says why."""
    base = measured[0]
    best = max(measured, key=lambda m: m.score.mean if m.score else 0.0)
    significant = bool(
        best is not base
        and best.score
        and base.score
        and min(best.score.n, base.score.n) >= 2  # one sample has no interval to compare
        and best.score.ci95_low > base.score.ci95_high
    )
    winner = best if significant else base
    gain = (
        winner.score.mean / base.score.mean
        if winner.score and base.score and base.score.mean
        else 1.0
    )
    if not significant and best is not base:
        notes.append(
            f"{best.candidate.name} measured highest, but its interval overlaps the baseline's "
            "(or it has a single sample): the baseline is kept."
        )
    return winner, gain, significant


def measured_beyond_baseline(result: TuneResult) -> int:
    """How many candidates other than the baseline have a measurement."""
    return sum(1 for m in result.candidates if m is not result.baseline and m.score is not None)


def verdict_text(result: TuneResult) -> str:
    """The one sentence the GUI and the CLI show for a tune's outcome."""
    if result.significant:
        return (
            f"{result.winner.candidate.name}: {result.gain:.2f}× the baseline "
            "(intervals do not overlap)."
        )
    if result.baseline.score is not None and measured_beyond_baseline(result) == 0:
        if len(result.candidates) > 1:
            return (
                "Nothing was measured beyond the baseline: the time budget ended first. "
                "Give the tune a larger budget to compare candidates."
            )
        return "Only the baseline was measured: there was no other candidate to compare."
    return "No candidate is clearly better than the baseline: keep it."


def outcome_text(result: TuneResult) -> str:
    """The verdict and the notes, each a sentence (the GUI's status line; the CLI prints the
    same sentences one per line)."""
    return sentences([verdict_text(result), *result.notes])


Shape = Callable[[Any], tuple[int, int, str, bool] | tuple[int, int, str, bool, int]]
"""A candidate → (context per slot, parallel slots, KV cache type, flash attention on)."""


def prune_by_memory(
    cands: Sequence[Any], profile: ModelProfile, hardware: HardwareSpec, shape: Shape
) -> tuple[list[Any], list[Measured]]:
    """Split into (fits, pruned with reasons) with the optimizer's memory model."""
    budget = budget_for(hardware)
    keep, pruned = [], []
    for c in cands:
        ctx, parallel, kv, fa, *moe = shape(c)  # a fifth value: --n-cpu-moe N
        fp = footprint(profile, ctx, parallel, kv, fa, budget, n_cpu_moe=moe[0] if moe else 0)
        if fp.total > budget.bytes:
            why = f"needs {fp.total / 2**30:.1f} GiB of {budget.bytes / 2**30:.1f} GiB"
            pruned.append(Measured(c, None, pruned=why))
        else:
            keep.append(c)
    return keep, pruned


def measure_all(
    keep: Sequence[Any],
    measure: Callable[[Any, float, BudgetClock], Measured],
    *,
    t_start: float,
    budget_s: float,
    report: ProgressFn,
    cancel: threading.Event,
    before: Callable[[int, int, Any], None] | None = None,
    cancelled: str = "cancelled",
    cancel_shows_as: tuple[type[BaseException], ...] = (),
) -> tuple[list[Measured], list[str]]:
    """Measure each candidate with its share of what is left of the budget (`measure(c,
    deadline, clock)`, after `before(index, count, c)`): its servers and requests watch
    `clock.stop` and report runs to `clock.sampled`. The budget is a hard limit (see
    `budget.BudgetClock`); the first candidate, the baseline, is always measured. Returns
    (measured — those stopped or never reached by the budget as rows without a score —, notes).
    A cancel raises `TuneCancelled(cancelled)`, also when it surfaces as one of
    `cancel_shows_as` (a server stopped under a request)."""
    with BudgetClock(t_start, budget_s, cancel, report) as clock:
        try:
            return _measure_all(keep, measure, clock, before, cancel_shows_as)
        except TuneCancelled:
            raise TuneCancelled(cancelled) from None
        except cancel_shows_as:
            if cancel.is_set():
                raise TuneCancelled(cancelled) from None
            raise


NOT_REACHED = "not measured: the time budget was spent before its turn"
STOPPED = "stopped when the time budget ended, before its first complete run"


def _measure_all(
    keep: Sequence[Any],
    measure: Callable[[Any, float, BudgetClock], Measured],
    clock: BudgetClock,
    before: Callable[[int, int, Any], None] | None,
    cancel_shows_as: tuple[type[BaseException], ...],
) -> tuple[list[Measured], list[str]]:
    measured: list[Measured] = []
    skipped: list[str] = []
    notes: list[str] = []
    for n, c in enumerate(keep):
        share = clock.left_s / max(1, len(keep) - n)
        if n > 0 and (share <= 0 or clock.stop.is_set()):
            measured.append(Measured(c, None, pruned=NOT_REACHED))
            skipped.append(c.name)
            continue
        if clock.cancel.is_set():
            raise TuneCancelled("cancelled")
        clock.doing(f"measuring {c.name} (candidate {n + 1} of {len(keep)})")
        if before is not None:
            before(n, len(keep), c)
        stoppable: tuple[type[BaseException], ...] = (TuneCancelled, *cancel_shows_as)
        try:
            m = measure(c, time.monotonic() + share, clock)
        except stoppable:
            if clock.cancel.is_set() or not clock.spent:
                raise
            m = Measured(c, None, pruned=STOPPED)  # the budget stopped it in flight
        if clock.cancel.is_set():
            raise TuneCancelled("cancelled")
        if clock.spent and m.score is not None and n > 0:
            runs = len(m.samples)
            notes.append(
                f"{c.name} was stopped when the time budget ended, after {runs} "
                f"run{'s' if runs != 1 else ''}"
            )
        measured.append(m)
        load = f", load {m.load_ms:.0f} ms" if m.load_ms else ""
        score = f"{m.score.mean:.1f} ± {m.score.stddev:.1f} tok/s{load}" if m.score else ""
        clock.report(clock.event(f"{c.name}: {score or m.pruned or 'n/a'}.", m))
    if skipped:
        notes.append("Not measured, the time budget was spent first: " + ", ".join(skipped))
    return measured, notes


def tune_result(
    model: str,
    objective: str,
    concurrency: int,
    measured: list[Measured],
    pruned: list[Measured],
    notes: list[str],
    t_start: float,
    backend: str,
) -> TuneResult:
    """The verdict over `measured` (baseline first) as a `TuneResult`; pruned ones listed last."""
    winner, gain, significant = verdict(measured, notes)
    return TuneResult(
        model,
        objective,
        concurrency,
        measured[0],
        tuple(measured) + tuple(pruned),
        winner,
        gain,
        significant,
        time.monotonic() - t_start,
        tuple(notes),
        backend,
    )
