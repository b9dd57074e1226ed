"""The Fleet page, driven like a person: type targets in Settings, press Enter, click
"Poll now", read the host rows. Real loopback servers: the node exporter, a recorded
dcgm-exporter body (on 127.0.0.2, a second host), a target that hangs and one that is closed."""

from __future__ import annotations

import re
import time

from PySide6.QtCore import QPoint, Qt, QTimer

from tests.core.fleet.servers import FIXTURES, NodeExporter, ScriptedServer, closed_port_url
from velollm_desktop.core.monitor.history import SampleHistory
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.fleet_page import LEVEL_COLOURS
from velollm_desktop.ui.main_window import MainWindow

DCGM = (FIXTURES / "dcgm" / "metrics-2xh100.txt").read_bytes()


def _window(qtbot) -> MainWindow:
    window = MainWindow(Settings.load(), SampleHistory(), has_tray=False)
    qtbot.addWidget(window)
    window.show()
    return window


def _type_targets(qtbot, window: MainWindow, text: str) -> None:
    window.tabs.setCurrentWidget(window.settings_page)
    editor = window.settings_page.editors["fleet_targets"]
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def test_fleet_rows_levels_and_a_hanging_host_never_freezes_the_ui(qtbot):
    window = _window(qtbot)
    page = window.fleet
    assert "No fleet targets" in page.status.text() and not page.rows
    with (
        NodeExporter() as ne,
        ScriptedServer(body=DCGM, host="127.0.0.2") as dcgm,
        ScriptedServer("hang") as hang,
    ):
        dead = closed_port_url()
        ticks = []
        timer = QTimer()
        timer.timeout.connect(lambda: ticks.append(time.monotonic()))
        timer.start(50)
        start = time.monotonic()
        _type_targets(qtbot, window, f"{ne.url}, dcgm={dcgm.url} {hang.url}, node={dead}")
        assert Settings.load().get("fleet_targets").startswith(ne.url)  # saved to disk
        qtbot.waitUntil(lambda: len(page.rows) == 2, timeout=10_000)
        took = time.monotonic() - start
        timer.stop()
        # The poll waited ~3 s for the hanging target; the GUI kept ticking all along.
        assert took >= 2.5
        gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
        assert len(ticks) >= took / 0.05 * 0.5 and max(gaps) < 0.5, max(gaps)

        local, gpu_box = page.rows["localhost"], page.rows["127.0.0.2"]
        # one of its three targets answers: a half-up host is a warning, not DOWN
        assert local.badge.text() == "WARN" and LEVEL_COLOURS["warn"] in local.badge.styleSheet()
        assert "1 of 3 targets answer" in local.reason.text()
        assert "no answer within 3 s" in local.reason.text()
        port = dead.rsplit(":", 1)[1]
        assert f"cannot connect: nothing listens on port {port}" in local.reason.text()
        assert "Errno" not in local.reason.text()
        assert gpu_box.badge.text() == "OK" and not gpu_box.reason.isVisible()
        assert "GPU 0 NVIDIA H100 80GB HBM3 87 % 60.0/78.5 GiB 71 °C" in gpu_box.details.text()
        assert page.status.text() == "2 of 4 target(s) up on 2 host(s)"

        # A hot GPU turns its host amber at the next poll ("Poll now").
        dcgm.body = re.sub(rb'(DCGM_FI_DEV_GPU_TEMP\{gpu="0"[^}]*\}) 71', rb"\1 91", DCGM)
        assert dcgm.body != DCGM
        window.tabs.setCurrentWidget(page)
        qtbot.waitUntil(lambda: not page._busy.is_set(), timeout=10_000)
        with qtbot.waitSignal(page.polled, timeout=10_000):
            qtbot.mouseClick(page.poll_button, Qt.MouseButton.LeftButton)
        assert (
            gpu_box.badge.text() == "WARN" and LEVEL_COLOURS["warn"] in gpu_box.badge.styleSheet()
        )
        assert "91 °C" in gpu_box.reason.text()
        # The second reading gives the node exporter's CPU rate: the sparkline has a value.
        assert any(v is not None for v in local.cpu.values)
        assert "CPU" in local.details.text() and "RAM" in local.details.text()
        assert [v for v in gpu_box.gpu.values if v is not None][-1] == 87.0
    page.shutdown()


def test_bad_target_in_settings_is_explained(qtbot):
    window = _window(qtbot)
    _type_targets(qtbot, window, "gopher=http://h:1")
    assert "unknown kind 'gopher'" in window.fleet.status.text()
    assert window.fleet.monitor is None and not window.fleet.rows
    window.fleet.shutdown()


def test_tray_icon_shows_the_fleets_worst_host(qtbot):
    from velollm_desktop.ui.tray import Tray

    tray = Tray()
    tray.set_paused(True)  # draws the bars (no sample needed)
    plain = tray.icon.icon().pixmap(64, 64).toImage()
    tray.update_fleet("down", "node http://gpu-box:9100: cannot connect")
    tray.set_paused(True)
    image = tray.icon.icon().pixmap(64, 64).toImage()
    corner = image.pixelColor(56, 8)
    assert corner.name() == LEVEL_COLOURS["down"] and plain.pixelColor(56, 8) != corner
    assert "Fleet: DOWN — node http://gpu-box:9100: cannot connect" in tray.icon.toolTip()
    tray.update_fleet(None)
    tray.set_paused(True)
    assert "Fleet" not in tray.icon.toolTip()
    assert tray.icon.icon().pixmap(64, 64).toImage().pixelColor(56, 8) == plain.pixelColor(56, 8)
    tray.hide()


def test_tray_setting_follows_the_fleet_and_unticking_it_hides_the_dot(qtbot, monkeypatch):
    """The app's wiring: with "Tray icon shows the fleet's worst host" on, the Fleet page polls
    from the start and the tray tooltip names the worst host; unticking the box in Settings
    (a real click) removes it."""
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    from velollm_desktop.ui import app as app_module

    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    dead = closed_port_url()
    settings = Settings.load()
    settings.set("fleet_targets", f"node={dead}")
    settings.set("fleet_tray_worst", True)
    settings.save()
    controller = app_module.Controller(QApplication.instance(), Settings.load())
    try:
        assert controller.tray is not None
        qtbot.waitUntil(lambda: "Fleet: DOWN" in controller.tray.icon.toolTip(), timeout=15_000)
        assert "cannot connect" in controller.tray.icon.toolTip()
        window = controller.window
        qtbot.addWidget(window)
        controller.show_dashboard()
        window.tabs.setCurrentWidget(window.settings_page)
        box = window.settings_page.editors["fleet_tray_worst"]
        # the box has no text of its own (the label is beside it): click its indicator
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
        assert not box.isChecked() and Settings.load().get("fleet_tray_worst") is False
        qtbot.waitUntil(lambda: "Fleet" not in controller.tray.icon.toolTip(), timeout=5_000)
    finally:
        controller.shutdown()
