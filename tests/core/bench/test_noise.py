"""The noisy-result rule (CV over 10 % or fewer runs than asked) and the comparison warning."""

from __future__ import annotations

import math
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from velollm_desktop.core.bench.stats import (
    NOISE_ADVICE,
    coefficient_of_variation,
    compared_differences,
    comparison_warning,
    noise_warning,
    summarize,
)


def test_noise_examples():
    assert noise_warning(summarize([100.0, 101.0, 99.0, 100.5, 99.5]), 5) is None
    noisy = noise_warning(summarize([80.0, 100.0, 120.0]), 3)
    assert noisy == f"noisy: ±20 % between runs (over 10 %): {NOISE_ADVICE}"
    short = noise_warning(summarize([100.0, 100.0]), 5)
    assert short == f"only 2 of 5 runs: {NOISE_ADVICE}"
    both = noise_warning(summarize([50.0, 100.0]), 5)
    assert both.startswith("only 2 of 5 runs; noisy: ±47 %")
    assert noise_warning(None, 3) == f"only 0 of 3 runs: {NOISE_ADVICE}"
    assert noise_warning(None, 3, runs_done=1) == f"only 1 of 3 runs: {NOISE_ADVICE}"
    assert noise_warning(summarize([10.0]), None) is None  # one run, nothing asked: no spread
    assert coefficient_of_variation(summarize([0.0, 0.0])) is None


@given(
    st.lists(st.floats(min_value=0.01, max_value=1e6), max_size=30),
    st.one_of(st.none(), st.integers(min_value=1, max_value=50)),
)
def test_noise_rule_holds_for_any_runs(values, asked):
    stats = summarize(values)
    note = noise_warning(stats, asked)
    n = len(values)
    cv = stats.stddev / stats.mean if stats and n > 1 else 0.0
    expected = (asked is not None and n < asked) or (math.isfinite(cv) and cv > 0.10)
    assert (note is not None) == expected
    if note:
        assert note.endswith(NOISE_ADVICE)


def _result(suite="standard", model="m", kind="ollama"):
    return SimpleNamespace(suite=suite, model=model, server=SimpleNamespace(kind=kind))


def test_comparison_warning_names_what_differs():
    assert comparison_warning([_result(), _result()]) is None
    assert compared_differences([_result(), _result(model="x", kind="llamacpp")]) == [
        "model",
        "backend",
    ]
    text = comparison_warning([_result(), _result(suite="quick")])
    assert text.startswith("These runs differ in suite:")
