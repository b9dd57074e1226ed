"""Soak: the tray app at 10 Hz sampling with the dashboard open, for a long time.

    python bench/soak.py [--minutes 10] [--interval-s 30] [--warmup-minutes 12]

Every --interval-s seconds records RSS (MB), thread count, open file descriptors and CPU (% of
one core over the interval); prints JSON with the series and the growth rates per hour. The
dashboard keeps the last 10 minutes of samples (6000 at 10 Hz), so RSS rises by design while
that window fills: the steady-state rate is the least-squares slope after --warmup-minutes;
the raw first-to-last rate is printed too.
Runs under its own Xvfb + trayer (bash build_scripts/setup.sh test installs them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tray_overhead import _stop, _wait_ready, launch_10hz_dashboard  # noqa: E402

from tests.xdisplay import start_display  # noqa: E402


def _slope_per_hour(points: list[dict], key: str) -> float | None:
    """Least-squares slope of `key` against time, per hour (None with fewer than 3 points)."""
    if len(points) < 3:
        return None
    ts = [p["t_s"] / 3600 for p in points]
    ys = [p[key] for p in points]
    mt, my = sum(ts) / len(ts), sum(ys) / len(ys)
    den = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / den if den else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--interval-s", type=float, default=30)
    ap.add_argument("--warmup-minutes", type=float, default=12)
    args = ap.parse_args()
    disp = start_display(with_tray=True)
    series = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp)
            proc, ready, t0 = launch_10hz_dashboard(disp.env, cfg)
            try:
                _wait_ready(ready, t0)
                p = psutil.Process(proc.pid)
                end = time.monotonic() + args.minutes * 60
                cpu0, wall0 = p.cpu_times(), time.monotonic()
                while time.monotonic() < end:
                    time.sleep(args.interval_s)
                    cpu1, wall1 = p.cpu_times(), time.monotonic()
                    cpu = (
                        100
                        * ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system))
                        / (wall1 - wall0)
                    )
                    cpu0, wall0 = cpu1, wall1
                    series.append(
                        {
                            "t_s": round(args.interval_s * (len(series) + 1)),
                            "rss_mb": round(p.memory_info().rss / 1e6, 2),
                            "threads": p.num_threads(),
                            "fds": p.num_fds(),
                            "cpu_pct": round(cpu, 2),
                        }
                    )
                alive = proc.poll() is None
            finally:
                _stop(proc)
    finally:
        disp.stop()
    hours = (series[-1]["t_s"] - series[0]["t_s"]) / 3600 if len(series) > 1 else 0
    steady = [s for s in series if s["t_s"] >= args.warmup_minutes * 60]
    out = {
        "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes,
        "rss_steady_growth_mb_per_hour": _slope_per_hour(steady, "rss_mb"),
        "threads_steady_growth_per_hour": _slope_per_hour(steady, "threads"),
        "sampling_hz": 10,
        "dashboard": "shown",
        "alive_at_end": alive,
        "rss_growth_mb_per_hour": (series[-1]["rss_mb"] - series[0]["rss_mb"]) / hours
        if hours
        else None,
        "thread_growth": series[-1]["threads"] - series[0]["threads"] if series else None,
        "fd_growth": series[-1]["fds"] - series[0]["fds"] if series else None,
        "cpu_pct_mean": sum(s["cpu_pct"] for s in series) / len(series) if series else None,
        "series": series,
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
