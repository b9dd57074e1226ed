"""A bounded, time-windowed history of samples for the plots (oldest dropped first)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: keeps psutil/NVML off the tray's start path
    from velollm_desktop.core.monitor.sampler import GpuSample, SystemSample


HISTORY_S = 600.0
"""Longest window kept, in seconds (the dashboard's "last 10 min")."""


class SampleHistory:
    """Keeps the last `max_age_s` seconds of samples; memory is bounded by age, not count."""

    def __init__(self, max_age_s: float = HISTORY_S) -> None:
        self.max_age_s = max_age_s
        self._samples: deque[SystemSample] = deque()

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, sample: SystemSample) -> None:
        """Append a sample and drop those older than the window."""
        self._samples.append(sample)
        cutoff = sample.monotonic_s - self.max_age_s
        while self._samples and self._samples[0].monotonic_s < cutoff:
            self._samples.popleft()

    @property
    def latest(self) -> SystemSample | None:
        """The newest sample, or `None`."""
        return self._samples[-1] if self._samples else None

    def gpu_count(self) -> int:
        """Number of GPUs in the newest sample."""
        return len(self._samples[-1].gpus) if self._samples else 0

    def series(
        self, value: Callable[[SystemSample], float | None], window_s: float
    ) -> tuple[list[float], list[float]]:
        """(x, y) over the last `window_s` seconds; x is seconds relative to now (≤ 0).

        Samples whose value is `None` are skipped (a gap, not a zero).
        """
        if not self._samples:
            return [], []
        now = self._samples[-1].monotonic_s
        xs, ys = [], []
        for s in reversed(self._samples):
            age = s.monotonic_s - now
            if age < -window_s:
                break
            v = value(s)
            if v is not None:
                xs.append(age)
                ys.append(float(v))
        xs.reverse()
        ys.reverse()
        return xs, ys

    def gpu_series(
        self, index: int, field: Callable[[GpuSample], float | None], window_s: float
    ) -> tuple[list[float], list[float]]:
        """Like `series` for one metric of GPU `index`."""

        def pick(s: SystemSample) -> float | None:
            return field(s.gpus[index]) if index < len(s.gpus) else None

        return self.series(pick, window_s)
