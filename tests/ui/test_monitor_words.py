"""Issue 27 items 4, 9 and 18 (in part): the Monitor at QT_SCALE_FACTOR=2 keeps its Ollama
status clear of the charts and never wraps a number from its unit; Pause monitoring says
the page is frozen; chart axes carry units and the CPU axis keeps 0 and 100."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from PySide6.QtWidgets import QApplication

from tests.conftest import ROOT
from velollm_desktop.core.hardware.model import CpuInfo, HardwareSpec, MemoryInfo
from velollm_desktop.core.monitor.sampler import SystemSample
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.app import Controller
from velollm_desktop.ui.monitor_page import PAUSED_PREFIX, PAUSED_TEXT, no_unit_breaks
from velollm_desktop.ui.tray import Tray

SCALE2_PROBE = r"""
import json, sys
from PySide6.QtCore import QEventLoop, QTimer, QRect
from PySide6.QtWidgets import QApplication
from velollm_desktop.core.hardware.model import CpuInfo, HardwareSpec, MemoryInfo
from velollm_desktop.core.monitor.sampler import SystemSample
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.app import Controller

app = QApplication([])
c = Controller(app, Settings.load(), force_no_tray=True)
c._bg_timer.stop()
for i in range(60):
    c.history.add(SystemSample(float(i), float(i), 50.0, (50.0, 50.0), 5161, 24105, 0, ()))
c._on_hardware(HardwareSpec((), CpuInfo("AMD EPYC (2-core build box)", 2, 2, 2596.0, None,
    ("avx2", "fma", "avx512f")), MemoryInfo(24105, 18944, 5161, 0, 0), "Linux", "6.1", "x86_64"))
c._on_ollama_down("Ollama is not running at http://127.0.0.1:11434, or set the right address "
    "in Settings; start it with `ollama serve` or `systemctl start ollama`")
w = c.window
w.resize(800, 500)  # a 1600x1000 screen at scale 2
w.show()
w.tabs.setCurrentIndex(0)
w.monitor.mark_dirty()
loop = QEventLoop(); QTimer.singleShot(1500, loop.quit); loop.exec()
m = w.monitor
def rect(widget):
    return widget.geometry().translated(widget.parentWidget().mapTo(m, widget.parentWidget().rect().topLeft()))
status, cpu = m.ollama_status, m.plots["CPU"]
out = {
    "ratio": app.devicePixelRatio(),
    "status": [rect(status).y(), rect(status).height()],
    "status_need": status.heightForWidth(status.width()),
    "cpu": [rect(cpu).y(), rect(cpu).height()],
    "hardware": m.hardware_label.text(),
}
print(json.dumps(out))
c.shutdown()
"""


def test_scale2_status_clear_of_the_charts_and_units_kept_with_numbers(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR="2")
    env["PYTHONPATH"] = str(ROOT)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[var] = str(tmp_path / var.lower())
    res = subprocess.run(
        [sys.executable, "-c", SCALE2_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["ratio"] == 2.0
    status_y, status_h = out["status"]
    cpu_y, cpu_h = out["cpu"]
    assert status_y >= cpu_y + cpu_h, out  # below the chart, never drawn over it
    assert status_h >= out["status_need"], out  # as tall as its wrapped text
    assert "0\u00a0MiB" in out["hardware"] and "0 MiB" not in out["hardware"]


def test_no_unit_breaks_glues_only_units_to_their_numbers():
    assert no_unit_breaks("swap 0 MiB / 0 MiB, 9 % at 2596 MHz") == (
        "swap 0\u00a0MiB / 0\u00a0MiB, 9\u00a0% at 2596\u00a0MHz"
    )
    assert no_unit_breaks("2 Watts, 3 cores") == "2 Watts, 3 cores"


def test_pause_from_the_tray_menu_says_the_page_is_frozen(qtbot):
    controller = Controller(QApplication.instance(), Settings.load(), force_no_tray=True)
    controller._bg_timer.stop()
    tray = Tray()
    tray.pause_toggled.connect(controller._on_pause)  # as the app wires its tray
    window = controller.window
    qtbot.addWidget(window)
    try:
        for i in range(5):
            controller.history.add(
                SystemSample(float(i), float(i), 65.0, (65.0,), 1000, 4000, 0, ())
            )
        controller._on_hardware(
            HardwareSpec((), CpuInfo("CPU", 2, 2), MemoryInfo(4000, 3000, 1000), "Linux", "6", "x")
        )
        window.show()
        page = window.monitor
        page.mark_dirty()
        page.redraw()
        assert not page.paused_label.isVisible() and not page.title_of("CPU").startswith("Paused")
        tray.menu.aboutToShow.emit()
        pause = next(a for a in tray.menu.actions() if a.text() == "Pause monitoring")
        pause.trigger()
        assert page.paused_label.isVisible() and page.paused_label.text() == PAUSED_TEXT
        assert page.title_of("CPU").startswith(PAUSED_PREFIX + "CPU: 65 %")
        tray.menu.aboutToShow.emit()
        next(a for a in tray.menu.actions() if a.text() == "Pause monitoring").trigger()
        assert not page.paused_label.isVisible() and page.title_of("CPU").startswith("CPU:")
    finally:
        controller.shutdown()


def test_axes_carry_units_and_the_cpu_axis_keeps_0_and_100(qtbot):
    controller = Controller(QApplication.instance(), Settings.load(), force_no_tray=True)
    controller._bg_timer.stop()
    window = controller.window
    qtbot.addWidget(window)
    try:
        window.resize(800, 600)
        page = window.monitor
        cpu = page.plots["CPU"]
        assert cpu.getAxis("left").labelText == "%" and "seconds" in cpu.getAxis("bottom").labelText
        assert page.plots["RAM"].getAxis("left").labelText == "GiB"
        ticks = [v for v, _ in cpu.getAxis("left")._tickLevels[0]]
        assert 0 in ticks and 100 in ticks
        low, high = cpu.getViewBox().viewRange()[1]
        assert low < 0 and high > 100  # room at both ends: the end labels are drawn
    finally:
        controller.shutdown()
