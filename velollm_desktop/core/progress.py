"""Typed progress: what a long core function reports while it runs.

Core functions take `progress: ProgressFn | None` and call it with a `ProgressEvent`; pages read
the fields (a finished measurement arrives as `measurement`, not as text to parse). A measuring
loop counts its runs with one `RunCounter`, which builds the events (with the time left).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Phase(str, Enum):
    """Where a job is: pages may show each differently (e.g. a spinner while starting)."""

    STARTING = "starting"
    """Starting a server, loading a model, downloading: nothing measured yet."""
    WARMUP = "warmup"
    """A discarded warm-up request."""
    MEASURING = "measuring"
    """Counted measurements."""
    RESTORING = "restoring"
    """Putting back what was changed (settings, services)."""
    DONE = "done"
    WORKING = "working"
    """A step that did not say which phase it is in."""


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report: `done` of `total` steps, a human sentence, the latest measurement."""

    done: int
    total: int
    text: str
    phase: Phase = Phase.WORKING
    measurement: Any = None
    """The measurement that just finished (a `RunMeasurement`, a tuning `Measured`, …), if any."""

    @property
    def fraction(self) -> float:
        """0..1 (0 while the total is unknown)."""
        return min(1.0, max(0.0, self.done / self.total)) if self.total > 0 else 0.0


ProgressFn = Callable[[ProgressEvent], None]


def silent(_event: ProgressEvent) -> None:
    """The progress callback of a caller that wants none."""


class RunCounter:
    """Runs done of runs planned, reported as events: the one counter of every measuring loop
    (benchmark suite, speculative comparison, tune budget, re-measuring).

    `say(text, run_done=True)` counts a run and reports it; without `run_done` it only reports.
    The text gets " — 7 of 18 runs, 41 s so far, about 3 min left" unless `pace=False`. Thread-safe (the tune
    counts runs on request threads and reports from its budget clock)."""

    def __init__(self, total: int, progress: ProgressFn | None = None) -> None:
        self.total = total
        """Runs planned (a loop that drops some lowers it)."""
        self.done = 0
        self.report: ProgressFn = progress or silent
        self.started = time.monotonic()
        self._lock = threading.Lock()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def count(self) -> int:
        """One more run done (nothing reported); returns how many are done now."""
        with self._lock:
            self.done += 1
            return self.done

    def event(
        self,
        text: str,
        phase: Phase = Phase.MEASURING,
        measurement: Any = None,
        *,
        pace: bool = True,
        bar: tuple[int, int] | None = None,
    ) -> ProgressEvent:
        """The event for `text` now: runs done of planned (or `bar`, e.g. seconds of a budget)."""
        if pace:
            text = f"{text} — {runs_left_text(self.done, self.total, self.elapsed_s)}"
        done, total = bar or (self.done, self.total)
        return ProgressEvent(done, total, text, phase, measurement)

    def say(
        self,
        text: str,
        phase: Phase = Phase.MEASURING,
        measurement: Any = None,
        *,
        pace: bool = True,
        run_done: bool = False,
    ) -> None:
        """Report `text` (with the measurement that just finished, if any); `run_done`: a run
        just finished, count it first."""
        if run_done:
            self.count()
        self.report(self.event(text, phase, measurement, pace=pace))


def runs_left_text(done: int, total: int, elapsed_s: float) -> str:
    """ "7 of 18 runs, 41 s so far, about 3 min left" (no estimate before the first run)."""
    runs = f"{done} of {total} runs, {duration_text(elapsed_s)} so far"
    if done <= 0 or done >= total:
        return runs
    return f"{runs}, about {duration_text(elapsed_s / done * (total - done))} left"


def duration_text(seconds: float) -> str:
    """Seconds in words a person reads at a glance: "5 s", "45 s", "3 min"."""
    if seconds < 90:
        return f"{max(0, round(seconds)):.0f} s"
    return f"{round(seconds / 60):.0f} min"
