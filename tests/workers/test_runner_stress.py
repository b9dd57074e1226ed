"""1000 jobs through one runner: every result arrives, measuring jobs never overlap, no crash.

About 1 s on the 2-core box, so it runs by default; its numbers are in docs/RELIABILITY.md.
The app-start half (300 starts of the real app) is bench/qthread_repro.py's `app` mode.
"""

from __future__ import annotations

import threading
import time

from velollm_desktop.workers.runner import Job, JobKind, JobRunner

JOBS = 1000


def test_a_thousand_mixed_jobs(qtbot):
    runner = JobRunner()
    lock = threading.Lock()
    active = {"measuring": 0, "max": 0}
    results: list[int] = []
    failures: list[str] = []

    def measuring(i: int) -> int:
        with lock:
            active["measuring"] += 1
            active["max"] = max(active["max"], active["measuring"])
        time.sleep(0.001)
        with lock:
            active["measuring"] -= 1
        return i

    t0 = time.monotonic()
    for i in range(JOBS):
        kind = JobKind.MEASURING if i % 3 == 0 else JobKind.LIGHT
        fn = measuring if kind is JobKind.MEASURING else (lambda i: i)
        job = Job(fn, i, kind=kind, pass_control=False, label=f"job {i}")
        job.result.connect(results.append)
        job.failed.connect(failures.append)
        runner.submit(job)
    qtbot.waitUntil(lambda: len(results) + len(failures) == JOBS, timeout=300_000)
    took = time.monotonic() - t0
    assert not failures
    assert sorted(results) == list(range(JOBS))
    assert active["max"] == 1, "two measuring jobs ran at once"
    assert not runner.shutdown(10.0)
    print(f"{JOBS} jobs in {took:.1f} s")
