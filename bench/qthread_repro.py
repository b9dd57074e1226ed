"""Minimal reproducer for the start-up crash that moved workers/task.py off QThread.

Each *start* is a fresh process that does what the app did at start-up: a QApplication,
a worker thread that imports modules and runs hardware detection, while the GUI thread
imports pyqtgraph/numpy and builds a widget; then it quits. A start that dies by a signal
(SIGSEGV, SIGABRT) is a crash. Modes:

  movetothread   the old pattern: QObject worker + QThread + moveToThread, `started` →
                 worker.run, `finished` → deleteLater on both; imports inside the worker
  pythread       plain threading.Thread (the pattern since bdbae95); imports inside
  qthread-run    a QThread subclass whose run() imports (no moveToThread)
  runner         the app's JobRunner (QThread subclass, heavy imports before the job)
  runner-jobs    the app's JobRunner running --jobs jobs per start (mixed light/measuring)
  hookrace       four QThreads import every unloaded stdlib module while the GUI paints
  hookrace-orig  the same with PySide6's __feature_import__ hook removed first
  app            the real app (`python -m velollm_desktop --no-tray --quit-after 2`):
                 the window is built while the hardware-detection job runs, then it quits

Usage: nice python bench/qthread_repro.py MODE [--starts N] [--parallel P] [--jobs J]
Prints one JSON line: {"mode", "starts", "crashes", "signals", "wall_s", "jobs"}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _worker_imports() -> str:
    """What the detection job imported on its thread at start-up (then runs it)."""
    import importlib

    for name in ("json", "decimal", "email.mime.text", "xml.dom.minidom", "http.client"):
        importlib.import_module(name)
    from velollm_desktop.core.hardware import detect_hardware

    return type(detect_hardware()).__name__


def _gui_imports(app) -> None:
    import pyqtgraph
    from PySide6.QtWidgets import QLabel

    w = pyqtgraph.PlotWidget()
    w.plot([1, 2, 3])
    label = QLabel("x")
    label.show()
    app.processEvents()
    w.deleteLater()
    label.deleteLater()


def _hook_race(app, orig_import: bool) -> list[str]:
    """Four QThreads import every not-yet-loaded stdlib module (through PySide6's
    `builtins.__import__` hook, or past it with `orig_import`) while the GUI thread paints."""
    import builtins
    import warnings

    import pyqtgraph
    from PySide6.QtCore import QThread

    warnings.simplefilter("ignore")  # deprecated stdlib modules
    if orig_import:
        builtins.__import__ = builtins.__orig_import__
    names = sorted(
        n
        for n in sys.stdlib_module_names
        if n not in sys.modules
        and not n.startswith(("_", "distutils", "idle", "tkinter", "turtle", "antigravity", "this"))
    )
    errors: list[str] = []

    class Importer(QThread):
        def __init__(self, part: list[str]) -> None:
            super().__init__()
            self.part = part

        def run(self) -> None:
            for name in self.part:
                try:
                    __import__(name)  # the statement form goes through builtins.__import__
                except Exception as exc:  # noqa: BLE001 - some stdlib modules need a platform
                    errors.append(f"{name}: {type(exc).__name__}")

    threads = [Importer(names[i::4]) for i in range(4)]
    plot = pyqtgraph.PlotWidget()
    curve = plot.plot([0, 1, 2])
    plot.show()
    for t in threads:
        t.start()
    n = 0
    while any(t.isRunning() for t in threads):
        n += 1
        curve.setData([(i * n) % 7 for i in range(50)])
        plot.repaint()
        app.processEvents()
    for t in threads:
        t.wait()
    return [f"{len(names)} modules, {n} paints"]


def child(mode: str, jobs: int) -> int:  # noqa: C901 - one branch per mode, kept side by side
    import faulthandler

    faulthandler.enable()  # a crash prints every thread's stack on stderr
    faulthandler.dump_traceback_later(HANG_S, exit=True)  # so does a hang, then it exits
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QObject, QThread, QTimer, Signal
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    done: list[object] = []

    if mode == "movetothread":

        class Worker(QObject):
            result = Signal(object)
            finished = Signal()

            def run(self) -> None:
                self.result.emit(_worker_imports())
                self.finished.emit()
                QThread.currentThread().quit()

        holder = QObject()
        worker = Worker()
        thread = QThread(holder)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.result.connect(done.append)
        thread.finished.connect(worker.deleteLater)
        thread.finished.connect(thread.deleteLater)
        thread.start()
    elif mode == "pythread":
        import threading

        class Emitter(QObject):
            result = Signal(object)

        emitter = Emitter()
        emitter.result.connect(done.append)
        t = threading.Thread(target=lambda: emitter.result.emit(_worker_imports()), daemon=True)
        t.start()
    elif mode == "qthread-run":

        class Emitter(QObject):
            result = Signal(object)

        class Runner(QThread):
            def run(self) -> None:
                emitter.result.emit(_worker_imports())

        emitter = Emitter()
        emitter.result.connect(done.append)
        th = Runner()
        th.start()
    elif mode.startswith("runner"):
        from velollm_desktop.core.hardware import detect_hardware
        from velollm_desktop.workers.runner import Job, JobKind, preload, runner

        preload()
        total = jobs if mode == "runner-jobs" else 1
        for i in range(total):
            kind = JobKind.MEASURING if i % 3 == 0 else JobKind.LIGHT
            fn = detect_hardware if i == 0 else (lambda i=i: i * i)
            job = Job(fn, kind=kind, pass_control=False)
            job.result.connect(done.append)
            runner().submit(job)
        jobs = total
    elif mode.startswith("hookrace"):
        done.extend(_hook_race(app, orig_import=mode.endswith("-orig")))
        expected = 0
    else:
        raise SystemExit(f"unknown mode {mode}")

    expected = jobs if mode.startswith("runner") else (0 if mode.startswith("hookrace") else 1)
    _gui_imports(app)

    def check() -> None:
        if len(done) >= expected:
            app.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(5)
    QTimer.singleShot(60_000, app.quit)
    app.exec()
    if mode.startswith("runner"):
        from velollm_desktop.workers.runner import runner

        runner().shutdown(5.0)
    elif mode == "qthread-run":
        th.wait(5000)
    print(json.dumps({"done": len(done)}))
    return 0 if len(done) >= expected else 3


APP_QUIT_AFTER_S = 2.0
APP_HOME = os.path.join(os.environ.get("REPRO_LOGS", "/tmp"), "app-home")
HANG = 999
HANG_S = 40
"""A start still running after this many seconds dumps its threads' stacks (faulthandler)."""


def _keep_log(mode: str, what: str, stderr: str | bytes | None) -> None:
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr or ""
    name = f"repro-{mode}-{what}-{os.getpid()}-{time.monotonic_ns()}.log"
    with open(os.path.join(os.environ.get("REPRO_LOGS", "/tmp"), name), "w") as fh:
        fh.write(text)


def one_start(mode: str, jobs: int) -> tuple[int, int]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=ROOT)
    argv = [sys.executable, __file__, "--child", mode, "--jobs", str(jobs)]
    if mode == "app":  # the real app: window at start (no tray offscreen), detection job, quit
        argv = [sys.executable, "-X", "faulthandler", "-m", "velollm_desktop", "--no-tray"]
        argv += ["--quit-after", str(APP_QUIT_AFTER_S)]
        env["XDG_CONFIG_HOME"] = env["XDG_DATA_HOME"] = env["XDG_STATE_HOME"] = APP_HOME
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            timeout=HANG_S + 15,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        _keep_log(mode, "hang", exc.stderr)
        return HANG, 0
    if proc.returncode != 0:
        _keep_log(mode, str(proc.returncode), proc.stderr)
    try:
        ran = json.loads(proc.stdout.strip().splitlines()[-1])["done"]
    except (ValueError, KeyError, IndexError):
        ran = 1 if mode == "app" and proc.returncode == 0 else 0
    return proc.returncode, ran


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("--starts", type=int, default=50)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--child", action="store_true")
    args = p.parse_args()
    if args.child:
        return child(args.mode, args.jobs)
    t0 = time.monotonic()
    with ThreadPoolExecutor(args.parallel) as pool:
        outcomes = list(pool.map(lambda _: one_start(args.mode, args.jobs), range(args.starts)))
    codes = Counter(code for code, _ in outcomes)
    crashes = sum(n for code, n in codes.items() if code < 0)
    hangs = codes.get(HANG, 0) + codes.get(1, 0)  # 1: faulthandler's exit after a dump
    print(
        json.dumps(
            {
                "mode": args.mode,
                "starts": args.starts,
                "crashes": crashes,
                "hangs": hangs,
                "exit_codes": {str(k): v for k, v in sorted(codes.items())},
                "jobs_done": sum(ran for _, ran in outcomes),
                "wall_s": round(time.monotonic() - t0, 1),
            }
        )
    )
    return 1 if crashes or hangs else 0


if __name__ == "__main__":
    sys.exit(main())
