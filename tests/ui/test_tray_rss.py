"""The tray-only app's memory stays near a minimal PySide6 tray (docs/BENCHMARKS.md target:
RSS ≤ 1.3 × bench/reference_tray.py). Both run side by side in one real X tray; RSS is not a
timing, so the machine's load does not change the verdict. Each app settles first: its RSS is
read once it has stopped growing (the app's background start-up - sampler, Ollama poll,
hardware detection - has then run)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from bench import tray_overhead as bench
from tests.xdisplay import start_display

pytestmark = [pytest.mark.xtray, pytest.mark.slow]
MAX_RATIO = 1.3


def _settled_rss(proc: psutil.Process, step_s: float = 1.0, tol: int = 256 << 10) -> int:
    """RSS once two readings `step_s` apart differ by less than `tol` (at most 60 readings)."""
    last = proc.memory_info().rss
    for _ in range(60):
        time.sleep(step_s)
        now = proc.memory_info().rss
        if abs(now - last) < tol:
            return now
        last = now
    return last


def test_tray_rss_is_at_most_1_3x_the_minimal_tray(tmp_path: Path):
    disp = start_display(with_tray=True)
    procs = []
    try:
        ref, r_ready, r0 = bench._launch(bench.REFERENCE, disp.env, tmp_path)
        procs.append(ref)
        ours, o_ready, o0 = bench._launch(bench.OURS, disp.env, tmp_path)
        procs.append(ours)
        bench._wait_ready(r_ready, r0, timeout=120)
        bench._wait_ready(o_ready, o0, timeout=120)
        time.sleep(3)  # our background start (sampler, poll, detection) begins after the icon
        ours_rss = _settled_rss(psutil.Process(ours.pid))
        ref_rss = _settled_rss(psutil.Process(ref.pid))
        assert ours.poll() is None and ref.poll() is None, "an app exited early"
        ratio = ours_rss / ref_rss
        assert ratio <= MAX_RATIO, (
            f"tray RSS {ours_rss / 1e6:.1f} MB = {ratio:.2f} x the minimal tray's "
            f"{ref_rss / 1e6:.1f} MB (target <= {MAX_RATIO} x): something loads at start "
            "that could load when first needed (python -X importtime -m velollm_desktop)"
        )
    finally:
        for p in procs:
            bench._stop(p)
        disp.stop()
