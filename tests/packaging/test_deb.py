"""Build the PyInstaller bundle and the .deb, install it, run it in a real tray, uninstall it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.xdisplay import SCREEN, TRAY_HEIGHT, TRAY_WIDTH, find_dark_box, start_display

pytestmark = [pytest.mark.slow]
INSTALLED = (
    "/opt/velollm-desktop",
    "/usr/bin/velollm-desktop",
    "/usr/bin/velollm",
    "/usr/share/applications/velollm-desktop.desktop",
    "/usr/share/icons/hicolor/64x64/apps/velollm-desktop.png",
)


def _root(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return argv
    if shutil.which("sudo"):
        return ["sudo", "-n", *argv]
    pytest.fail("installing the .deb needs root (or passwordless sudo)")


@pytest.fixture(scope="module")
def deb() -> Path:
    res = subprocess.run(
        ["bash", "build_scripts/build_deb.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHON=sys.executable),
        timeout=900,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    debs = sorted((ROOT / "dist").glob("velollm-desktop_*.deb"))
    assert debs, res.stdout
    bundle = ROOT / "dist" / "velollm-desktop"
    size_mb = (
        sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
    )
    assert size_mb <= 250, f"bundle is {size_mb:.0f} MB (target ≤ 250 MB)"
    assert not list(bundle.rglob("libnvidia-ml*")), "NVML must come from the driver, not the bundle"
    assert not list(bundle.rglob("*WebEngine*")), "no WebEngine in the bundle"
    return debs[-1]


def test_deb_is_valid(deb):
    info = subprocess.run(
        ["dpkg-deb", "--info", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert "fonts-dejavu-core" in info and "libfontconfig1" in info and "libegl1" in info
    contents = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert "./usr/bin/velollm -> /opt/velollm-desktop/velollm-desktop" in contents
    res = subprocess.run(
        ["desktop-file-validate", str(ROOT / "resources" / "velollm-desktop.desktop")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.xtray
def test_install_run_in_tray_and_purge(deb, tmp_path):
    res = subprocess.run(
        _root(["dpkg", "-i", str(deb)]), capture_output=True, text=True, timeout=300, check=False
    )
    assert res.returncode == 0, res.stderr
    disp = start_display(with_tray=True)
    app = None
    try:
        cli = subprocess.run(
            ["/usr/bin/velollm", "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert cli.returncode == 0 and cli.stdout.startswith("velollm "), cli.stderr
        env = dict(disp.env, XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_DATA_HOME=str(tmp_path / "d"))
        app = subprocess.Popen(
            ["/usr/bin/velollm-desktop", "--show"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        region = (SCREEN[0] - TRAY_WIDTH, 0, TRAY_WIDTH, TRAY_HEIGHT)
        box = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and box is None:
            time.sleep(0.5)
            found = find_dark_box(disp.screenshot(tmp_path / "s.png"), region)
            box = found if found and found[4] >= 40 else None
        assert box is not None, "the installed app drew no tray icon"
        time.sleep(2)
        shot = disp.screenshot(tmp_path / "window.png")
        # Text renders: the window's hardware summary (monospace, top-left) has many small dark
        # glyph strokes; a missing font gives empty boxes or nothing.
        text_box = find_dark_box(shot, (0, TRAY_HEIGHT, 700, 200), max_level=90)
        assert text_box is not None and text_box[4] > 500, (
            f"no rendered text in the window: {text_box}"
        )
        x0, y0, x1, y1, _ = box
        disp.run("xdotool", "mousemove", str((x0 + x1) // 2), str((y0 + y1) // 2), "click", "3")
        time.sleep(1.0)
        disp.run("xdotool", "key", "Up", "Return")
        assert app.wait(timeout=20) == 0, app.stdout.read() if app.stdout else ""
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait(5)
        disp.stop()
        purge = subprocess.run(
            _root(["dpkg", "--purge", "velollm-desktop"]),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert purge.returncode == 0, purge.stderr
    left = [p for p in INSTALLED if os.path.lexists(p)]
    assert not left, f"left behind after purge: {left}"


def test_other_platform_scripts_are_well_formed():
    """Windows and macOS installers cannot be built here: check what can be checked."""
    for script in (
        "build_scripts/build_deb.sh",
        "build_scripts/setup.sh",
        "build_scripts/macos/build_dmg.sh",
    ):
        assert subprocess.run(["bash", "-n", str(ROOT / script)], check=False).returncode == 0, (
            script
        )
    iss = (ROOT / "build_scripts" / "windows" / "velollm-desktop.iss").read_text()
    for section in ("[Setup]", "[Files]", "[Icons]", "[Registry]"):
        assert section in iss
    assert "CurrentVersion\\Run" in iss and 'Source: "..\\..\\dist\\velollm-desktop\\*"' in iss
    spec = (ROOT / "build_scripts" / "velollm-desktop.spec").read_text()
    compile(spec, "velollm-desktop.spec", "exec")
    assert '"LSUIElement": True' in spec
