"""The app's one job runner: measuring jobs one at a time, light jobs beside them, on QThreads.

A *measuring* job (benchmark, speculative comparison, tune, the tray's quick benchmark) uses
the CPU/GPU it measures: two at once would invalidate both numbers, so they queue and the page
shows "waiting for the benchmark to finish". A *light* job (listing models, reading a GGUF,
hardware detection, apply/undo) starts at once.

Every job runs `fn(*args, progress=…, cancel=…)` in the `run()` of its own `JobThread`
(a QThread subclass; no moveToThread, no event loop in the thread). The `Job` object lives in
the GUI thread; signals emitted from the thread are queued to it. The thread object is dropped
only after `wait()` says it has ended. Heavy modules are imported by `preload()` in the GUI
thread before the first job (see docs/ARCHITECTURE.md, "Why QThread crashed").
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from velollm_desktop.core.failure import Failure
from velollm_desktop.core.progress import ProgressEvent
from velollm_desktop.workers.errors import failure_of

log = logging.getLogger(__name__)


class JobKind(enum.Enum):
    MEASURING = "measuring"
    """Uses the hardware it measures: runs alone, others queue."""
    LIGHT = "light"
    """Short or I/O-bound: runs at once, beside a measuring job."""


class JobState(enum.Enum):
    NEW = "new"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class JobThread(QThread):
    """Runs one job's function in `run()`; emits only through the `Job` (GUI-thread object)."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        self._job = job
        self.setObjectName(f"velollm-job-{job.label}")

    def run(self) -> None:
        self._job._execute()

    def is_alive(self, grace_s: float = 0.1) -> bool:
        """`threading.Thread`-style check (older callers): still running after `grace_s`?"""
        return not self.wait(int(grace_s * 1000))


class Job(QObject):
    """One submitted function and its outcome, as signals delivered in the GUI thread.

    Signals:
        event(ProgressEvent): the progress report (done, total, text, phase, measurement).
        waiting(str): queued behind another measuring job; the sentence to show.
        started(): the function started on its thread.
        result(object): the return value.
        failed(str): one sentence for the user (cancel, expected error, or a logged bug).
        finished(): always last (also for a job cancelled while queued).
    """

    event = Signal(object)  # type: ignore[assignment]  # shadows QObject.event
    waiting = Signal(str)
    started = Signal()
    result = Signal(object)
    failed = Signal(str)
    finished = Signal()
    _done = Signal()

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        kind: JobKind = JobKind.LIGHT,
        label: str | None = None,
        pass_control: bool = True,
        imports: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__()
        self.fn, self.args, self.kind = fn, args, kind
        self.imports = JOB_MODULES if imports is None else imports
        """Modules the job may import on its thread: loaded in the GUI thread when it is
        submitted (default: every job module; a job that needs fewer names them)."""
        self.label = label or getattr(fn, "__name__", None) or "job"
        self.pass_control = pass_control
        self.cancel_event = threading.Event()
        self.state = JobState.NEW
        self.failure: Failure | None = None
        """The typed failure (fix, expected) behind `failed`'s sentence, once it failed."""
        self.thread: JobThread | None = None  # type: ignore[assignment]  # shadows QObject.thread
        self._ended = threading.Event()
        self.error: BaseException | None = None
        """The exception behind `failed` (set on the job's thread before it is emitted)."""
        self._job_ident: int | None = None
        self._foreign: queue.SimpleQueue[ProgressEvent] = queue.SimpleQueue()
        # Reports from threads Qt does not know (the tune's budget clock, client threads) are
        # relayed by this GUI-thread timer: a Qt signal is never emitted from a plain thread.
        self._relay = QTimer(self)
        self._relay.setInterval(200)
        self._relay.timeout.connect(self._drain_foreign)
        self.started.connect(self._relay.start)
        self.finished.connect(self._relay.stop)

    def cancel(self) -> None:
        """Thread-safe: ask the function to stop at its next check (or drop it from the queue)."""
        self.cancel_event.set()

    def join(self, timeout_s: float = 10.0) -> bool:
        """Wait up to `timeout_s` for the job's thread to end; True if it has (or never ran)."""
        if self.state in (JobState.NEW, JobState.QUEUED):
            return True
        return self._ended.wait(timeout_s)

    def report(self, event: ProgressEvent) -> None:
        """The `progress` callback (a `core.progress.ProgressFn`) handed to the function."""
        if self._job_ident is not None and threading.get_ident() != self._job_ident:
            self._foreign.put(event)  # emitted by the relay timer in the GUI thread
            return
        self.event.emit(event)

    def _drain_foreign(self) -> None:
        while True:
            try:
                ev = self._foreign.get_nowait()
            except queue.Empty:
                return
            self.event.emit(ev)

    def _execute(self) -> None:
        """On the job's thread: run, then emit result or failed; `_done` always last."""
        self._job_ident = threading.get_ident()
        try:
            self.started.emit()
            if self.pass_control:
                value = self.fn(*self.args, progress=self.report, cancel=self.cancel_event)
            else:
                value = self.fn(*self.args)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one sentence (and a log)
            self.error = exc
            self.failure = failure_of(exc, self.label)  # before the signal: the page reads it
            self.failed.emit(self.failure.message)
        else:
            self.result.emit(value)
        finally:
            self._ended.set()
            self._done.emit()


class JobRunner(QObject):
    """Owns every job's thread. Create one per app (`runner()`); use it from the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[Job] = deque()
        self._measuring: Job | None = None
        self._running: set[Job] = set()

    # -- submitting -------------------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        """Start `job` now, or queue it behind the running measuring job; returns it."""
        if job.state is not JobState.NEW:
            raise ValueError("a job can be submitted once")
        preload(job.imports)  # GUI thread, before the job's thread exists
        if job.kind is JobKind.MEASURING and self._measuring is not None:
            job.state = JobState.QUEUED
            self._queue.append(job)
            job.waiting.emit(f"Waiting for the {self._measuring.label} to finish…")
            return job
        self._start(job)
        return job

    def _start(self, job: Job) -> None:
        if job.kind is JobKind.MEASURING:
            self._measuring = job
        job.state = JobState.RUNNING
        job.thread = JobThread(job)
        job._done.connect(lambda j=job: self._on_done(j))
        self._running.add(job)
        job.thread.start()

    def _on_done(self, job: Job) -> None:
        """GUI thread: the function returned; reap its thread, start the next queued job."""
        if job.thread is not None:
            job.thread.wait()  # returns at once: run() has returned; the thread is exiting
        job.state = JobState.DONE
        self._running.discard(job)
        job.thread = None
        job.finished.emit()
        if job is self._measuring:
            self._measuring = None
            self._start_next()

    def _start_next(self) -> None:
        while self._queue and self._measuring is None:
            job = self._queue.popleft()
            if job.cancel_event.is_set():
                job.state = JobState.DONE
                job.failed.emit("cancelled before it started")
                job.finished.emit()
                continue
            self._start(job)

    def cancel_queued(self, job: Job) -> bool:
        """Drop a queued job (its `failed` then `finished` are emitted); False if not queued."""
        if job not in self._queue:
            return False
        self._queue.remove(job)
        job.cancel_event.set()
        job.state = JobState.DONE
        job.failed.emit("cancelled before it started")
        job.finished.emit()
        return True

    # -- state ------------------------------------------------------------------------------
    @property
    def measuring(self) -> Job | None:
        """The measuring job running now, if any."""
        return self._measuring

    @property
    def queued(self) -> tuple[Job, ...]:
        return tuple(self._queue)

    @property
    def running(self) -> tuple[Job, ...]:
        return tuple(self._running)

    # -- quitting ---------------------------------------------------------------------------
    def shutdown(self, deadline_s: float = 15.0) -> list[str]:
        """Cancel everything, wait until `deadline_s` in total; returns the labels still running.

        Jobs stop their own servers when cancelled (core code owns its child processes), so
        this never blocks past the deadline: a job that ignores the cancel is reported and
        left to die with the process (its thread's children get SIGTERM via PDEATHSIG).
        """
        import time  # noqa: PLC0415 - stdlib, already loaded

        for job in list(self._queue):
            self.cancel_queued(job)
        for job in list(self._running):
            job.cancel()
        end = time.monotonic() + deadline_s
        late = []
        for job in list(self._running):
            if not job.join(max(0.0, end - time.monotonic())):
                late.append(job.label)
                log.warning(
                    "the %s job did not stop within %.0f s of quitting", job.label, deadline_s
                )
        return late


JOB_MODULES = (
    "httpx",
    "velollm_desktop.core.hardware",
    "velollm_desktop.core.bench.flow",
    "velollm_desktop.core.bench.concurrent",
    "velollm_desktop.core.doctor",
    "velollm_desktop.core.energy",
    "velollm_desktop.core.llamacpp.gguf",
    "velollm_desktop.core.llamacpp.server",
    "velollm_desktop.core.optimize.apply",
    "velollm_desktop.core.optimize.recommend",
    "velollm_desktop.core.speculative.compare",
    "velollm_desktop.core.tune.llamacpp",
    "velollm_desktop.core.tune.ollama",
)
"""What jobs import: `submit()` loads them (`preload()`) in the GUI thread before a job starts."""


def preload(modules: tuple[str, ...] = JOB_MODULES) -> None:
    """Import the jobs' modules now, in the calling (GUI) thread.

    A first import on a job's thread runs beside the GUI thread's own imports; with PySide6's
    import hook in `builtins.__import__` that is where the old start-up crash lived (see
    docs/ARCHITECTURE.md). Idempotent and cheap once done.
    """
    import importlib  # noqa: PLC0415 - stdlib

    for name in modules:
        importlib.import_module(name)


def drop_feature_import_hook() -> bool:
    """Put back the `builtins.__import__` that PySide6 replaced; returns whether it did.

    PySide6 routes every import through `__feature_import__`, which after each import
    rebinds `builtins.__import__` (process-wide, without a lock) and runs
    `inspect.getsource()` on the new module to see whether it mentions PySide6 — only to
    support `from __feature__ import snake_case, true_property`, which this app never uses
    (ruff bans `__feature__`). With imports on several threads that global swap is the race
    the old start-up crash was traced to; PySide6 documents `__orig_import__` as the one to
    restore. Leaves any other replacement (a debugger's, coverage's) alone.
    """
    import builtins  # noqa: PLC0415 - stdlib

    original = getattr(builtins, "__orig_import__", None)
    feature = getattr(builtins, "__feature_import__", None)
    if original is None or feature is None or builtins.__import__ is not feature:
        return False
    builtins.__import__ = original
    return True


_RUNNER: JobRunner | None = None


def runner() -> JobRunner:
    """The app's job runner (made on first use, in the GUI thread)."""
    global _RUNNER  # noqa: PLW0603 - one runner per process, like QApplication
    if _RUNNER is None:
        drop_feature_import_hook()
        _RUNNER = JobRunner()  # the jobs' modules load at their first submit (a tray-only
        # process never loads httpx, the benchmark or llama.cpp code: tray RSS)
    return _RUNNER


def reset_runner() -> JobRunner | None:
    """Forget the runner (tests: each gets a fresh one); returns the old one."""
    global _RUNNER
    old, _RUNNER = _RUNNER, None
    return old
