"""Regenerate the screenshots in docs/screenshots/ from the real app, deterministically.

    python build_scripts/screenshots.py          # needs Xvfb (bash build_scripts/setup.sh test)

Every page of the dashboard at 800×600, at 1600×1000, and as first opened with
QT_SCALE_FACTOR=2 on a 1600×1000 screen (the window clamps itself to the screen), written as
`<page>-800x600.png`, `<page>-1600x1000.png` and `<page>-scale2.png`; plus `tray.png` and
`monitor-gpu-synthetic-1600x1000.png` (the GPU layout, from made-up samples: no GPU here).

Deterministic: each configuration runs in its own process on a private Xvfb, with empty
settings and history in a temporary directory, the live sampler and Ollama poller never
started, and fixed inputs instead: two minutes of recorded-style samples (this 2-core,
no-GPU build box), a fixed hardware description, one loaded Ollama model and fixed
benchmark / speculative results (a noisy one, so the warnings show). Two runs give the same
pictures on the same machine (same fonts).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SCREEN = (1600, 1000)
CONFIGS = {  # name → (window size or None for the app's own first size, QT_SCALE_FACTOR)
    "800x600": ((800, 600), "1"),
    "1600x1000": ((1600, 1000), "1"),
    "scale2": (None, "2"),
}


# -- the parent: one child process per configuration, each on its own Xvfb -----------------
def _start_xvfb() -> tuple[subprocess.Popen, str]:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
         "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    if not number.isdigit():
        xvfb.kill()
        raise SystemExit("Xvfb did not start: install it (bash build_scripts/setup.sh test)")
    return xvfb, f":{number}"


def run_all(configs: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in configs:
        xvfb, display = _start_xvfb()
        try:
            home = Path(tempfile.gettempdir()) / "velollm-screenshots"  # fixed: shown on Settings
            shutil.rmtree(home, ignore_errors=True)
            try:
                env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", LANG="C.UTF-8")
                env["QT_SCALE_FACTOR"] = CONFIGS[name][1]
                for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
                    env[var] = str(Path(home) / var.lower())
                env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
                res = subprocess.run(
                    [sys.executable, __file__, "--child", name], env=env, timeout=300, check=False
                )
                if res.returncode != 0:
                    print(f"{name}: failed ({res.returncode})", file=sys.stderr)
                    return res.returncode
            finally:
                shutil.rmtree(home, ignore_errors=True)
        finally:
            xvfb.terminate()
            xvfb.wait(10)
    tray_sheet()
    print("wrote", *sorted(p.name for p in OUT.glob("*.png")))
    return 0


def tray_sheet() -> None:
    """The tray icon as drawn, at tray size, on a light and on a dark panel."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPixmap

    from velollm_desktop.ui.icons import draw_tray_pixmap

    _app = QGuiApplication.instance() or QGuiApplication([])
    sheet = QPixmap(200, 48)
    p = QPainter(sheet)
    for x, bg in ((0, "#e0e0e0"), (100, "#202020")):
        p.fillRect(x, 0, 100, 48, QColor(bg))
        for i, levels in enumerate(((35.0, 60.0, 20.0), (None, 92.0, 80.0))):
            p.drawPixmap(x + 10 + i * 44, 8, draw_tray_pixmap(levels, size=32))
    p.end()
    sheet.save(str(OUT / "tray.png"))


# -- the child: build the window with fixed inputs and grab every page ----------------------
def _samples():
    from velollm_desktop.core.monitor.sampler import SystemSample

    out = []
    for i in range(121):  # two minutes at 1 Hz: a benchmark's load from -40 s to -10 s
        busy = -80 <= i - 120 <= -10
        cpu = (92.0 if busy else 6.0) + 4.0 * math.sin(i / 3.0)
        ram = 5200 + (900 if busy else 0) + int(40 * math.sin(i / 7.0))
        out.append(SystemSample(float(i), 1.8e9 + i, cpu, (cpu, cpu), ram, 24105, 0, ()))
    return out


def _hardware():
    from velollm_desktop.core.hardware.model import (
        CpuInfo,
        HardwareSpec,
        MemoryInfo,
    )

    cpu = CpuInfo("AMD EPYC (2-core build box)", 2, 2, 2596.0, None, ("avx2", "fma", "avx512f"))
    return HardwareSpec((), cpu, MemoryInfo(24105, 18905, 5200, 0, 0), "Linux", "6.1", "x86_64")


def _bench_results():
    from velollm_desktop.core.bench.model import (
        BenchmarkResult,
        RunMeasurement,
        ServerInfo,
        TestResult,
    )
    from velollm_desktop.core.bench.stats import summarize

    def result(model, kind, rates, asked):
        tests = []
        for name, values in rates.items():
            runs = tuple(
                RunMeasurement(40.0, v, v + 0.3, 900.0, 24, 50, None, 600.0) for v in values
            )
            tests.append(
                TestResult(name, 50, runs, summarize(values), summarize([v + 0.3 for v in values]),
                           summarize([40.0, 42.0, 39.0][: len(values)]),
                           summarize([900.0, 910.0, 890.0][: len(values)]), runs_requested=asked)
            )  # fmt: skip
        return BenchmarkResult("0.2.0", "2026-11-27T08:00:00+00:00",
                               ServerInfo(kind, "http://127.0.0.1:8080", "b7000"), model, None,
                               "standard", {}, tuple(tests), wall_s=30.0)  # fmt: skip

    clean = result("SmolLM2-135M Q4_1", "llamacpp",
                   {"short_completion": [118.0, 121.0, 119.5], "medium_completion": [112.0, 113.5, 111.0]}, 3)  # fmt: skip
    noisy = result("SmolLM2-135M Q4_1", "ollama",
                   {"short_completion": [80.0, 121.0, 101.0], "medium_completion": [110.0, 112.0]}, 3)  # fmt: skip
    return clean, noisy


def _compare_result():
    from velollm_desktop.core.bench.model import RunMeasurement
    from velollm_desktop.core.bench.stats import summarize
    from velollm_desktop.core.speculative.compare import (
        DEFAULT_PROMPTS,
        CompareResult,
        ModeResult,
    )

    n = 3 * len(DEFAULT_PROMPTS)
    runs = tuple(RunMeasurement(30.0, 60.0, 60.0, 800.0, 30, 128, None, 2000.0) for _ in range(n))

    def mode(name, values, acc, speedup):
        return ModeResult(name, (), runs, summarize(values), None, None, acc, 0, 0, speedup)

    modes = (
        mode("vanilla", [61.0, 60.0, 62.5, 59.0, 60.5, 61.0], None, 1.0),
        mode("draft", [78.0, 74.0, 80.0, 76.5, 79.0, 75.0], 0.71, 1.27),
        mode("ngram-simple", [63.0, 58.0, 66.0, 61.0, 60.0, 64.0], 0.32, 1.03),
    )
    advice = ("The draft model pays here: 1.27× (95 % CI 1.2–1.34) with 71 % of drafts accepted.",)
    return CompareResult("0.2.0", "2026-11-27T08:00:00+00:00", "SmolLM2-135M F32",
                         "SmolLM2-135M Q4_1", 128, 3, modes, advice)  # fmt: skip


def child(name: str) -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from velollm_desktop.core.ollama.models import LoadedModel
    from velollm_desktop.core.settings import Settings
    from velollm_desktop.ui.app import Controller

    def pump(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    app = QApplication([sys.argv[0]])
    settings = Settings.load()
    settings.set("tray_hint_shown", True)
    c = Controller(app, settings, force_no_tray=True)
    c._bg_timer.stop()  # no live sampler, poller or detection: fixed inputs only
    for s in _samples():
        c.history.add(s)
    c._on_hardware(_hardware())
    c._on_models([LoadedModel("smollm2:135m", 229_000_000, 0, 4096, _in_seconds(4 * 60 + 30))])
    w = c.window
    size, _scale = CONFIGS[name]
    if size is not None:
        w.resize(*size)
    w.move(0, 0)
    w.show()
    clean, noisy = _bench_results()
    c.benchmark_page.history.add(clean)
    c.benchmark_page.history_panel.reload()
    c.benchmark_page.show_result(noisy)
    c.speculative_page.show_result(_compare_result())
    c.optimize_page.compute()  # the real recommendation for the fixed hardware (no Ollama)
    for _ in range(100):
        if c.optimize_page.worker is None:
            break
        pump(0.2)
    for i in range(w.tabs.count()):  # every page the window has, in tab order
        title = w.tabs.tabText(i)
        w.tabs.setCurrentIndex(i)
        if title == "Monitor":
            w.monitor.mark_dirty()
        pump(1.2 if i == 0 else 0.6)  # layout settles; the monitor's redraw timer fires
        w.grab().save(str(OUT / f"{title.lower()}-{name}.png"))
    if name == "1600x1000":  # the GPU layout, from synthetic samples (this box has no GPU)
        _show_synthetic_gpu(c)
        pump(1.2)
        w.grab().save(str(OUT / "monitor-gpu-synthetic-1600x1000.png"))
    print(f"{name}: window {w.width()}×{w.height()} (logical px)")
    c.shutdown()
    return 0


def _show_synthetic_gpu(c) -> None:
    """One made-up 24 GiB GPU under a steady load, to show the monitor's GPU layout."""
    from dataclasses import replace

    from velollm_desktop.core.hardware.model import GpuInfo, GpuVendor
    from velollm_desktop.core.monitor.sampler import GpuSample

    for s in _samples():
        load = 85.0 + 8.0 * math.sin(s.monotonic_s / 4.0) if s.cpu_pct > 50 else 3.0
        gpu = GpuSample(0, "Synthetic GPU 24 GB", load, 4000 + int(60 * load), 24564,
                        45.0 + load / 3, 60.0 + 2.5 * load)  # fmt: skip
        c.history.add(replace(s, monotonic_s=s.monotonic_s + 200, gpus=(gpu,)))
    spec = _hardware()
    gpu_info = GpuInfo(GpuVendor.NVIDIA, "Synthetic GPU 24 GB", 0, 24564, 4180, 20384,
                       source="synthetic")  # fmt: skip
    c._on_hardware(replace(spec, gpus=(gpu_info,)))
    c.window.tabs.setCurrentIndex(0)
    c.window.monitor.mark_dirty()


def _in_seconds(seconds: float) -> str:
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=sorted(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument(
        "--only", choices=sorted(CONFIGS), action="append", help="take only this configuration"
    )
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    return run_all(args.only or list(CONFIGS))


if __name__ == "__main__":
    sys.exit(main())
