"""Statistics, history database (including a damaged one), export/import round trip."""

from __future__ import annotations

import math

import pytest

from velollm_desktop.core.bench.model import BenchmarkResult, RunMeasurement, ServerInfo
from velollm_desktop.core.bench.runner import _summarise
from velollm_desktop.core.bench.stats import ratio_ci95, summarize, t95
from velollm_desktop.core.bench.store import History, from_json, to_csv, to_json
from velollm_desktop.core.bench.suites import BenchTest, suite, varied_prompt


def test_summarize_known_values():
    s = summarize([10.0, 12.0, 14.0])
    assert s.n == 3 and s.mean == 12.0 and s.stddev == 2.0 and s.min == 10.0 and s.max == 14.0
    half = 4.303 * 2.0 / math.sqrt(3)
    assert s.ci95_low == pytest.approx(12 - half) and s.ci95_high == pytest.approx(12 + half)
    assert summarize([]) is None and summarize([float("nan")]) is None
    one = summarize([5.0])
    assert one.stddev == 0.0 and one.ci95_low == one.ci95_high == 5.0
    assert t95(100) == 1.96


def test_ratio_and_overlap():
    base, fast = summarize([10, 10.5, 9.5]), summarize([20, 21, 19])
    r, lo, hi = ratio_ci95(fast, base)
    assert r == pytest.approx(2.0) and lo < 2.0 < hi
    assert not fast.overlaps(base) and base.overlaps(summarize([10, 11, 12]))


def test_standard_suite_is_the_seeds():
    assert [(t.name, t.max_tokens, t.runs) for t in suite("standard")] == [
        ("short_completion", 50, 5),
        ("medium_completion", 150, 3),
        ("code_generation", 200, 3),
    ]
    with pytest.raises(ValueError, match="unknown suite"):
        suite("nope")
    assert varied_prompt("p", 1, "a") != varied_prompt("p", 2, "a")


def _result() -> BenchmarkResult:
    runs = [
        RunMeasurement(50.0, 100.0 + i, 101.0 + i, 500.0, 20, 50, None, 600.0) for i in range(3)
    ]
    test = _summarise(BenchTest("short_completion", "p", 50, 3), runs, 1234.0)
    return BenchmarkResult(
        "0.2.0",
        "2026-11-26T18:00:00+00:00",
        ServerInfo("ollama", "http://x", "0.33.0"),
        "m:1b",
        "sha256:1",
        "standard",
        {"temperature": 0},
        (test,),
    )


def test_json_round_trip_and_csv():
    r = _result()
    back = from_json(to_json(r))
    assert back.results[0].decode_tokens_per_s == r.results[0].decode_tokens_per_s
    assert back.results[0].runs == r.results[0].runs and back.server == r.server
    rows = to_csv(r).splitlines()
    assert rows[0].startswith("started_at,server,model,test,run,ttft_ms,decode_tokens_per_s")
    assert len(rows) == 4
    with pytest.raises(ValueError, match="not a VeloLLM benchmark export"):
        from_json('{"hello": 1}')


def test_history_add_list_load(tmp_path):
    h = History(tmp_path / "h.sqlite3")
    first = h.add(_result())
    second = h.add(_result())
    entries = h.entries()
    assert [e.id for e in entries] == [second, first]
    assert entries[0].decode_mean == pytest.approx(101.0)
    assert h.load(first).model == "m:1b"
    h.close()


def test_damaged_history_is_moved_aside(tmp_path):
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"garbage, not a database" * 200)
    h = History(path)
    assert h.problem and "moved to" in h.problem
    assert h.entries() == []
    h.add(_result())
    assert len(h.entries()) == 1
    h.close()
    assert any(p.name.startswith("h.sqlite3.corrupt-") for p in tmp_path.iterdir())
