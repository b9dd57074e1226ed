"""Typed progress: what a long core function reports while it runs.

Core functions take `progress: ProgressFn | None` and call it with a `ProgressEvent`; pages read
the fields (a finished measurement arrives as `measurement`, not as text to parse). Functions
written before this module still call `progress(done, total, text)`: `as_event()` turns such a
call into an event, so one callback serves both while they move over.
"""

from __future__ import annotations

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


def as_event(*args: Any) -> ProgressEvent:
    """`(event)` or the older `(done, total, text)` call → a `ProgressEvent`."""
    if len(args) == 1 and isinstance(args[0], ProgressEvent):
        return args[0]
    if len(args) == 3:
        done, total, text = args
        return ProgressEvent(int(done), int(total), str(text))
    raise TypeError(f"progress takes a ProgressEvent or (done, total, text), not {args!r}")


def silent(_event: ProgressEvent) -> None:
    """The progress callback of a caller that wants none."""


def legacy(progress: ProgressFn | None) -> Callable[[int, int, str], None]:
    """A `(done, total, text)` callback for core functions not yet moved to events."""
    report = progress or silent
    return lambda done, total, text: report(ProgressEvent(done, total, text))


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
