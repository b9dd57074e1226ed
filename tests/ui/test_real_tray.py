"""The installed app in a real X tray: Xvfb + trayer, screenshots, xdotool clicks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.xdisplay import SCREEN, TRAY_HEIGHT, TRAY_WIDTH, find_dark_box, start_display

pytestmark = [pytest.mark.xtray, pytest.mark.slow]
TRAY_REGION = (SCREEN[0] - TRAY_WIDTH, 0, TRAY_WIDTH, TRAY_HEIGHT)


@pytest.fixture
def xtray():
    from velollm_desktop.core.settings import Settings

    settings = Settings.load()  # not a first start: the welcome would open the window
    settings.set("welcome_shown", True)  # (first start: test_monitor_ui, issue 27 item 16)
    settings.save()
    disp = start_display(with_tray=True)
    try:
        yield disp
    finally:
        disp.stop()


def _wait_for_icon(disp, tmp_path: Path, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n += 1
        box = find_dark_box(disp.screenshot(tmp_path / f"tray{n}.png"), TRAY_REGION)
        if box and box[4] >= 40:
            return box
        time.sleep(0.3)
    return None


def _visible_windows(disp, name: str) -> list[str]:
    return disp.run("xdotool", "search", "--onlyvisible", "--name", name).stdout.split()


def _app_windows(disp, pid: int) -> list[str]:
    return disp.run("xdotool", "search", "--onlyvisible", "--pid", str(pid)).stdout.split()


def test_tray_icon_drawn_menu_works_and_quit_exits_cleanly(xtray, tmp_path):
    app = subprocess.Popen(
        [sys.executable, "-m", "velollm_desktop"],
        env=xtray.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        box = _wait_for_icon(xtray, tmp_path)
        assert box is not None, "no tray icon appeared in trayer's area"
        x0, y0, x1, y1, count = box
        assert x1 - x0 <= TRAY_HEIGHT and y1 - y0 <= TRAY_HEIGHT  # icon-sized, not a window
        assert not _visible_windows(xtray, "VeloLLM Desktop")  # a tray is there: no window at start
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        time.sleep(0.5)  # test-setup.md: clicks right after the icon maps are lost

        # Left click (Trigger) → dashboard opens
        xtray.run("xdotool", "mousemove", str(cx), str(cy), "click", "1")
        deadline = time.monotonic() + 10
        while not _visible_windows(xtray, "VeloLLM Desktop") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _visible_windows(xtray, "VeloLLM Desktop"), "left-click did not open the dashboard"
        shot = xtray.screenshot(tmp_path / "dashboard.png")
        assert shot.width() == SCREEN[0]

        # Right click → the menu pops up as one more visible window of ours
        windows_before = set(_app_windows(xtray, app.pid))
        xtray.run("xdotool", "mousemove", str(cx), str(cy), "click", "3")
        deadline = time.monotonic() + 5
        while set(_app_windows(xtray, app.pid)) == windows_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(_app_windows(xtray, app.pid)) - windows_before, "right-click opened no menu"
        xtray.screenshot(tmp_path / "menu.png")
        # Up selects the last item (Quit); Return triggers it
        xtray.run("xdotool", "key", "Up", "Return")
        code = app.wait(timeout=15)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(5)
    out = app.stdout.read() if app.stdout else ""
    assert code == 0, out
    assert "Traceback" not in out and "Fatal" not in out, out


def _menu_entry(disp, cx: int, cy: int, keys: tuple[str, ...]) -> None:
    """Right-click the icon, then walk the menu with the keyboard (Down from the top)."""
    disp.run("xdotool", "mousemove", str(cx), str(cy), "click", "3")
    time.sleep(0.8)
    disp.run("xdotool", "key", *keys)


def test_quick_optimize_from_the_tray_asks_and_cancel_changes_nothing(xtray, tmp_path, monkeypatch):
    """Tray menu → Quick optimize… → the confirmation appears → Cancel → the drop-in and
    the service are untouched (a sandboxed root and a stand-in systemctl)."""
    root = tmp_path / "root"
    (root / "etc/systemd/system/ollama.service.d").mkdir(parents=True)
    (root / "etc/systemd/system/ollama.service").write_text("[Service]\nExecStart=/x serve\n")
    dropin = root / "etc/systemd/system/ollama.service.d/override.conf"
    original = '[Service]\nEnvironment="OLLAMA_KEEP_ALIVE=2m"\n'
    dropin.write_text(original)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "systemctl.log"
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (bin_dir / "systemctl").chmod(0o755)
    env = dict(
        xtray.env,
        VELOLLM_SYSTEM_ROOT=str(root),
        PATH=f"{bin_dir}:{xtray.env['PATH']}",
        OLLAMA_HOST="127.0.0.1:9",
    )
    app = subprocess.Popen(
        [sys.executable, "-m", "velollm_desktop"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        box = _wait_for_icon(xtray, tmp_path)
        assert box is not None, "no tray icon appeared in trayer's area"
        cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
        time.sleep(0.5)
        # Right away: if hardware detection still runs, the recommendation follows it
        _menu_entry(xtray, cx, cy, ("Down", "Down", "Return"))  # 2nd entry: Quick optimize…
        dialog: list[str] = []
        deadline = time.monotonic() + 60
        while not dialog and time.monotonic() < deadline:
            dialog = _visible_windows(xtray, "Apply Ollama settings")
            time.sleep(0.25)
        if not dialog:
            xtray.screenshot(tmp_path / "no-dialog.png")
        assert dialog, f"Quick optimize showed no confirmation (see {tmp_path}/no-dialog.png)"
        xtray.screenshot(tmp_path / "quick-optimize-dialog.png")
        assert dropin.read_text() == original and not log.exists()  # nothing before the answer
        xtray.run("xdotool", "key", "Escape")  # Escape is the dialog's Cancel
        deadline = time.monotonic() + 10
        while _visible_windows(xtray, "Apply Ollama settings") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _visible_windows(xtray, "Apply Ollama settings"), "Cancel did not close it"
        time.sleep(1.0)
        assert dropin.read_text() == original and not log.exists()
        _menu_entry(xtray, cx, cy, ("Up", "Return"))  # last entry: Quit
        code = app.wait(timeout=20)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(5)
    out = app.stdout.read() if app.stdout else ""
    assert code == 0, out
    assert "Traceback" not in out, out
