"""The concurrent benchmark: N clients, each sending requests back to back for a fixed time.

Gives aggregate generated tokens per second, request latency and TTFT percentiles, and a
per-interval throughput series (to see it hold over time). Errors are counted by who caused
them: the server (HTTP errors, refused or dropped connections, timeouts: `ServerError`) or us
(anything else: a bug in our client, which a load test must never see).
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from velollm_desktop.core.bench.backends import Backend
from velollm_desktop.core.energy import EnergyMeter, EnergyReading, with_tokens
from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.progress import Phase, ProgressEvent, ProgressFn, silent

PROMPTS = (
    "Explain in a few sentences how a hash map works.",
    "Write a short Python function that reverses a string, with a docstring.",
    "List five tips for writing clear commit messages.",
    "Describe the water cycle to a ten-year-old.",
)


@dataclass(frozen=True)
class LoadResult:
    """What N clients got over `duration_s` seconds."""

    clients: int
    duration_s: float
    """Wall time from the first request to the last answer (s)."""
    requests_ok: int
    generated_tokens: int
    tokens_per_s: float
    """Aggregate generated tokens per wall second (tokens/s)."""
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    server_errors: tuple[str, ...]
    """Errors the server caused (HTTP status, dropped connection, timeout), one line each."""
    our_errors: tuple[str, ...]
    """Errors raised by our own code: must stay empty."""
    series: tuple[tuple[float, float], ...] = field(default=())
    """(seconds since start, generated tokens/s in that interval)."""
    cancelled: bool = False
    energy: EnergyReading | None = None
    """The whole load's energy (J per generated token over all clients), when measured."""


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


@dataclass
class _Tally:
    """What the client threads found, under one lock."""

    t0: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    done_at: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the start, tokens generated) of each answered request."""
    server_errors: list[str] = field(default_factory=list)
    our_errors: list[str] = field(default_factory=list)

    def error(self, ours: bool, text: str) -> None:
        with self.lock:
            (self.our_errors if ours else self.server_errors).append(text)

    def answered(self, m) -> None:
        with self.lock:
            self.latencies.append(m.total_ms)
            if m.ttft_ms is not None:
                self.ttfts.append(m.ttft_ms)
            self.done_at.append((time.monotonic() - self.t0, int(m.eval_count or 0)))


def _client(
    k: int,
    make_backend: Callable[[], Backend],
    tally: _Tally,
    end: float,
    max_tokens: int,
    cancel: threading.Event,
) -> None:
    """One client: requests back to back until `end`; every failure counted, never raised."""
    try:
        backend = make_backend()
    except Exception as exc:  # noqa: BLE001 - counted, the run goes on
        tally.error(True, f"client {k}: could not start: {type(exc).__name__}: {exc}")
        return
    i = 0
    try:
        while time.monotonic() < end and not cancel.is_set():
            prompt = f"[{k}.{i}] {PROMPTS[(k + i) % len(PROMPTS)]}"
            i += 1
            try:
                m = backend.measure(prompt, max_tokens, cancel)
            except ServerError as exc:
                tally.error(False, f"client {k}: {exc}")
                time.sleep(0.5)  # a failing server is not hammered
                continue
            except Exception as exc:  # noqa: BLE001 - a bug of ours: counted and reported
                tally.error(True, f"client {k}: {type(exc).__name__}: {exc}")
                continue
            if not cancel.is_set():
                tally.answered(m)
    finally:
        backend.close()


def _series(
    done_at: list[tuple[float, int]], wall: float, interval_s: float
) -> tuple[tuple[float, float], ...]:
    """(interval start s, tokens/s in it) for each interval of the run."""
    out = []
    for start in range(0, int(wall) + 1, max(1, int(interval_s))):
        in_bin = sum(n for t, n in done_at if start <= t < start + interval_s)
        width = min(interval_s, wall - start)
        if width > 0:
            out.append((float(start), in_bin / width))
    return tuple(out)


def run_load(
    make_backend: Callable[[], Backend],
    clients: int,
    duration_s: float,
    *,
    max_tokens: int = 64,
    interval_s: float = 10.0,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    energy: EnergyMeter | None = None,
) -> LoadResult:
    """Run `clients` threads, each with its own backend (connection), for `duration_s` seconds.

    With `energy`, the load is one energy window after a quiet second (the idle baseline)."""
    if clients < 1 or duration_s <= 0:
        raise BadInput("clients must be ≥ 1 and the duration > 0 s")
    cancel = cancel or threading.Event()
    if energy is None:
        return _run_load(
            make_backend, clients, duration_s, max_tokens, interval_s, progress, cancel
        )
    idle = energy.idle_w(cancel=cancel) if energy.available else None
    with energy.window(idle) as window:
        load = _run_load(
            make_backend, clients, duration_s, max_tokens, interval_s, progress, cancel
        )
    reading = with_tokens(window.reading, load.generated_tokens) if window.reading else None
    return dataclasses.replace(load, energy=reading)


def _run_load(
    make_backend: Callable[[], Backend],
    clients: int,
    duration_s: float,
    max_tokens: int,
    interval_s: float,
    progress: ProgressFn | None,
    cancel: threading.Event,
) -> LoadResult:
    report = progress or silent
    tally = _Tally(time.monotonic())
    end = tally.t0 + duration_s
    threads = [
        threading.Thread(
            target=_client,
            args=(k, make_backend, tally, end, max_tokens, cancel),
            daemon=True,
        )
        for k in range(clients)
    ]
    for t in threads:
        t.start()
    total_ticks = max(1, int(duration_s))
    while alive := [t for t in threads if t.is_alive()]:
        alive[0].join(timeout=1.0)
        with tally.lock:
            n = len(tally.done_at)
        elapsed = int(time.monotonic() - tally.t0)
        text = f"{clients} clients, {n} requests answered"
        report(ProgressEvent(min(total_ticks, elapsed), total_ticks, text, Phase.MEASURING))
    wall = time.monotonic() - tally.t0
    lat, ttfts = tally.latencies, tally.ttfts
    tokens = sum(n for _, n in tally.done_at)
    return LoadResult(
        clients,
        wall,
        len(tally.done_at),
        tokens,
        tokens / wall if wall else 0.0,
        statistics.median(lat) if lat else None,
        _pct(lat, 0.95),
        statistics.median(ttfts) if ttfts else None,
        _pct(ttfts, 0.95),
        tuple(tally.server_errors),
        tuple(tally.our_errors),
        _series(tally.done_at, wall, interval_s),
        cancel.is_set(),
    )
