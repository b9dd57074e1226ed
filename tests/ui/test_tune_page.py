"""The Tune page (offscreen) with real llama-server processes."""

from __future__ import annotations

import pytest

from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.ui.tune_page import TunePage

pytestmark = pytest.mark.slow


def test_tune_then_before_after(qtbot, smol_model, monkeypatch):
    hw = detect_hardware()
    page = TunePage(lambda: hw)
    qtbot.addWidget(page)
    page.model.addItem(str(smol_model))
    page.model.setCurrentText(str(smol_model))
    page.objective.setCurrentText("decode")
    page.budget.setValue(20)
    page.start_button.click()
    qtbot.waitUntil(lambda: page.worker is None, timeout=180000)
    assert page.result is not None, page.status.text()
    assert page.table.rowCount() == len(page.result.candidates) >= 3
    assert page.apply_button.isEnabled() == page.result.significant
    if page.result.significant:
        page.apply()
        qtbot.waitUntil(lambda: page.worker is None, timeout=120000)
        assert "Before" in page.status.text() and len(page.chart.bars) == 1


def test_cancel(qtbot, smol_model):
    hw = detect_hardware()
    page = TunePage(lambda: hw)
    qtbot.addWidget(page)
    page.model.addItem(str(smol_model))
    page.model.setCurrentText(str(smol_model))
    page.start_button.click()
    qtbot.waitUntil(lambda: "measuring" in page.status.text(), timeout=30000)
    page.cancel_button.click()
    qtbot.waitUntil(lambda: page.worker is None, timeout=60000)
    assert "cancelled" in page.status.text()


def test_missing_model_is_explained(qtbot, tmp_path):
    page = TunePage(lambda: detect_hardware())
    qtbot.addWidget(page)
    page.model.setCurrentText(str(tmp_path / "nope.gguf"))
    page.start()
    assert "not found" in page.status.text()
