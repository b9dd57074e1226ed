"""The Tune page (offscreen) with real llama-server processes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.ui.dialogs import answer_dialogs
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.ui.tune_page import TunePage


@pytest.mark.slow
def test_tune_then_before_after(qtbot, smol_model, monkeypatch):
    hw = detect_hardware()
    page = TunePage(lambda: hw)
    qtbot.addWidget(page)
    page.model.addItem(str(smol_model))
    page.model.setCurrentText(str(smol_model))
    page.objective.setCurrentText("decode")
    page.budget.setValue(20)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=180000)
    assert page.result is not None, page.status.text()
    assert page.table.rowCount() == len(page.result.candidates) >= 3
    assert page.apply_button.isEnabled() == page.result.significant
    if page.result.significant:
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.worker is None, timeout=120000)
        assert "Before" in page.status.text() and len(page.chart.bars) == 1


@pytest.mark.slow
def test_a_short_budget_moves_the_bar_and_says_what_was_measured(qtbot, smol_model):
    """Budget 10 s (the least the page offers) with every default candidate: during the
    measurement the bar moves and the status counts seconds against the budget; at the end
    each row is measured or says why not, the baseline is named as kept, the chart shows what
    was measured (never "No results yet" with a measured baseline), and the status is
    sentences."""
    hw = detect_hardware()
    page = TunePage(lambda: hw)
    qtbot.addWidget(page)
    page.model.addItem(str(smol_model))
    page.model.setCurrentText(str(smol_model))
    page.objective.setCurrentText("decode")
    page.budget.setValue(10)
    seen: list[tuple[int, str]] = []
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    page.jobs.worker.event.connect(lambda e: seen.append((page.progress.value(), e.text)))
    qtbot.waitUntil(lambda: page.worker is None, timeout=180000)
    result = page.result
    assert result is not None, page.status.text()
    assert any(" s of 10 s." in text for _, text in seen)  # the clock while measuring
    assert any(value > 0 for value, _ in seen)  # the bar moved before the end
    notes = [page.table.item(r, 3).text() for r in range(page.table.rowCount())]
    names = [page.table.item(r, 0).text() for r in range(page.table.rowCount())]
    base = names.index(result.baseline.candidate.name)
    assert notes[base] == ("baseline" if result.significant else "baseline (kept)")
    for m, note in zip(result.candidates, notes, strict=True):
        assert m.score is not None or note  # a row without a score says why
    assert len(page.chart.bars) == 1  # the measured candidates are drawn
    status = page.status.text()
    assert status.endswith(".") and ". ." not in status and "not measured (time" not in status
    if not any(m.score for m in result.candidates if m is not result.baseline):
        assert status.startswith("Nothing was measured beyond the baseline")


@pytest.mark.slow
def test_cancel(qtbot, smol_model):
    hw = detect_hardware()
    page = TunePage(lambda: hw)
    qtbot.addWidget(page)
    page.model.addItem(str(smol_model))
    page.model.setCurrentText(str(smol_model))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "measuring" in page.status.text().lower(), timeout=30000)
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=60000)
    assert "cancelled" in page.status.text()


def test_missing_model_is_explained(qtbot, tmp_path):
    page = TunePage(lambda: detect_hardware())
    qtbot.addWidget(page)
    page.model.setEditText("")
    assert not page.start_button.isEnabled()  # no model: nothing to press
    for typed in (str(tmp_path / "nope.gguf"), str(tmp_path), "."):  # a folder is no model
        page.model.setEditText(typed)
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        assert "not found" in page.status.text() and "Errno" not in page.status.text()
        assert page.worker is None


@pytest.mark.slow
def test_ollama_target_per_request_then_apply_and_before_after(qtbot, smol_model):
    from tests.ollama_fake import MODEL, FakeOllama

    hw = detect_hardware()
    with FakeOllama(runner_model=smol_model) as fake:
        page = TunePage(lambda: hw, lambda: fake.url)
        qtbot.addWidget(page)
        page.show()
        page.target.setCurrentIndex(page.target.findData("ollama"))
        assert page.server_changes.isEnabled() and page.ctx.specialValueText() == "as configured"
        # Ollama's models fill the list in the background when the page shows that target
        qtbot.waitUntil(lambda: page.model.findText(f"ollama:{MODEL}") >= 0, timeout=10000)
        page.model.setCurrentText(f"ollama:{MODEL}")
        page.objective.setCurrentText("decode")
        page.budget.setValue(15)
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.worker is None, timeout=180000)
        assert page.result is not None and page.result.backend == "ollama", page.status.text()
        assert page.table.rowCount() == len(page.result.candidates) >= 2
        assert "load" in page.table.item(0, 3).text()  # the reload time, shown apart
        assert fake.service_restarts == []
        # apply the second candidate whatever won, to exercise the derived model and the chart
        page.result = page.result.__class__(
            **{**page.result.__dict__, "winner": page.result.candidates[1]}
        )
        page.apply_button.setEnabled(True)
        answers = answer_dialogs(qtbot, "Cancel")  # declined: no model is created
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
        assert not answers.errors and "smollm2-velollm:135m" in answers.texts[0]
        assert fake.derived == {} and "no model was created" in page.status.text()
        answers = answer_dialogs(qtbot, "Create model")
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
        assert not answers.errors, answers.errors
        qtbot.waitUntil(lambda: page.worker is None, timeout=120000)
        assert page.result.winner.candidate.options
        assert list(fake.derived) == ["smollm2-velollm:135m"]
        assert "Before" in page.status.text() and len(page.chart.bars) == 1


@pytest.mark.slow
def test_ollama_server_changes_need_confirmation(qtbot, smol_model, tmp_path):
    from tests.ollama_fake import MODEL, FakeOllama
    from velollm_desktop.core.optimize.apply import Applier
    from velollm_desktop.core.tune.ollama import ServiceSettings

    dropin = tmp_path / "override.conf"
    with FakeOllama(runner_model=smol_model) as fake:
        page = TunePage(lambda: detect_hardware(), lambda: fake.url)
        qtbot.addWidget(page)
        page.service_factory = lambda url: ServiceSettings(
            url, Applier(journal=tmp_path / "j.json", platform="linux", dropin=dropin), wait_s=5
        )
        page.target.setCurrentIndex(page.target.findData("ollama"))
        page.model.setCurrentText(MODEL)
        page.server_changes.setChecked(True)
        page.system_root = tmp_path / "root"  # no ollama.service there: refused, no dialog
        page.processes = list
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        assert page.worker is None and "cannot be tried here" in page.status.text()
        unit = page.system_root / "etc/systemd/system/ollama.service"
        unit.parent.mkdir(parents=True)
        unit.write_text("[Service]\nExecStart=/x serve\n")
        answers = answer_dialogs(qtbot, "Cancel")
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        assert not answers.errors, answers.errors
        assert page.worker is None and "not allowed" in page.status.text()
        assert "restart" in answers.texts[0] and str(dropin) in answers.texts[0]
        assert answers.buttons[0] == ["Allow and start", "Cancel"]
        assert not dropin.exists() and fake.loads == []


def test_derived_model_is_created_only_after_consent(qtbot):
    """Apply winner (Ollama) creates a model through /api/create: declined → none; accepted →
    exactly the one named in the dialog. The tune result is given (a real tune is the slow
    test above); the click and the dialog are real."""
    from tests.ollama_fake import MODEL, FakeOllama
    from velollm_desktop.core.bench.stats import summarize
    from velollm_desktop.core.tune.common import Measured, TuneResult
    from velollm_desktop.core.tune.ollama import OllamaCandidate

    base = Measured(OllamaCandidate("current settings"), summarize([10.0, 10.2, 10.1]))
    best = Measured(OllamaCandidate("num_batch=1024", {"num_batch": 1024}), summarize([14.0, 14.1]))
    result = TuneResult(MODEL, "decode", 1, base, (base, best), best, 1.4, True, 5.0, (), "ollama")
    with FakeOllama() as fake:
        page = TunePage(lambda: None, lambda: fake.url)
        qtbot.addWidget(page)
        page.show_result(result)
        page.apply_button.setEnabled(True)  # as after a tune with a significant winner
        answers = answer_dialogs(qtbot, "Cancel")
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
        assert not answers.errors, answers.errors
        assert "smollm2-velollm:135m" in answers.texts[0] and "num_batch = 1024" in answers.texts[0]
        assert fake.derived == {} and "no model was created" in page.status.text()
        answers = answer_dialogs(qtbot, "Create model")
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
        assert not answers.errors, answers.errors
        qtbot.waitUntil(lambda: page.worker is None, timeout=60000)  # created in a job
        assert list(fake.derived) == ["smollm2-velollm:135m"]


def test_llama_server_target_lists_the_downloaded_builtin_model(qtbot, tmp_path, monkeypatch):
    """Issue 27 item 11: the built-in model (downloaded for Benchmark/Speculative) is in the
    llama-server model list; with target Ollama, "Add .gguf…" is not offered."""
    from velollm_desktop.ui import tune_page

    own = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    monkeypatch.setattr(tune_page, "builtin_model_path", lambda: own)
    page = TunePage(lambda: detect_hardware())
    qtbot.addWidget(page)
    page.show()
    items = lambda: [page.model.itemText(i) for i in range(page.model.count())]  # noqa: E731
    assert str(own) not in items()  # not downloaded yet: not offered
    own.write_bytes(b"GGUF")
    page.hide()
    page.show()  # shown again after the download
    assert str(own) in items() and page.model.currentText()
    assert page.browse_button.isVisible()
    page.target.setCurrentIndex(page.target.findData("ollama"))
    assert not page.browse_button.isVisible()
    page.target.setCurrentIndex(page.target.findData("llamacpp"))
    assert page.browse_button.isVisible() and page.start_button.isEnabled()
