"""Poll a fleet: every target probed at once, one deadline for all, levels per host.

`FleetMonitor.poll()` returns within the deadline (plus a little) whatever the targets do: a
probe still running then is reported down ("no answer within N s") and its thread, bounded by
the same deadline in its HTTP timeouts, ends on its own shortly after. Nothing is scanned:
only the targets given are contacted.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from velollm_desktop.core.fleet.model import Counters, HostStatus, TargetStatus
from velollm_desktop.core.fleet.probe import PROBE_DEADLINE_S, probe
from velollm_desktop.core.fleet.targets import Target, group_by_host
from velollm_desktop.core.http.bounds import redact_url


@dataclass(frozen=True)
class Thresholds:
    """When a host turns amber ("warn")."""

    cpu_pct: float = 90.0
    ram_pct: float = 90.0
    vram_pct: float = 95.0
    gpu_temp_c: float = 85.0
    requests_waiting: int = 1


LEVELS = ("ok", "warn", "down")


class FleetMonitor:
    """Keeps the detected kinds and the last counters of each target between polls."""

    def __init__(self, targets: list[Target], deadline_s: float = PROBE_DEADLINE_S) -> None:
        self.targets = list(targets)
        self.deadline_s = deadline_s
        self._kinds: dict[str, str | None] = {t.url: t.kind for t in self.targets}
        self._prev: dict[str, Counters] = {}
        self._lock = threading.Lock()
        # no shared connection pool: each request has its own bounded connection (probe.fetch),
        # so one slow target cannot hold what another target needs

    def close(self) -> None:
        """Nothing to release: no connection outlives its request."""

    def __enter__(self) -> FleetMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _probe_one(self, target: Target) -> TargetStatus:
        with self._lock:
            kind, prev = self._kinds.get(target.url), self._prev.get(target.url)
        status, counters = probe(None, target, kind, prev, self.deadline_s)
        with self._lock:
            if status.up and status.kind:
                self._kinds[target.url] = status.kind
            if counters is not None:
                self._prev[target.url] = counters
            elif not status.up:
                self._prev.pop(target.url, None)
        return status

    def poll(self) -> list[TargetStatus]:
        """One status per target, in the order given."""
        if not self.targets:
            return []
        pool = ThreadPoolExecutor(len(self.targets), thread_name_prefix="velollm-fleet")
        try:
            futures: list[Future] = [pool.submit(self._probe_one, t) for t in self.targets]
            wait(futures, timeout=self.deadline_s + 0.5)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return [_result(f, t, self.deadline_s) for f, t in zip(futures, self.targets, strict=True)]


def _result(future: Future, target: Target, deadline_s: float) -> TargetStatus:
    if future.done() and future.exception() is None:
        return future.result()
    error = (
        f"probe failed: {future.exception()}"
        if future.done()
        else f"no answer within {deadline_s:g} s"
    )
    return TargetStatus(
        url=redact_url(target.url),
        kind=target.kind,
        host=target.host,
        up=False,
        error=error,
        probe_ms=round(deadline_s * 1000.0, 1),
    )


def _warnings(status: TargetStatus, limits: Thresholds) -> list[str]:
    out = []
    if status.cpu_pct is not None and status.cpu_pct >= limits.cpu_pct:
        out.append(f"CPU {status.cpu_pct:.0f} %")
    if status.ram_used_bytes is not None and status.ram_total_bytes:
        pct = 100.0 * status.ram_used_bytes / status.ram_total_bytes
        if pct >= limits.ram_pct:
            out.append(f"RAM {pct:.0f} %")
    for gpu in status.gpus:
        if gpu.temperature_c is not None and gpu.temperature_c >= limits.gpu_temp_c:
            out.append(f"{gpu.name} {gpu.temperature_c:.0f} °C")
        if gpu.vram_used_bytes is not None and gpu.vram_total_bytes:
            pct = 100.0 * gpu.vram_used_bytes / gpu.vram_total_bytes
            if pct >= limits.vram_pct:
                out.append(f"{gpu.name} VRAM {pct:.0f} %")
    if status.requests_waiting is not None and status.requests_waiting >= limits.requests_waiting:
        out.append(f"{status.requests_waiting} requests waiting")
    return out


def host_statuses(
    statuses: list[TargetStatus], limits: Thresholds | None = None
) -> list[HostStatus]:
    """Targets grouped by host: "down" when none of its targets answers, "warn" when some do
    not (a half-up host) or a reading is past a threshold, else "ok"."""
    limits = limits or Thresholds()
    hosts = []
    for host, members in group_by_host(statuses).items():
        item = HostStatus(host=host, targets=members)
        down = [s for s in members if not s.up]
        for status in down:
            item.reasons.append(f"{status.kind or 'target'} {status.url}: {status.error}")
        for status in members:
            if status.up:
                item.reasons += _warnings(status, limits)
        if down and len(down) == len(members):
            item.level = "down"
        elif down or item.reasons:
            item.level = "warn"
            if down:
                up = len(members) - len(down)
                item.reasons.insert(0, f"{up} of {len(members)} targets answer")
        hosts.append(item)
    return hosts


def worst_level(hosts: list[HostStatus]) -> str:
    """The worst level over all hosts ("ok" for an empty fleet)."""
    return max((h.level for h in hosts), key=LEVELS.index, default="ok")


def sleep_until(next_at: float, stop: threading.Event | None = None) -> bool:
    """Wait until monotonic `next_at`; False if `stop` was set meanwhile."""
    delay = max(0.0, next_at - time.monotonic())
    if stop is None:
        time.sleep(delay)
        return True
    return not stop.wait(delay)
