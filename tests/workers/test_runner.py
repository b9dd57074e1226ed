"""The job runner: measuring jobs one at a time, light jobs beside them, typed progress,
one-sentence failures with the traceback in the log, bounded shutdown."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from velollm_desktop.core.cancel import Cancelled
from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.progress import Phase, ProgressEvent
from velollm_desktop.workers.runner import Job, JobKind, JobRunner, JobState

WAIT_MS = 10_000


@pytest.fixture
def jobs(qtbot):
    r = JobRunner()
    yield r
    assert not r.shutdown(10.0), "a test left a job running"


def _blocking(gate: threading.Event, log: list, name: str):
    def fn(progress, cancel):
        log.append((name, "start", time.monotonic()))
        while not gate.wait(0.01):
            if cancel.is_set():
                raise Cancelled(f"{name} cancelled")
        log.append((name, "end", time.monotonic()))
        return name

    fn.__name__ = name
    return fn


def _done(job: Job) -> bool:
    return job.state is JobState.DONE


def test_measuring_jobs_queue_and_light_jobs_run_beside(jobs, qtbot):
    gate, log = threading.Event(), []
    bench = jobs.submit(Job(_blocking(gate, log, "b"), kind=JobKind.MEASURING, label="benchmark"))
    waits: list[str] = []
    tune = Job(_blocking(gate, log, "t"), kind=JobKind.MEASURING, label="tuning run")
    tune.waiting.connect(waits.append)
    jobs.submit(tune)
    light_results: list = []
    light = Job(lambda: "models", pass_control=False, label="list models")
    light.result.connect(light_results.append)
    jobs.submit(light)

    qtbot.waitUntil(lambda: light_results == ["models"], timeout=WAIT_MS)
    assert tune.state is JobState.QUEUED and bench.state is JobState.RUNNING
    assert waits == ["Waiting for the benchmark to finish…"]
    assert [e[0] for e in log] == ["b"]  # the tune has not started while the benchmark runs

    gate.set()
    qtbot.waitUntil(lambda: _done(tune), timeout=WAIT_MS)
    times = {(name, what): t for name, what, t in log}
    assert times[("b", "end")] <= times[("t", "start")], "measuring jobs overlapped"
    assert jobs.measuring is None and not jobs.queued


def test_cancelling_a_queued_job_never_runs_it(jobs, qtbot):
    gate, log = threading.Event(), []
    jobs.submit(Job(_blocking(gate, log, "b"), kind=JobKind.MEASURING, label="benchmark"))
    queued = Job(_blocking(gate, log, "q"), kind=JobKind.MEASURING)
    failed, finished = [], []
    queued.failed.connect(failed.append)
    queued.finished.connect(lambda: finished.append(True))
    jobs.submit(queued)
    assert jobs.cancel_queued(queued)
    assert failed == ["cancelled before it started"] and finished == [True]
    gate.set()
    qtbot.waitUntil(lambda: jobs.measuring is None, timeout=WAIT_MS)
    assert [e[0] for e in log] == ["b", "b"]


def test_progress_is_one_typed_event_each_report_arriving_once(jobs, qtbot):
    events: list[ProgressEvent] = []
    sent = [
        ProgressEvent(0, 3, "starting llama-server", Phase.STARTING),
        ProgressEvent(1, 3, "run 1/3: 12.5 tok/s", Phase.MEASURING, measurement=12.5),
    ]

    def fn(progress, cancel):
        for event in sent:
            progress(event)
        return "ok"

    job = Job(fn, kind=JobKind.MEASURING)
    job.event.connect(events.append)
    jobs.submit(job)
    qtbot.waitUntil(lambda: _done(job), timeout=WAIT_MS)
    assert events == sent  # the same objects, in order, each once
    assert events[1].fraction == pytest.approx(1 / 3)
    assert not hasattr(Job, "progress")  # one progress signal: `event`
    with pytest.raises(TypeError):
        job.report(2, 3, "a (done, total, text) call")  # type: ignore[call-arg]


@pytest.mark.logs_errors
def test_unexpected_error_is_logged_with_traceback_and_shown_as_one_sentence(jobs, qtbot, caplog):
    def broken(progress, cancel):
        return {}["missing"]  # a bug: KeyError

    job = Job(broken, label="benchmark")
    failed: list[str] = []
    job.failed.connect(failed.append)
    with caplog.at_level(logging.INFO, logger="velollm_desktop.jobs"):
        jobs.submit(job)
        qtbot.waitUntil(lambda: _done(job), timeout=WAIT_MS)
    (message,) = failed
    assert message.startswith("Unexpected error in the benchmark (KeyError)")
    assert "Open log" in message and "\n" not in message
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info and record.exc_info[0] is KeyError


def test_expected_error_is_shown_as_is_without_traceback(jobs, qtbot, caplog):
    def refused(progress, cancel):
        raise BadInput("unknown suite 'x': choose one of quick, standard, full")

    job = Job(refused)
    failed: list[str] = []
    job.failed.connect(failed.append)
    with caplog.at_level(logging.INFO, logger="velollm_desktop.jobs"):
        jobs.submit(job)
        qtbot.waitUntil(lambda: _done(job), timeout=WAIT_MS)
    assert failed == ["unknown suite 'x': choose one of quick, standard, full"]
    assert not [r for r in caplog.records if r.exc_info]
    assert job.failure is not None and job.failure.expected
    assert job.failure.type_name == "BadInput"


@pytest.mark.logs_errors
def test_a_plain_value_error_is_a_bug_logged_with_its_traceback(jobs, qtbot, caplog):
    """Only the project's own errors are expected: a bug raising ValueError reaches the log."""

    def broken(progress, cancel):
        return int("not a number")  # a bug: a plain ValueError from the standard library

    job = Job(broken, label="benchmark")
    failed: list[str] = []
    job.failed.connect(failed.append)
    with caplog.at_level(logging.INFO, logger="velollm_desktop.jobs"):
        jobs.submit(job)
        qtbot.waitUntil(lambda: _done(job), timeout=WAIT_MS)
    (message,) = failed
    assert message.startswith("Unexpected error in the benchmark (ValueError)")
    assert "not a number" not in message
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info and record.exc_info[0] is ValueError
    assert job.failure is not None and not job.failure.expected


def test_shutdown_cancels_and_waits_only_until_the_deadline(jobs, qtbot):
    cooperative = Job(_blocking(threading.Event(), [], "c"), kind=JobKind.MEASURING)
    stubborn_gate = threading.Event()
    stubborn = Job(lambda: stubborn_gate.wait(30), pass_control=False, label="stubborn")
    jobs.submit(cooperative)
    jobs.submit(stubborn)
    queued = jobs.submit(Job(_blocking(threading.Event(), [], "q"), kind=JobKind.MEASURING))
    t0 = time.monotonic()
    late = jobs.shutdown(0.5)
    took = time.monotonic() - t0
    assert late == ["stubborn"] and took < 2.0
    assert cooperative.cancel_event.is_set() and cooperative.join(0)
    assert queued.state is JobState.DONE and queued.cancel_event.is_set()
    stubborn_gate.set()
    qtbot.waitUntil(lambda: _done(stubborn) and _done(cooperative), timeout=WAIT_MS)


def test_a_job_is_submitted_once(jobs, qtbot):
    job = jobs.submit(Job(lambda: 1, pass_control=False))
    with pytest.raises(ValueError, match="once"):
        jobs.submit(job)
    qtbot.waitUntil(lambda: _done(job), timeout=WAIT_MS)


def test_jobs_run_on_qthreads_and_results_arrive_in_the_gui_thread(jobs, qtbot):
    from PySide6.QtCore import QThread

    from velollm_desktop.workers.runner import JobThread

    seen: dict[str, object] = {}

    def where() -> str:
        seen["job_thread"] = QThread.currentThread()
        return "ok"

    job = Job(where, pass_control=False)
    job.result.connect(lambda _: seen.update(slot_thread=QThread.currentThread()))
    jobs.submit(job)
    qtbot.waitUntil(lambda: _done(job), timeout=WAIT_MS)
    assert isinstance(seen["job_thread"], JobThread)
    assert not seen["job_thread"].is_alive()
    assert seen["slot_thread"] is qtbot_main_thread()


def qtbot_main_thread():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().thread()
