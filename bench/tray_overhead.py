"""Tray overhead: our app vs a minimal reference tray app, side by side under Xvfb + trayer.

    python bench/tray_overhead.py [--cpu-seconds 60] [--rss-seconds 30] [--growth-minutes 10]

Prints JSON with, for each app: start → tray icon visible (s, median of --starts interleaved starts),
RSS after --rss-seconds (MB), CPU over --cpu-seconds hidden (% of one core); for ours also CPU
with the dashboard shown, and RSS growth over --growth-minutes at 10 Hz sampling. Then the
ratios against the reference. Needs Xvfb, trayer, xdotool (bash build_scripts/setup.sh test).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.xdisplay import start_display  # noqa: E402

OURS = [sys.executable, "-m", "velollm_desktop"]
REFERENCE = [sys.executable, str(ROOT / "bench" / "reference_tray.py")]


def _launch(argv, env, cfg: Path, extra_env=None) -> tuple[subprocess.Popen, Path, float]:
    ready = Path(tempfile.mktemp(prefix="ready-"))
    settings = cfg / "velollm-desktop" / "settings.json"
    if not settings.exists():  # not a first start: the welcome would open the dashboard
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps({"welcome_shown": True}))
    e = dict(
        env,
        VELOLLM_READY_FILE=str(ready),
        XDG_CONFIG_HOME=str(cfg),
        XDG_DATA_HOME=str(cfg / "data"),
    )
    e.update(extra_env or {})
    t0 = time.time()
    with open(
        cfg / f"log-{os.getpid()}-{time.time_ns()}.txt", "w"
    ) as log:  # the child keeps its fd
        proc = subprocess.Popen(argv, env=e, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    return proc, ready, t0


def launch_10hz_dashboard(env, cfg: Path) -> tuple[subprocess.Popen, Path, float]:
    """Our app with the dashboard shown and sampling at 10 Hz (its settings file in `cfg`)."""
    (cfg / "velollm-desktop").mkdir(exist_ok=True)
    (cfg / "velollm-desktop" / "settings.json").write_text(
        json.dumps({"sample_interval_s": 0.1, "welcome_shown": True})
    )
    return _launch(OURS + ["--show"], env, cfg)


def _wait_ready(ready: Path, t0: float, timeout: float = 30) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ready.exists() and ready.read_text().strip():
            return float(ready.read_text()) - t0
        time.sleep(0.01)
    raise RuntimeError("the app never showed its tray icon")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def start_times(apps: dict[str, list[str]], env, cfg, runs: int) -> dict[str, float]:
    """Median start → icon visible (s) per app over `runs` starts, the apps interleaved so
    that a slow moment of the machine hits both alike."""
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(runs):
        for name, argv in apps.items():
            proc, ready, t0 = _launch(argv, env, cfg)
            try:
                times[name].append(_wait_ready(ready, t0))
            finally:
                _stop(proc)
                ready.unlink(missing_ok=True)
    return {name: statistics.median(ts) for name, ts in times.items()}


def cpu_pct(p: psutil.Process, seconds: float) -> float:
    c0 = p.cpu_times()
    time.sleep(seconds)
    c1 = p.cpu_times()
    return 100.0 * ((c1.user - c0.user) + (c1.system - c0.system)) / seconds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu-seconds", type=float, default=60)
    ap.add_argument("--rss-seconds", type=float, default=30)
    ap.add_argument("--growth-minutes", type=float, default=10)
    ap.add_argument(
        "--starts", type=int, default=9, help="starts of each app for the start-time median"
    )
    args = ap.parse_args()
    disp = start_display(with_tray=True)
    out: dict = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp)
            print(f"logs in {cfg}", file=sys.stderr)
            out["start_s"] = start_times(
                {"reference": REFERENCE, "ours": OURS}, disp.env, cfg, args.starts
            )
            out["start_s"]["runs_each"] = args.starts
            ref, r_ready, r0 = _launch(REFERENCE, disp.env, cfg)
            ours, o_ready, o0 = _launch(OURS, disp.env, cfg)
            try:
                _wait_ready(r_ready, r0)
                _wait_ready(o_ready, o0)
                time.sleep(args.rss_seconds)
                pr, po = psutil.Process(ref.pid), psutil.Process(ours.pid)
                if ours.poll() is not None or ref.poll() is not None:
                    for f in sorted(cfg.glob("log-*.txt")):
                        print(f.name, f.read_text()[-2000:], file=sys.stderr)
                    raise RuntimeError(
                        f"an app exited early: ours={ours.poll()} reference={ref.poll()}"
                    )
                out["rss_mb"] = {
                    "reference": pr.memory_info().rss / 1e6,
                    "ours": po.memory_info().rss / 1e6,
                }
                out["cpu_hidden_pct"] = {
                    "reference": cpu_pct(pr, args.cpu_seconds),
                    "ours": cpu_pct(po, args.cpu_seconds),
                }
            finally:
                _stop(ref)
                _stop(ours)
            shown, s_ready, s0 = _launch(OURS + ["--show"], disp.env, cfg)
            try:
                _wait_ready(s_ready, s0)
                time.sleep(5)
                out["cpu_dashboard_shown_pct"] = cpu_pct(
                    psutil.Process(shown.pid), args.cpu_seconds
                )
            finally:
                _stop(shown)
            if args.growth_minutes > 0:
                fast, f_ready, f0 = launch_10hz_dashboard(disp.env, cfg)
                try:
                    _wait_ready(f_ready, f0)
                    p = psutil.Process(fast.pid)
                    time.sleep(15)  # let caches and the 10-min plot window settle in
                    rss0, th0 = p.memory_info().rss, p.num_threads()
                    time.sleep(args.growth_minutes * 60)
                    out["growth_10hz"] = {
                        "minutes": args.growth_minutes,
                        "rss_growth_mb": (p.memory_info().rss - rss0) / 1e6,
                        "threads_before": th0,
                        "threads_after": p.num_threads(),
                    }
                finally:
                    _stop(fast)
    finally:
        disp.stop()
    out["ratios"] = {
        "start": out["start_s"]["ours"] / out["start_s"]["reference"],
        "rss": out["rss_mb"]["ours"] / out["rss_mb"]["reference"],
    }
    out["targets_met"] = {
        "start_le_1.5x": out["ratios"]["start"] <= 1.5,
        "rss_le_1.3x": out["ratios"]["rss"] <= 1.3,
        "cpu_hidden_le_0.5pct": out["cpu_hidden_pct"]["ours"] <= 0.5,
        "cpu_shown_le_2pct": out["cpu_dashboard_shown_pct"] <= 2.0,
    }
    if "growth_10hz" in out:
        out["targets_met"]["rss_growth_lt_5mb"] = out["growth_10hz"]["rss_growth_mb"] < 5
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
