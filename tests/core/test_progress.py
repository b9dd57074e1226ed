"""One progress protocol: `RunCounter` counts the runs of every measuring loop and builds the
events; the benchmark runner's reports through it (a server stand-in, no model needed)."""

from __future__ import annotations

import threading

import pytest

from velollm_desktop.core.bench.model import RunMeasurement, ServerInfo
from velollm_desktop.core.bench.model import TestResult as BenchTestResult
from velollm_desktop.core.bench.runner import run_benchmark
from velollm_desktop.core.bench.stats import summarize_runs
from velollm_desktop.core.bench.suites import BenchTest
from velollm_desktop.core.progress import Phase, ProgressEvent, RunCounter


def _run(decode: float | None, server: float | None = None) -> RunMeasurement:
    return RunMeasurement(120.0, decode, server, 300.0, 20, 16, 5.0, 900.0)


def test_a_counted_run_is_reported_with_the_runs_left():
    events: list[ProgressEvent] = []
    count = RunCounter(4, events.append)
    count.say("vanilla: starting llama-server", Phase.STARTING)
    count.say("vanilla · code run 1/2: 31.0 tok/s", Phase.MEASURING, "m1", run_done=True)
    count.say("done", Phase.DONE, pace=False)
    start, run, done = events
    assert (start.done, start.total, start.phase) == (0, 4, Phase.STARTING)
    assert start.text.startswith("vanilla: starting llama-server — 0 of 4 runs, ")
    assert start.text.endswith(" so far")  # no estimate before the first run
    assert (run.done, run.total, run.phase, run.measurement) == (1, 4, Phase.MEASURING, "m1")
    assert run.text.startswith("vanilla · code run 1/2: 31.0 tok/s — 1 of 4 runs, ")
    assert run.text.endswith(" left")
    assert (done.done, done.text, done.phase) == (1, "done", Phase.DONE)


def test_a_budget_bar_shows_seconds_while_the_runs_are_counted():
    count = RunCounter(0)
    for _ in range(3):
        count.count()
    event = count.event("Measuring threads=2, 3 runs done: 41 s of 60 s.", pace=False, bar=(41, 60))
    assert (event.done, event.total, count.done) == (41, 60, 3)
    assert event.text == "Measuring threads=2, 3 runs done: 41 s of 60 s."


def test_runs_counted_on_several_threads_are_all_counted():
    count = RunCounter(0)
    threads = [
        threading.Thread(target=lambda: [count.count() for _ in range(500)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count.done == 2000


def test_summarize_runs_summarises_each_figure_and_none_where_no_run_has_it():
    stats = summarize_runs([_run(10.0), _run(12.0), _run(None)])
    assert stats.decode_tokens_per_s is not None and stats.decode_tokens_per_s.n == 2
    assert stats.decode_tokens_per_s.mean == pytest.approx(11.0)
    assert stats.server_decode_tokens_per_s is None
    assert stats.ttft_ms is not None and stats.ttft_ms.n == 3


class _Backend:
    """A server that answers every request at once with the next speed."""

    kind = "llamacpp"

    def __init__(self, speeds: list[float]) -> None:
        self.speeds = iter(speeds)

    def info(self) -> ServerInfo:
        return ServerInfo("llamacpp", "http://127.0.0.1:1")

    def model_name(self) -> str:
        return "m.gguf"

    def model_digest(self) -> str | None:
        return None

    def measure(self, prompt, max_tokens, cancel) -> RunMeasurement:
        return _run(next(self.speeds))

    def close(self) -> None:
        pass


def test_the_benchmark_reports_warm_up_each_run_and_each_test_as_events():
    events: list[ProgressEvent] = []
    tests = [BenchTest("quick", "Say hi.", 16, 2)]
    result = run_benchmark(_Backend([1.0, 10.0, 12.0]), tests, progress=events.append)
    assert [(e.done, e.total, e.phase) for e in events] == [
        (0, 3, Phase.WARMUP),
        (1, 3, Phase.WARMUP),
        (2, 3, Phase.MEASURING),
        (3, 3, Phase.MEASURING),
        (3, 3, Phase.MEASURING),
    ]
    assert events[0].text == "warm-up (loading the model; not counted)"
    assert events[1].text == "warm-up done (model loaded in 5 ms)"
    assert events[2].text.startswith("quick run 1/2: 10.0 tok/s — 2 of 3 runs, ")
    assert events[2].text.endswith(" left") and isinstance(events[2].measurement, RunMeasurement)
    assert events[3].text.startswith("quick run 2/2: 12.0 tok/s — 3 of 3 runs, ")
    assert events[4].text == "quick: 2 runs measured"
    row = events[4].measurement
    assert isinstance(row, BenchTestResult) and row == result.results[0]
