"""The Speculative page's Ollama mode: its verdict from a real run; Use in Ollama (decline /
accept, answered on the real dialog) and Undo (decline / accept) against the stand-in Ollama."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.ollama_fake import MODEL, FakeOllama
from tests.ui.dialogs import answer_dialogs
from tests.ui.test_speculative_page import _ollama_models
from velollm_desktop.core.bench.stats import summarize
from velollm_desktop.core.speculative.compare import OLLAMA_MODE, CompareResult, ModeResult
from velollm_desktop.ui.speculative_page import SpeculativePage

SPEC = "smollm2-spec:135m"


def _filtered(page: SpeculativePage) -> bool:
    """The draft list has been filtered for the current target (its worker has ended)."""
    return page._filter_worker is None and not page._filter_timer.isActive()


@pytest.mark.slow
def test_ollama_mode_verdict_from_a_real_run(qtbot, tmp_path, monkeypatch, smol_model, smol_f32):
    _ollama_models(tmp_path / "models", {"smolf32": smol_f32, "smolq41": smol_model})
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    page = SpeculativePage()
    qtbot.addWidget(page)  # not shown: its chart is not painted (pyqtgraph, offscreen)
    page.target.setCurrentText("ollama:smolf32:latest")  # already the first: no change signal
    qtbot.waitUntil(lambda: page.draft.currentText() == "ollama:smolq41:latest", timeout=10000)
    page.ngram.setCurrentIndex(0)  # (none)
    page.runs.setValue(1)
    page.n_predict.setValue(16)
    page.ollama.as_ollama.click()
    assert page.ollama.as_ollama.isChecked()
    page.run_button.click()
    qtbot.waitUntil(lambda: page.worker is None, timeout=540000)  # a shared 2-core box
    assert page.result is not None, page.status.text()
    assert [m.mode for m in page.result.modes] == ["vanilla", "draft"]
    # Ollama passes draft-mtp for this plain draft; this llama-server refuses it: said, not failed
    assert "as Ollama would run it" in page.verdict.text() and "draft-mtp" in page.verdict.text()
    assert page.ollama.label.text().startswith("as Ollama would run it")
    assert not page.ollama.use_button.isEnabled()


def _significant() -> CompareResult:
    stats = summarize([50.0, 51.0, 52.0])
    modes = (
        ModeResult("vanilla", (), (), stats, None, None, None, 0, 0, 1.0, (1.0, 1.0)),
        ModeResult(
            OLLAMA_MODE,
            ("--spec-type", "draft-mtp", "--spec-draft-n-max", "4"),
            (),
            stats,
            None,
            None,
            None,
            0,
            0,
            1.4,
            (1.2, 1.6),
        ),
    )
    return CompareResult("x", "t", "smol", None, 16, 1, modes, ())


def test_use_in_ollama_decline_then_accept_then_undo(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr("velollm_desktop.core.ollama.derived.data_dir", lambda: tmp_path)
    with FakeOllama() as fake:
        page = SpeculativePage(ollama_url_provider=lambda: fake.url)
        qtbot.addWidget(page)
        page.show()
        qtbot.waitExposed(page)
        page.target.setCurrentText(f"ollama:{MODEL}")
        qtbot.waitUntil(lambda: _filtered(page), timeout=10000)
        page.ollama.offer(_significant(), page.target.currentText(), None)
        assert page.ollama.use_button.isEnabled() and SPEC in page.ollama.label.text()
        seen = answer_dialogs(qtbot, "Cancel")
        qtbot.mouseClick(page.ollama.use_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(seen.texts), timeout=5000)
        assert not seen.errors and seen.buttons[0] == ["Create model", "Cancel"]
        assert SPEC in seen.texts[0] and "not changed" in seen.texts[0]
        assert fake.derived == {} and page.ollama.label.text() == "Nothing was created."
        seen = answer_dialogs(qtbot, "Create model")
        qtbot.mouseClick(page.ollama.use_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.worker is None and bool(page.ollama.created), timeout=60000)
        assert fake.derived == {SPEC: {"draft_num_predict": 4}}
        assert "Through Ollama" in page.ollama.label.text()
        seen = answer_dialogs(qtbot, "Cancel")
        qtbot.mouseClick(page.ollama.undo_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(seen.texts), timeout=5000)
        assert SPEC in seen.texts[0] and not seen.errors
        assert SPEC in fake.derived and page.ollama.label.text() == "Nothing was deleted."
        seen = answer_dialogs(qtbot, "Delete")
        qtbot.mouseClick(page.ollama.undo_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(seen.texts), timeout=5000)
        assert fake.derived == {} and page.ollama.label.text() == f"Deleted {SPEC}."


def test_ollama_mode_without_heads_or_draft_says_why(qtbot, tmp_path, monkeypatch, smol_model):
    _ollama_models(tmp_path / "models", {"smolq41": smol_model})
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    page = SpeculativePage()
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    page.target.setCurrentText("ollama:smolq41:latest")
    qtbot.waitUntil(lambda: _filtered(page), timeout=10000)
    page.ngram.setCurrentIndex(0)
    qtbot.mouseClick(page.use_draft, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.ollama.as_ollama, Qt.MouseButton.LeftButton)
    assert not page.use_draft.isChecked() and page.ollama.as_ollama.isChecked()
    assert page.run_button.isEnabled()  # the Ollama mode alone is something to compare
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.worker is None and "no MTP heads and no draft" in page.status.text()
