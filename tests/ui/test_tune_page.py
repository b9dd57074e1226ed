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


def test_ollama_target_per_request_then_apply_and_before_after(qtbot, smol_model):
    from tests.ollama_fake import MODEL, FakeOllama

    hw = detect_hardware()
    with FakeOllama(runner_model=smol_model) as fake:
        page = TunePage(lambda: hw, lambda: fake.url)
        qtbot.addWidget(page)
        page.target.setCurrentIndex(page.target.findData("ollama"))
        assert page.server_changes.isEnabled() and page.ctx.specialValueText() == "as configured"
        page.model.setCurrentText(f"ollama:{MODEL}")
        page.objective.setCurrentText("decode")
        page.budget.setValue(15)
        page.start_button.click()
        qtbot.waitUntil(lambda: page.worker is None, timeout=180000)
        assert page.result is not None and page.result.backend == "ollama", page.status.text()
        assert page.table.rowCount() == len(page.result.candidates) >= 2
        assert "load" in page.table.item(0, 3).text()  # the reload time, shown apart
        assert fake.service_restarts == []
        # apply the second candidate whatever won, to exercise the derived model and the chart
        page.result = page.result.__class__(
            **{**page.result.__dict__, "winner": page.result.candidates[1]}
        )
        page.apply()
        qtbot.waitUntil(lambda: page.worker is None, timeout=120000)
        assert page.result.winner.candidate.options
        assert list(fake.derived) == ["smollm2-velollm:135m"]
        assert "Before" in page.status.text() and len(page.chart.bars) == 1


def test_ollama_server_changes_need_confirmation(qtbot, smol_model, tmp_path):
    from tests.ollama_fake import MODEL, FakeOllama
    from velollm_desktop.core.optimize.apply import Applier
    from velollm_desktop.core.tune.ollama import ServiceSettings

    dropin = tmp_path / "override.conf"
    asked: list[str] = []
    with FakeOllama(runner_model=smol_model) as fake:
        page = TunePage(lambda: detect_hardware(), lambda: fake.url)
        qtbot.addWidget(page)
        page.service_factory = lambda url: ServiceSettings(
            url, Applier(journal=tmp_path / "j.json", platform="linux", dropin=dropin), wait_s=5
        )
        page.confirm = lambda text: asked.append(text) or False
        page.target.setCurrentIndex(page.target.findData("ollama"))
        page.model.setCurrentText(MODEL)
        page.server_changes.setChecked(True)
        page.start()
        assert page.worker is None and "not allowed" in page.status.text()
        assert "restart" in asked[0] and str(dropin) in asked[0]
        assert not dropin.exists() and fake.loads == []
