"""Energy results. Units in the names: `_j` joules, `_w` watts, `_s` seconds, `_per_wh` per
watt-hour. `None` is "n/a"; `na_reason` says why."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

METHOD_COUNTER = "counter"
"""The device's own cumulative energy counter (NVML total energy, RAPL, amdgpu energy1)."""
METHOD_INTEGRATED = "power integrated"
"""Power readings integrated over time (trapezoids at the sampler's rate)."""
METHOD_NA = "n/a"

MAX_W = 1500.0
"""More than any one device draws (an H200 SXM is limited to 700 W, a B200 to 1000 W, a CPU
package to ~500 W): a reading above it is a glitch, rejected."""
WH_J = 3600.0


@dataclass(frozen=True)
class EnergyPart:
    """One device's share of a reading."""

    source: str
    method: str
    energy_j: float | None
    integrated_energy_j: float | None = None
    """The same window by power integration, when the device reports power (accuracy check)."""
    note: str = ""


@dataclass(frozen=True)
class EnergyReading:
    """The energy one measured window (a test's runs, a load test, a tune round) used."""

    method: str
    """METHOD_COUNTER, METHOD_INTEGRATED, both joined with "+" across devices, or METHOD_NA."""
    energy_j: float | None
    duration_s: float
    mean_w: float | None = None
    idle_w: float | None = None
    """Mean power over a quiet second measured just before the window, if measured."""
    integrated_energy_j: float | None = None
    samples: int = 0
    rejected_samples: int = 0
    """Readings dropped as impossible (negative, over MAX_W, a counter running backwards)."""
    parts: tuple[EnergyPart, ...] = field(default=())
    na_reason: str = ""
    generated_tokens: int | None = None
    prompt_tokens: int | None = None
    j_per_generated_token: float | None = None
    j_per_prompt_token: float | None = None
    """Prefill energy per prompt token, when the prefill phases were long enough to separate."""
    generated_tokens_per_wh: float | None = None

    @property
    def available(self) -> bool:
        return self.energy_j is not None


def not_available(reason: str, duration_s: float = 0.0) -> EnergyReading:
    return EnergyReading(METHOD_NA, None, duration_s, na_reason=reason)


def with_tokens(
    reading: EnergyReading,
    generated: int | None,
    prompt: int | None = None,
    prefill_j: float | None = None,
) -> EnergyReading:
    """The reading with its per-token figures (None where the tokens or the energy are missing)."""
    e = reading.energy_j
    per_gen = e / generated if e is not None and generated else None
    per_wh = generated / (e / WH_J) if e and generated else None
    per_prompt = prefill_j / prompt if prefill_j is not None and prompt else None
    return replace(
        reading,
        generated_tokens=generated,
        prompt_tokens=prompt,
        j_per_generated_token=per_gen,
        j_per_prompt_token=per_prompt,
        generated_tokens_per_wh=per_wh,
    )


def _num(v: Any, hi: float = math.inf) -> float | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok and 0 <= v <= hi else None


def _count(v: Any) -> int | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**12
    return v if ok else None


def reading_from_json(d: Any) -> EnergyReading | None:
    """An exported reading back; anything malformed or impossible becomes None (not trusted)."""
    if not isinstance(d, dict) or not isinstance(d.get("method"), str):
        return None
    duration = _num(d.get("duration_s"), 10**7)
    if duration is None:
        return None
    mean_w, idle_w = _num(d.get("mean_w"), MAX_W * 64), _num(d.get("idle_w"), MAX_W * 64)
    energy = _num(d.get("energy_j"), MAX_W * 64 * max(duration, 1.0))
    parts = tuple(
        EnergyPart(
            str(p.get("source", "?"))[:80],
            str(p.get("method", "?"))[:40],
            _num(p.get("energy_j")),
            _num(p.get("integrated_energy_j")),
            str(p.get("note", ""))[:200],
        )
        for p in d.get("parts") or ()
        if isinstance(p, dict)
    )[:64]
    base = EnergyReading(
        method=d["method"][:80],
        energy_j=energy,
        duration_s=duration,
        mean_w=mean_w,
        idle_w=idle_w,
        integrated_energy_j=_num(d.get("integrated_energy_j")),
        samples=_count(d.get("samples")) or 0,
        rejected_samples=_count(d.get("rejected_samples")) or 0,
        parts=parts,
        na_reason=str(d.get("na_reason") or "")[:300],
    )
    gen, prompt = _count(d.get("generated_tokens")), _count(d.get("prompt_tokens"))
    prefill = None
    per_prompt = _num(d.get("j_per_prompt_token"))
    if per_prompt is not None and prompt:
        prefill = per_prompt * prompt
    return with_tokens(base, gen, prompt, prefill)


def format_j_per_token(reading: EnergyReading | None) -> str:
    """ "0.37 J/token", or "n/a" (the table's and the CLI's one rendering)."""
    if reading is None or reading.j_per_generated_token is None:
        return "n/a"
    v = reading.j_per_generated_token
    return f"{v:.3f} J/token" if v < 10 else f"{v:.1f} J/token"


def describe_energy(e: EnergyReading | None) -> str:
    """One line on a reading (the Benchmark table's tooltip): method, mean and idle watts, tokens per Wh, or why n/a."""
    if e is None:
        return "Energy was not measured for this run (saved before energy was recorded)."
    if e.j_per_generated_token is None:
        return e.na_reason or "n/a"
    idle = f", idle {e.idle_w:.1f} W before" if e.idle_w is not None else ""
    return (
        f"{e.energy_j:.1f} J over {e.duration_s:.1f} s ({e.method}): mean {e.mean_w:.1f} W"
        f"{idle}; {e.generated_tokens_per_wh:.0f} tokens/Wh"
    )
