"""The tune's time budget is a hard limit, whatever the load: the candidate in flight is stopped,
the baseline is always measured, progress moves during a measurement, and "nothing measured
beyond the baseline" is said as such. The measurements here are stand-ins whose requests end
only when told to (or when the tune stops them), so no assertion depends on the machine's speed."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from velollm_desktop.core.progress import ProgressEvent
from velollm_desktop.core.tune.budget import BudgetClock
from velollm_desktop.core.tune.common import (
    NOT_REACHED,
    STOPPED,
    TuneCancelled,
    measure_all,
    measure_rounds,
    measured_from,
    outcome_text,
    tune_result,
    verdict_text,
)


@dataclass(frozen=True)
class Cand:
    name: str

    @property
    def settings(self) -> dict:
        return {}


def _fake_measure(rates: dict[str, float], hang: set[str], started: list[str]):
    """A measurement whose requests return `rates[name]` (± a little) at once, or — for the
    names in `hang` — block until the tune's stop is set (a request the budget must end)."""

    def measure(c, deadline, clock):
        started.append(c.name)

        def request(i: int) -> tuple[float, float, int]:
            if c.name in hang:
                clock.stop.wait(120)  # ends only when the clock stops it
                return 0.0, 0.0, 0
            return rates[c.name] + (i % 2) * 0.01, 10.0, 8

        samples, lats = measure_rounds(
            request, "decode", 1, deadline=deadline, cancel=clock.stop, on_sample=clock.sampled
        )
        return measured_from(c, samples, lats)

    return measure


def _run(cands, measure, budget_s, events=None, cancel=None):
    import time

    t0 = time.monotonic()
    measured, notes = measure_all(
        cands,
        measure,
        t_start=t0,
        budget_s=budget_s,
        report=(events.append if events is not None else lambda e: None),
        cancel=cancel or threading.Event(),
    )
    return tune_result("m", "decode", 1, measured, [], notes, t0, "llamacpp")


def test_the_budget_stops_the_candidate_in_flight_and_skips_the_rest():
    cands = [Cand("base"), Cand("hangs"), Cand("never")]
    started: list[str] = []
    events: list[ProgressEvent] = []
    r = _run(cands, _fake_measure({"base": 10.0}, {"hangs"}, started), 0.6, events)
    # the hanging request returned only because the budget stopped it
    assert started == ["base", "hangs"]
    rows = {m.candidate.name: m for m in r.candidates}
    assert rows["base"].score and len(rows["base"].samples) >= 2
    assert rows["hangs"].score is None and rows["hangs"].pruned == STOPPED
    assert rows["never"].score is None and rows["never"].pruned == NOT_REACHED
    assert r.winner is r.baseline and not r.significant and r.gain == 1.0
    text = outcome_text(r)
    assert text.startswith("Nothing was measured beyond the baseline: the time budget ended first.")
    assert "Not measured, the time budget was spent first: never." in text
    assert ". ." not in text and "  " not in text
    # progress moved during the stopped measurement: the clock reported the candidate in flight
    assert any("hangs (candidate 2 of 3)" in e.text for e in events)
    assert all(0 <= e.done <= e.total for e in events)


def test_the_baseline_is_measured_even_when_it_alone_overruns_the_budget():
    gate = threading.Event()

    def measure(c, deadline, clock):
        def request(i: int) -> tuple[float, float, int]:
            if i == 0:
                # the first run outlasts the budget (a loaded machine): still counted
                threading.Timer(0.4, gate.set).start()
                gate.wait(30)
            return 5.0, 10.0, 8

        samples, lats = measure_rounds(
            request, "decode", 1, deadline=deadline, cancel=clock.stop, on_sample=clock.sampled
        )
        return measured_from(c, samples, lats)

    r = _run([Cand("base"), Cand("other")], measure, 0.05)
    assert r.baseline.score is not None and len(r.baseline.samples) >= 1
    assert r.candidates[1].pruned == NOT_REACHED
    assert "Nothing was measured beyond the baseline" in verdict_text(r)


def test_a_single_sample_never_wins():
    """One run has no interval: a candidate with one sample is never called better."""
    base = measured_from(Cand("base"), [10.0, 10.1, 9.9], [1, 1, 1])
    lucky = measured_from(Cand("lucky"), [50.0], [1])
    r = tune_result("m", "decode", 1, [base, lucky], [], [], 0.0, "llamacpp")
    assert r.winner is base and not r.significant and r.gain == 1.0


def test_a_clearly_better_candidate_wins_and_a_worse_one_never_does():
    cands = [Cand("base"), Cand("worse"), Cand("better")]
    rates = {"base": 10.0, "worse": 5.0, "better": 20.0}
    r = _run(cands, _fake_measure(rates, set(), []), 30.0)
    assert r.winner.candidate.name == "better" and r.significant and r.gain > 1.9
    assert verdict_text(r).startswith("better: 2.00× the baseline")


def test_cancel_during_a_measurement_raises_and_leaves_no_thread():
    cancel = threading.Event()
    before = {t.name for t in threading.enumerate()}
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(TuneCancelled):
        _run([Cand("base")], _fake_measure({}, {"base"}, []), 60.0, cancel=cancel)
    assert "tune-budget" not in {t.name for t in threading.enumerate()} - before


def test_the_clock_reports_elapsed_against_the_budget_while_nothing_finishes():
    events: list[ProgressEvent] = []
    cancel = threading.Event()
    import time

    with BudgetClock(time.monotonic(), 10.0, cancel, events.append, tick_s=0.05) as clock:
        clock.doing("measuring base (candidate 1 of 2)")
        while len(events) < 4:
            time.sleep(0.02)
    assert events[0].text.startswith("Measuring base (candidate 1 of 2): 0 s of 10 s")
    assert all(e.total == 10 for e in events)
