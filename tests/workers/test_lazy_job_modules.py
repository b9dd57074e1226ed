"""The jobs' heavy modules load at the first job that may need them, in the GUI thread, never
at start (tray RSS) and never first on a job's thread (the old start-up crash)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication
app = QApplication([])
from velollm_desktop.workers.runner import JOB_MODULES, Job, runner
from velollm_desktop.core.hardware import detect_hardware
r = runner()
heavy = [m for m in JOB_MODULES if m in sys.modules and m != "velollm_desktop.core.hardware"]
print("after runner():", heavy)
light = Job(lambda: 1, pass_control=False, imports=(detect_hardware.__module__,))
r.submit(light)
print("after a light job:", [m for m in JOB_MODULES if m in sys.modules and m != "velollm_desktop.core.hardware"])
seen = []
job = Job(lambda: seen.append(sorted(m for m in JOB_MODULES if m in sys.modules)), pass_control=False)
r.submit(job)
print("submitted:", all(m in sys.modules for m in JOB_MODULES))
job.join(10); light.join(10)
print("at run:", seen[0] == sorted(JOB_MODULES))
"""


def test_heavy_job_modules_load_at_the_first_job_that_needs_them():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == "after runner(): []"
    assert lines[1] == "after a light job: []"
    assert lines[2] == "submitted: True"  # loaded by submit(), in this (GUI) thread
    assert lines[3] == "at run: True"
