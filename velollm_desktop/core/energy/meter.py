"""Measure the energy of a window: counters read at both ends, power sampled in between.

`EnergyMeter` is used as `with meter.window() as w: ...; reading = w.reading`. A background
thread reads every source's power each `interval_s` (the monitor's own rate is far slower:
benchmarks need ~10 Hz); at the end each device's counter delta is used where it has one, the
integrated power otherwise. Impossible readings are dropped and counted, never stored.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from velollm_desktop.core.energy.model import (
    MAX_W,
    METHOD_COUNTER,
    METHOD_INTEGRATED,
    EnergyPart,
    EnergyReading,
    not_available,
)
from velollm_desktop.core.energy.sources import Discovery, EnergySource, discover

DEFAULT_INTERVAL_S = 0.1
IDLE_S = 1.0


@dataclass
class _Series:
    """One source's power readings (monotonic s, W) and its counter at the window's start."""

    times: list[float] = field(default_factory=list)
    watts: list[float] = field(default_factory=list)
    counter0_j: float | None = None
    rejected: int = 0

    def add(self, t: float, w: float | None) -> None:
        if w is None:
            return
        if not 0.0 <= w <= MAX_W:
            self.rejected += 1
            return
        self.times.append(t)
        self.watts.append(w)

    def integral_j(self, t0: float | None = None, t1: float | None = None) -> float | None:
        """Trapezoids between t0 and t1 (the whole series by default); None below 2 points."""
        ts, ws = self.times, self.watts
        if len(ts) < 2:
            return None
        lo = ts[0] if t0 is None else max(t0, ts[0])
        hi = ts[-1] if t1 is None else min(t1, ts[-1])
        if hi <= lo:
            return 0.0
        total = 0.0
        i = max(0, bisect.bisect_right(ts, lo) - 1)
        while i < len(ts) - 1 and ts[i] < hi:
            a, b = max(ts[i], lo), min(ts[i + 1], hi)
            if b > a:
                total += (ws[i] + ws[i + 1]) / 2 * (b - a)
            i += 1
        return total


def counter_delta(
    e0: float | None, e1: float | None, wrap_j: float | None
) -> tuple[float | None, str]:
    """(joules, note): a counter that went backwards wrapped once when its range is known,
    else the reading is rejected."""
    if e0 is None or e1 is None:
        return None, "counter not readable at both ends"
    if e1 >= e0:
        return e1 - e0, ""
    if wrap_j:
        return e1 + wrap_j - e0, "counter wrapped (range added once)"
    return None, "counter went backwards: reading rejected"


class Window:
    """One measured window; `reading` is set when the `with` block ends."""

    def __init__(self, meter: EnergyMeter) -> None:
        self._meter = meter
        self._series = [_Series() for _ in meter.sources]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = 0.0
        self.t1 = 0.0
        self.reading: EnergyReading | None = None

    def _sample(self) -> None:
        t = self._meter.clock()
        for src, ser in zip(self._meter.sources, self._series, strict=True):
            ser.add(t, src.power_w())

    def _loop(self) -> None:
        while not self._stop.wait(self._meter.interval_s):
            self._sample()

    def start(self) -> None:
        for src, ser in zip(self._meter.sources, self._series, strict=True):
            ser.counter0_j = src.energy_j()
        self.t0 = self._meter.clock()
        if not self._meter.sources:
            return  # nothing to sample: the reading will be "n/a" with the reason
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="velollm-energy", daemon=True)
        self._thread.start()

    def stop(self, idle_w: float | None = None) -> EnergyReading:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        self.t1 = self._meter.clock()
        self.reading = self._combine(self.t1 - self.t0, idle_w)
        return self.reading

    def energy_between_j(self, t0: float, t1: float) -> float | None:
        """Integrated energy of every power-reporting source between two clock times."""
        parts = [s.integral_j(t0, t1) for s in self._series]
        known = [p for p in parts if p is not None]
        return sum(known) if known else None

    def _part(self, src: EnergySource, ser: _Series, duration: float) -> EnergyPart:
        integrated = ser.integral_j()
        delta, note = counter_delta(ser.counter0_j, src.energy_j(), src.wrap_j)
        if delta is not None and duration > 0 and delta / duration > MAX_W:
            watts = delta / duration
            delta, note = None, f"counter gave {watts:.0f} W: reading rejected"
        if delta is not None:
            return EnergyPart(src.name, METHOD_COUNTER, delta, integrated, note)
        if integrated is not None:
            return EnergyPart(src.name, METHOD_INTEGRATED, integrated, integrated, note)
        why = f"{ser.rejected} impossible" if ser.rejected else "no"
        return EnergyPart(src.name, "n/a", None, None, f"{note}; {why} power readings")

    def _combine(self, duration: float, idle_w: float | None) -> EnergyReading:
        if not self._meter.sources:
            return not_available(self._meter.na_reason, duration)
        parts = tuple(
            self._part(src, ser, duration)
            for src, ser in zip(self._meter.sources, self._series, strict=True)
        )
        known = [p for p in parts if p.energy_j is not None]
        rejected = sum(s.rejected for s in self._series)
        if not known:
            why = "; ".join(f"{p.source}: {p.note}" for p in parts)
            return EnergyReading(
                "n/a",
                None,
                duration,
                idle_w=idle_w,
                parts=parts,
                rejected_samples=rejected,
                na_reason=why,
            )
        energy = sum(p.energy_j or 0.0 for p in known)
        integ = [p.integrated_energy_j for p in parts if p.integrated_energy_j is not None]
        methods = sorted({p.method for p in known})
        return EnergyReading(
            method=" + ".join(methods),
            energy_j=energy,
            duration_s=duration,
            mean_w=energy / duration if duration > 0 else None,
            idle_w=idle_w,
            integrated_energy_j=sum(integ) if integ else None,
            samples=sum(len(s.times) for s in self._series),
            rejected_samples=rejected,
            parts=parts,
        )


class EnergyMeter:
    """Measures windows over a fixed set of sources (found once: `EnergyMeter.here()`)."""

    def __init__(
        self,
        sources: Sequence[EnergySource],
        *,
        na_reason: str = "no energy source on this machine",
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = tuple(sources)
        self.na_reason = na_reason
        self.interval_s = interval_s
        self.clock = clock

    @classmethod
    def here(cls, found: Discovery | None = None, **kw: object) -> EnergyMeter:
        """A meter over every readable source of this machine."""
        found = found or discover()
        why = "; ".join(found.reasons) if found.reasons else "no energy source"
        return cls(found.sources, na_reason=why, **kw)  # type: ignore[arg-type]

    @property
    def available(self) -> bool:
        return bool(self.sources)

    @contextmanager
    def window(self, idle_w: float | None = None) -> Iterator[Window]:
        w = Window(self)
        w.start()
        try:
            yield w
        finally:
            w.stop(idle_w)

    def idle_w(
        self, duration_s: float = IDLE_S, cancel: threading.Event | None = None
    ) -> float | None:
        """Mean power over a quiet `duration_s` (the baseline a run is compared with)."""
        if not self.sources:
            return None
        with self.window() as w:
            (cancel or threading.Event()).wait(duration_s)
        return w.reading.mean_w if w.reading else None
