"""Tuning verdicts from synthetic samples: the decision rule itself, without servers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from velollm_desktop.core.tune.common import (
    Measured,
    TuneResult,
    measured_from,
    verdict,
    verdict_text,
)


@dataclass(frozen=True)
class Cand:
    name: str
    settings: dict


def m(name: str, samples: list[float]) -> Measured:
    return measured_from(Cand(name, {}), samples, [100.0] * len(samples))


def result(measured: list[Measured]) -> TuneResult:
    notes: list[str] = []
    winner, gain, significant = verdict(measured, notes)
    return TuneResult(
        "m", "decode", 1, measured[0], tuple(measured), winner, gain, significant, 1.0, tuple(notes)
    )


def test_a_clearly_faster_candidate_wins_with_its_gain():
    base = m("baseline", [10.0, 10.2, 9.9, 10.1])
    fast = m("fast", [15.0, 15.1, 14.9, 15.2])
    r = result([base, fast])
    assert r.significant and r.winner is fast
    assert r.gain == pytest.approx(fast.score.mean / base.score.mean)
    assert verdict_text(r) == f"fast: {r.gain:.2f}× the baseline (intervals do not overlap)."


def test_a_higher_mean_inside_the_noise_keeps_the_baseline_with_a_note():
    base = m("baseline", [10.0, 12.0, 8.0, 11.0])
    noisy = m("noisy", [11.0, 14.0, 7.0, 12.0])
    r = result([base, noisy])
    assert not r.significant and r.winner is base and r.gain == 1.0
    assert any("overlaps the baseline" in n for n in r.notes)
    assert verdict_text(r) == "No candidate is clearly better than the baseline: keep it."


def test_slower_candidates_never_win():
    base = m("baseline", [20.0, 20.1, 19.9])
    r = result([base, m("slow", [5.0, 5.1, 4.9]), m("slower", [1.0, 1.1, 0.9])])
    assert r.winner is base and not r.significant and not r.notes


def test_pruned_candidates_without_a_score_are_ignored():
    base = m("baseline", [10.0, 10.1, 9.9])
    pruned = Measured(Cand("huge", {}), None, pruned="needs 90 GiB of 8 GiB")
    r = result([base, pruned])
    assert r.winner is base and r.gain == 1.0


@given(
    st.lists(st.floats(0.5, 500), min_size=2, max_size=8),
    st.lists(st.floats(0.5, 500), min_size=2, max_size=8),
)
def test_the_winner_is_significant_only_when_its_interval_clears_the_baseline(a, b):
    base, cand = m("baseline", a), m("cand", b)
    r = result([base, cand])
    if r.significant:
        assert r.winner is cand and cand.score.ci95_low > base.score.ci95_high and r.gain > 1.0
    else:
        assert r.winner is base and r.gain == 1.0
