"""A tune's time budget as a hard limit, and progress that moves while a candidate is measured.

`BudgetClock` runs one small watcher thread for the length of a tune. It sets `stop` when the
user cancels or, once the baseline has one complete sample, when the budget is spent: every
server start and request of the candidate in flight watches `stop` and ends at once (llama.cpp's
server start, a streamed completion, Ollama's preload). The baseline is the one exception: it is
always measured (a tune without it compares nothing), so the budget stops it only after its
first complete sample. Every second the watcher reports the elapsed time against the budget,
with what is being measured and how many runs are done, so the bar moves during a measurement.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from velollm_desktop.core.progress import Phase, ProgressEvent, ProgressFn, RunCounter

TICK_S = 1.0
POLL_S = 0.05


@dataclass(frozen=True)
class BudgetState:
    """What the clock knows at one instant (read by the progress text)."""

    elapsed_s: float
    budget_s: float
    runs_done: int
    activity: str


class BudgetClock:
    """`with BudgetClock(t_start, budget_s, cancel, report) as clock:` — see the module doc."""

    def __init__(
        self,
        t_start: float,
        budget_s: float,
        cancel: threading.Event,
        report: ProgressFn,
        *,
        tick_s: float = TICK_S,
    ) -> None:
        self.t_start, self.budget_s, self.cancel, self.report = t_start, budget_s, cancel, report
        self.tick_s = tick_s
        self.stop = threading.Event()
        """Set on cancel or when the budget is spent: what every server and request watches."""
        self.spent = False
        """Whether the budget (not the user) set `stop`."""
        self.runs = RunCounter(0)
        """The runs counted so far (the total is not known: the bar shows the budget)."""
        self._armed = False
        self._activity = "starting"
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="tune-budget", daemon=True)

    def __enter__(self) -> BudgetClock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.t_start

    @property
    def left_s(self) -> float:
        """Seconds left of the budget (0 once spent)."""
        return max(0.0, self.budget_s - self.elapsed_s)

    def state(self) -> BudgetState:
        with self._lock:
            return BudgetState(self.elapsed_s, self.budget_s, self.runs.done, self._activity)

    def doing(self, activity: str) -> None:
        """What the next progress reports say is being measured."""
        with self._lock:
            self._activity = activity
        self._tick()

    def sampled(self, _n_samples: int) -> None:
        """A run (one request or one round of concurrent ones) finished and was counted; the
        first one arms the hard limit (the baseline then has its sample)."""
        self.runs.count()
        with self._lock:
            self._armed = True
        self._tick()

    def event(self, done_text: str = "", measurement: object = None) -> ProgressEvent:
        """A progress event: elapsed seconds of the budget, and the text."""
        s = self.state()
        elapsed, budget = min(s.elapsed_s, s.budget_s), max(s.budget_s, 1e-9)
        bar = (int(elapsed), max(1, int(round(budget))))
        text = done_text or progress_text(s)
        return self.runs.event(text, Phase.MEASURING, measurement, pace=False, bar=bar)

    def _tick(self) -> None:
        self.report(self.event())

    def _watch(self) -> None:
        next_tick = time.monotonic() + self.tick_s
        while not self._done.wait(POLL_S):
            if self.cancel.is_set():
                self.stop.set()
                return
            with self._lock:
                armed = self._armed
            if armed and self.elapsed_s >= self.budget_s and not self.stop.is_set():
                self.spent = True
                self.stop.set()
            if time.monotonic() >= next_tick:
                next_tick += self.tick_s
                self._tick()


def progress_text(s: BudgetState) -> str:
    """'Measuring threads=2 (candidate 2 of 5), 7 runs done: 41 s of 60 s.'"""
    runs = f", {s.runs_done} run{'s' if s.runs_done != 1 else ''} done" if s.runs_done else ""
    return (
        f"{s.activity[:1].upper()}{s.activity[1:]}{runs}: "
        f"{s.elapsed_s:.0f} s of {s.budget_s:.0f} s."
    )
