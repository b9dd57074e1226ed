"""Energy for tuning: each candidate's reading, and the "tokens per joule" objective.

`measure_with_energy` measures a candidate (both tuning targets call it): `CandidateEnergy.wrap`
turns its request into one whose rate is generated tokens per joule (objective "efficiency":
one request per energy window) and counts the tokens; `measuring()` is the window over the whole
candidate (its `reading` goes on the `Measured`). Without an energy source the efficiency
objective is refused up front."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from velollm_desktop.core.energy import EnergyMeter, EnergyReading, with_tokens
from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.tune.common import (
    OBJECTIVES,
    Measured,
    Request,
    TuneSettings,
    measure_rounds,
    measured_from,
)

EFFICIENCY = "efficiency"


def score_unit(objective: str) -> str:
    """The unit of a tune's scores: generated tokens per joule for efficiency, else tokens/s."""
    return "tokens/J" if objective == EFFICIENCY else "tokens/s"


def meter_for(objective: str, energy: EnergyMeter | None) -> EnergyMeter:
    """The meter to use; a ValueError (with the reason) when efficiency cannot be measured
    or the objective is not one of OBJECTIVES."""
    if objective not in OBJECTIVES:
        raise BadInput(f"objective must be one of {', '.join(OBJECTIVES)}")
    meter = energy if energy is not None else EnergyMeter.here()
    if objective == EFFICIENCY and not meter.available:
        raise BadInput(
            f"the tokens-per-joule objective needs an energy reading, and there is none here "
            f"({meter.na_reason})"
        )
    return meter


class CandidateEnergy:
    def __init__(self, meter: EnergyMeter, objective: str) -> None:
        self.meter = meter
        self.objective = objective
        self.tokens = 0
        self._lock = threading.Lock()
        self.reading: EnergyReading | None = None

    def wrap(self, request: Request) -> Request:
        def wrapped(i: int) -> tuple[float, float, int]:
            if self.objective != EFFICIENCY:
                rate, latency, n = request(i)
            else:
                with self.meter.window() as w:
                    _, latency, n = request(i)
                joules = w.reading.energy_j if w.reading else None
                if not joules or not n:
                    why = w.reading.na_reason if w.reading else ""
                    raise BadInput(f"no energy reading for a request: {why or 'no tokens'}")
                rate = n / joules
            with self._lock:
                self.tokens += n
            return rate, latency, n

        return wrapped

    @contextmanager
    def measuring(self) -> Iterator[None]:
        with self.meter.window() as w:
            yield
        if w.reading is not None:
            self.reading = with_tokens(w.reading, self.tokens or None)


def measure_with_energy(
    candidate: Any,
    request: Request,
    settings: TuneSettings,
    *,
    deadline: float,
    cancel: threading.Event,
    on_sample: Callable[[int], None] | None = None,
    energy: EnergyMeter | None = None,
    load_ms: float | None = None,
) -> Measured:
    """`candidate` measured in rounds of `request` (`measure_rounds`) inside one energy window:
    its `Measured`, with the window's reading (none without a meter)."""
    objective = str(settings.objective)
    tally = CandidateEnergy(energy or EnergyMeter([]), objective)
    with tally.measuring():
        samples, latencies = measure_rounds(
            tally.wrap(request),
            objective,
            settings.concurrency,
            deadline=deadline,
            cancel=cancel,
            on_sample=on_sample,
        )
    measured = measured_from(candidate, samples, latencies, load_ms)
    return dataclasses.replace(measured, energy=tally.reading)
