"""Issue 27 items 1 and 6: the Optimize table with the `ollama.service` that Ollama's own
installer writes (scripts/install.sh: `Environment="PATH=…"`), read in the dashboard at
800×600 as a person sees it; and the page without Ollama, in whole sentences."""

from __future__ import annotations

import os
import stat

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.ollama_fake import FakeOllama
from tests.ui.test_optimize_page import H100
from velollm_desktop.core.llamacpp.server import free_port
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.service import dropin_path
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.app import Controller

INSTALL_SH_UNIT = """[Unit]
Description=Ollama Service
After=network-online.target

[Service]
ExecStart=/usr/local/bin/ollama serve
User=ollama
Group=ollama
Restart=always
RestartSec=3
Environment="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"

[Install]
WantedBy=default.target
"""
USER_DROPIN = (
    '[Service]\nEnvironment="OLLAMA_KEEP_ALIVE=10m"\nEnvironment="OLLAMA_MODELS=/data/models"\n'
    'Environment="CUDA_VISIBLE_DEVICES=0"\n'
)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/ollama.service").write_text(INSTALL_SH_UNIT)
    dropin = dropin_path(root)
    dropin.parent.mkdir()
    dropin.write_text(USER_DROPIN)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "systemctl"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return root


@pytest.fixture
def dashboard(qtbot):
    controller = Controller(QApplication.instance(), Settings.load(), force_no_tray=True)
    qtbot.addWidget(controller.window)
    controller._hardware = H100
    try:
        yield controller
    finally:
        controller.shutdown()


def _open_optimize(qtbot, controller, url, root):
    window, page = controller.window, controller.optimize_page
    controller.settings.set("ollama_url", url)
    page.system_root, page.processes = root, list
    page.applier = Applier(platform="linux", dropin=dropin_path(root))
    window.resize(800, 600)
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentIndex(window.tabs.indexOf(window.tabs.widget(_index(window, page))))
    qtbot.mouseClick(page.compute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None and page.state is not None, timeout=20000)
    qtbot.wait(50)  # one layout pass at this size
    return page


def _index(window, page) -> int:
    return next(i for i in range(window.tabs.count()) if window.tabs.page(i) is page)


def _table(page) -> dict[str, list[str]]:
    t = page.table
    return {
        t.item(r, 0).text(): [t.item(r, c).text() for c in range(1, 4)] for r in range(t.rowCount())
    }


def test_installer_unit_shows_only_what_matters_and_reads_at_800x600(qtbot, installed, dashboard):
    with FakeOllama() as fake:
        page = _open_optimize(qtbot, dashboard, fake.url, installed)
    rows = _table(page)
    # only Ollama's and llama.cpp's variables: never the installer's PATH or CUDA_VISIBLE_DEVICES
    assert "PATH" not in rows and "CUDA_VISIBLE_DEVICES" not in rows
    assert all(n.startswith(("OLLAMA_", "LLAMA_ARG_")) for n in rows)
    # the user's own variable is kept, with a sentence saying so
    assert rows["OLLAMA_MODELS"][0] == "/data/models (override.conf)"
    assert rows["OLLAMA_MODELS"][1] == "kept" and rows["OLLAMA_MODELS"][2].endswith(".")
    # a short source name in the cell, the full path in the tooltip
    assert rows["OLLAMA_KEEP_ALIVE"][0] == "10m (override.conf)"
    r = list(rows).index("OLLAMA_KEEP_ALIVE")
    assert str(dropin_path(installed)) in page.table.item(r, 1).toolTip()
    # "Why" is never empty
    assert all(cells[2] for cells in rows.values())
    # layout at 800×600: every column inside the view, "Why" keeps a readable width, and a
    # row is a few lines, not 8–12
    t = page.table
    widths = [t.columnWidth(c) for c in range(4)]
    assert sum(widths) <= t.viewport().width() + 1, widths
    assert widths[3] >= 0.25 * t.viewport().width(), widths
    line = t.fontMetrics().height()
    assert max(t.rowHeight(r) for r in range(t.rowCount())) <= 6 * line + 12
    assert t.rowViewportPosition(1) + t.rowHeight(1) <= t.viewport().height()  # ≥ 2 rows visible


def test_without_ollama_the_status_is_sentences_and_why_is_filled(qtbot, installed, dashboard):
    page = _open_optimize(qtbot, dashboard, f"http://127.0.0.1:{free_port()}", installed)
    status = page.status.text()
    assert "the recommendation comes from the hardware tiers." in status
    assert status.count("no model to plan for") <= 1 and status.count("hardware tiers") == 1
    assert ". ." not in status and "—" not in status.split("Budget:")[0]
    rows = _table(page)
    assert rows and all(cells[2] for cells in rows.values())  # the CLI's reasons, per row
    # "0 (default)" says what Ollama then uses on this hardware (H100: 80 GiB → 262144)
    ctx = rows.get("OLLAMA_CONTEXT_LENGTH")
    assert ctx is not None and ctx[0] == "0 → 262144 tokens on this GPU (default)"


def test_quick_optimize_balloon_is_never_cut_mid_word(qtbot, tmp_path, dashboard):
    """Tray → Quick optimize with nothing to apply (Ollama not installed, not running): the
    balloon carries the page's sentences, cut only at a sentence or word boundary."""
    from velollm_desktop.ui.tray_actions import BALLOON_CHARS, run_tray_action

    root = tmp_path / "empty-root"
    root.mkdir()
    shown: list[tuple[str, str]] = []

    class RecordingTray:  # the tray's other updates (samples, models) are not under test
        def notify(self, title: str, text: str) -> None:
            shown.append((title, text))

        def __getattr__(self, _name):
            return lambda *a, **k: None

    dashboard.tray = RecordingTray()
    page = dashboard.optimize_page
    dashboard.settings.set("ollama_url", f"http://127.0.0.1:{free_port()}")
    page.system_root, page.processes = root, list
    try:
        run_tray_action(dashboard, "quick_optimize")
        qtbot.waitUntil(lambda: bool(shown), timeout=20000)
    finally:
        dashboard.tray = None
    title, text = shown[0]
    status = " ".join(page.status.text().split())
    assert title == "Quick optimize" and len(status) > BALLOON_CHARS  # long enough to cut
    assert len(text) <= BALLOON_CHARS and text.endswith((".", "…"))
    body = text.removesuffix("…")
    assert status.startswith(body) and status[len(body)] in " .,;:"
