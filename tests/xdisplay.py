"""Start and stop a real X server (Xvfb) with a real system-tray host (trayer) for tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QColor, QImage

TRAY_WIDTH = 200
TRAY_HEIGHT = 40
SCREEN = (1280, 800)


@dataclass
class XDisplay:
    """A running Xvfb (+ trayer); `env` is what a child needs to use it."""

    display: str
    xvfb: subprocess.Popen
    trayer: subprocess.Popen | None

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DISPLAY=self.display, QT_QPA_PLATFORM="xcb")
        return env

    def run(self, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess:
        """Run an X client (xdotool, import) against this display."""
        return subprocess.run(
            list(argv), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def screenshot(self, path: Path) -> QImage:
        """Capture the whole screen with ImageMagick's `import` and load it."""
        res = self.run("import", "-window", "root", str(path))
        assert res.returncode == 0, res.stderr
        img = QImage(str(path))
        assert not img.isNull(), f"could not read {path}"
        return img

    def stop(self) -> None:
        for proc in (self.trayer, self.xvfb):
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def start_display(with_tray: bool = True) -> XDisplay:
    """Start Xvfb on a free display number (Xvfb picks it) and, optionally, trayer."""
    for tool in ("Xvfb", "xdotool", "import") + (("trayer",) if with_tray else ()):
        assert shutil.which(tool), f"{tool} is missing: run bash build_scripts/setup.sh test"
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{SCREEN[0]}x{SCREEN[1]}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    assert number.isdigit(), "Xvfb did not report a display number"
    disp = XDisplay(f":{number}", xvfb, None)
    if with_tray:
        disp.trayer = subprocess.Popen(
            [
                "trayer",
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "pixel",
                "--width",
                str(TRAY_WIDTH),
                "--heighttype",
                "pixel",
                "--height",
                str(TRAY_HEIGHT),
                "--transparent",
                "false",
            ],
            env=disp.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if disp.run("xdotool", "search", "--class", "trayer").stdout.strip():
                break
            time.sleep(0.1)
    return disp


def find_dark_box(
    img: QImage, region: tuple[int, int, int, int], max_level: int = 60
) -> tuple[int, int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1, count) of near-black pixels inside `region` (x, y, w, h).

    Our tray icon's bar wells are near-black; trayer's panel is light grey.
    """
    x, y, w, h = region
    xs, ys = [], []
    for py in range(y, y + h):
        for px in range(x, x + w):
            c = QColor(img.pixel(px, py))
            if max(c.red(), c.green(), c.blue()) <= max_level:
                xs.append(px)
                ys.append(py)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys), len(xs)
