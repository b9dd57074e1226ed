"""The Optimize page (offscreen): recommend from a running Ollama, apply to a drop-in, undo."""

from __future__ import annotations

import subprocess

from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.optimize_page import MemoryBar, OptimizePage


def _ok(argv):
    return subprocess.CompletedProcess(argv, 0, "", "")


def test_recommend_apply_undo(qtbot, tmp_path):
    settings = Settings.load()
    hw = detect_hardware()
    with FakeOllama() as fake:
        settings.set("ollama_url", fake.url)
        page = OptimizePage(settings, lambda: hw)
        qtbot.addWidget(page)
        dropin = tmp_path / "ollama.service.d" / "override.conf"
        page.applier = Applier(
            runner=_ok, journal=tmp_path / "j.json", platform="linux", dropin=dropin
        )
        page.compute_button.click()
        qtbot.waitUntil(lambda: page.state is not None, timeout=10000)
    rows = {
        page.table.item(r, 0).text(): page.table.item(r, 2).text()
        for r in range(page.table.rowCount())
    }
    assert "OLLAMA_KEEP_ALIVE" in rows and not any(k.startswith("OLLAMA_NUM_GPU") for k in rows)
    bars = [page.bars.itemAt(i).widget() for i in range(page.bars.count())]
    assert len(bars) == 1 and isinstance(bars[0], MemoryBar) and bars[0].fit.name == MODEL
    assert page.apply_button.isEnabled() and "OLLAMA_" in page.summary()
    assert page.apply(confirm=False)
    assert dropin.exists() and page.undo_button.isEnabled()
    page.undo()
    assert not dropin.exists() and not page.undo_button.isEnabled()


def test_no_hardware_yet_is_explained(qtbot):
    page = OptimizePage(Settings.load(), lambda: None)
    qtbot.addWidget(page)
    page.compute()
    assert "Hardware detection has not finished" in page.status.text()
