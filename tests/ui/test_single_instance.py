"""One instance: a second launch brings the running dashboard forward and exits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.ui.test_real_tray import TRAY_REGION, _visible_windows, _wait_for_icon
from tests.xdisplay import TRAY_HEIGHT, find_dark_box, start_display
from velollm_desktop.ui.single_instance import (
    InstanceServer,
    ask_running_instance_to_show,
    server_name,
)


def test_second_launch_reaches_the_first_and_stale_socket_is_replaced(qtbot, tmp_path):
    name = f"velollm-test-{tmp_path.name}"
    assert not ask_running_instance_to_show(name)  # nobody listening yet
    first = InstanceServer(name)
    assert first.listen()
    with qtbot.waitSignal(first.show_requested, timeout=3000):
        assert ask_running_instance_to_show(name)
    path = first.path
    first.close()
    assert not ask_running_instance_to_show(name)  # closed: a later launch starts fresh
    # A killed instance leaves its socket file behind: nobody answers on it
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    assert os.path.exists(path)
    assert not ask_running_instance_to_show(name)
    again = InstanceServer(name)
    assert again.listen()  # the stale file was removed and replaced
    with qtbot.waitSignal(again.show_requested, timeout=3000):
        assert ask_running_instance_to_show(name)
    again.close()


def test_name_is_per_config_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "a"))
    a = server_name()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "b"))
    assert server_name() != a


@pytest.mark.xtray
@pytest.mark.slow
def test_second_process_exits_first_keeps_running_one_tray_icon(tmp_path):
    from velollm_desktop.core.settings import Settings

    settings = Settings.load()  # not a first start (that one opens the window: issue 27.16)
    settings.set("welcome_shown", True)
    settings.save()
    disp = start_display(with_tray=True)
    procs: list[subprocess.Popen] = []
    try:
        first = subprocess.Popen(
            [sys.executable, "-m", "velollm_desktop"],
            env=disp.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(first)
        assert _wait_for_icon(disp, tmp_path) is not None, "no tray icon from the first launch"
        assert not _visible_windows(disp, "VeloLLM Desktop")
        second = subprocess.Popen(
            [sys.executable, "-m", "velollm_desktop"],
            env=disp.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(second)
        code = second.wait(timeout=30)
        out = second.stdout.read() if second.stdout else ""
        assert code == 0, out
        assert "already running" in out
        assert first.poll() is None, "the first instance must keep running"
        deadline = time.monotonic() + 10
        while not _visible_windows(disp, "VeloLLM Desktop") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _visible_windows(disp, "VeloLLM Desktop"), "the dashboard did not come forward"
        time.sleep(1.0)
        box = find_dark_box(disp.screenshot(tmp_path / "after.png"), TRAY_REGION)
        assert box is not None
        x0, y0, x1, y1, _count = box
        assert x1 - x0 <= TRAY_HEIGHT, f"more than one tray icon: {box}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        disp.stop()
