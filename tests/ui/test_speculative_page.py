"""The Speculative page (offscreen) with real llama-server processes."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from tests.gguf_writer import write_gguf
from velollm_desktop.core.bench.store import History
from velollm_desktop.ui.speculative_page import SpeculativePage


def _ollama_models(root, files):
    for name, path in files.items():
        digest = "sha256-" + name.encode().hex().ljust(64, "0")[:64]
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        (root / "blobs" / digest).symlink_to(path)
        manifest = root / "manifests" / "registry.ollama.ai" / "library" / name / "latest"
        manifest.parent.mkdir(parents=True)
        manifest.write_text(
            json.dumps(
                {
                    "layers": [
                        {
                            "mediaType": "application/vnd.ollama.image.model",
                            "digest": digest.replace("-", ":", 1),
                        }
                    ]
                }
            )
        )


def _drafts(page) -> list[str]:
    return [page.draft.itemText(i) for i in range(page.draft.count())]


def _tok(path, tokens):
    return write_gguf(
        path,
        {
            "general.architecture": "llama",
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.tokens": tokens,
        },
    )


def test_draft_list_follows_the_target_from_the_master_list(qtbot, tmp_path, monkeypatch):
    a = ["<s>", "a", "b", "c"]
    z = ["<z>", "x", "y", "q"]
    files = {
        "a1": _tok(tmp_path / "a1.gguf", a),
        "a2": _tok(tmp_path / "a2.gguf", a),
        "z1": _tok(tmp_path / "z1.gguf", z),
        "z2": _tok(tmp_path / "z2.gguf", z),
    }
    _ollama_models(tmp_path / "models", files)
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    page = SpeculativePage()
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    page.ngram.setCurrentIndex(0)  # (none): Compare then needs a draft
    page.target.setEditText("")
    assert not page.run_button.isEnabled()  # no target: nothing to press
    for target, expected in (("a1", "a2"), ("z1", "z2"), ("a2", "a1")):  # A → B → A
        page.target.setCurrentText(f"ollama:{target}:latest")
        qtbot.waitUntil(lambda e=expected: _drafts(page) == [f"ollama:{e}:latest"], timeout=5000)
        assert page.run_button.isEnabled()
    assert len(page.models) == 4  # the master list is never filtered


def test_missing_target_file_is_said_plainly(qtbot, tmp_path):
    page = SpeculativePage()
    qtbot.addWidget(page)
    page.target.setEditText(str(tmp_path / "nope.gguf"))
    page.use_draft.setChecked(False)  # n-gram mode only
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert "Model file not found" in page.status.text() and "Errno" not in page.status.text()
    assert page.worker is None


@pytest.mark.slow
def test_drafts_filtered_run_and_verdict(qtbot, tmp_path, monkeypatch, smol_model, smol_f32):
    bogus = write_gguf(
        tmp_path / "other.gguf", {"general.architecture": "llama", "tokenizer.ggml.model": "llama"}
    )
    _ollama_models(
        tmp_path / "models", {"smolf32": smol_f32, "smolq41": smol_model, "other": bogus}
    )
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    history = History(tmp_path / "h.sqlite3")
    page = SpeculativePage(history)
    qtbot.addWidget(page)
    page.target.setCurrentText("ollama:smolf32:latest")
    # the incompatible one and the target itself are filtered out (in a worker)
    qtbot.waitUntil(lambda: _drafts(page) == ["ollama:smolq41:latest"], timeout=10000)
    page.runs.setValue(1)
    page.n_predict.setValue(16)
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=120000)
    assert page.result is not None, page.status.text()
    assert [m.mode for m in page.result.modes] == ["vanilla", "draft", "ngram-simple"]
    assert len(page.chart.bars) == 1 and page.verdict.text()
    (saved,) = history.comparisons()
    assert saved["target"] == page.result.target and [m["mode"] for m in saved["modes"]] == [
        "vanilla",
        "draft",
        "ngram-simple",
    ]
    history.close()


@pytest.mark.slow
def test_cancel_ends_the_servers(qtbot, smol_f32):
    page = SpeculativePage()
    qtbot.addWidget(page)
    page.refresh_models([str(smol_f32)])
    page.target.setCurrentText(str(smol_f32))
    page.use_draft.setChecked(False)
    page.runs.setValue(5)
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.progress.value() >= 1, timeout=60000)
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=60000)
    assert "cancelled" in page.status.text()


def test_a_failed_comparison_looks_failed(qtbot, tmp_path):
    broken = write_gguf(tmp_path / "broken.gguf", {"general.architecture": "llama"})
    page = SpeculativePage()
    qtbot.addWidget(page)
    page.target.setEditText(str(broken))
    page.use_draft.setChecked(False)  # n-gram mode only
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=60000)
    assert "Comparison stopped" in page.status.text() and "Errno" not in page.status.text()
    assert page.progress.value() == 0 and page.result is None


def test_no_compatible_draft_is_said_and_the_hint_follows_the_inputs(qtbot, tmp_path, monkeypatch):
    """Issue 27 item 10: with no compatible draft the list says so and the status says why and
    what to do; the hint moves on once a target is picked; n-gram modes say what they do."""
    files = {
        "a1": _tok(tmp_path / "a1.gguf", ["<s>", "a", "b", "c"]),
        "z1": _tok(tmp_path / "z1.gguf", ["<z>", "x", "y", "q"]),
    }
    _ollama_models(tmp_path / "models", files)
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    page = SpeculativePage()
    qtbot.addWidget(page)
    page.show()
    page.ngram.setCurrentIndex(0)  # (none)
    page.target.setEditText("")
    qtbot.waitUntil(lambda: page.status.text().startswith("Pick a target model"), timeout=5000)
    page.target.setCurrentText("ollama:a1:latest")
    qtbot.waitUntil(lambda: "No compatible draft" in page.status.text(), timeout=5000)
    status = page.status.text()
    assert status.startswith("Target: ") and "Pick a target model" not in status
    assert "tokenizer" in status and "n-gram mode" in status
    assert _drafts(page) == [] and page.draft.lineEdit().placeholderText() == (
        "no compatible draft found"
    )
    assert not page.run_button.isEnabled()
    page.ngram.setCurrentIndex(1)
    assert page.run_button.isEnabled() and page.status.text().endswith("Press Compare.")
    for i in range(1, page.ngram.count()):
        text = page.ngram.itemText(i)
        assert text.startswith(f"{page.ngram.itemData(i)}: ") and len(text) > 30
        assert "--spec-type" in page.ngram.itemData(i, Qt.ItemDataRole.ToolTipRole)


@pytest.mark.slow
def test_each_mode_is_drawn_as_it_finishes_with_time_left(qtbot, smol_model):
    page = SpeculativePage()
    qtbot.addWidget(page)
    page.show()
    page.refresh_models([str(smol_model)])
    page.target.setCurrentText(str(smol_model))
    page.use_draft.setChecked(False)
    page.ngram.setCurrentIndex(page.ngram.findData("ngram-simple"))
    page.runs.setValue(1)
    page.n_predict.setValue(16)
    drawn_while_running: list[list[str]] = []
    statuses: list[str] = []
    page.mode_finished.connect(
        lambda _m: drawn_while_running.append(
            [str(t) for t in page.chart.getAxis("bottom")._tickLevels[0]] if page.jobs.busy else []
        )
    )
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    page.jobs.worker.event.connect(lambda e: statuses.append(e.text))
    qtbot.waitUntil(lambda: page.worker is None, timeout=180000)
    assert page.result is not None, page.status.text()
    # vanilla was on the chart before the comparison ended
    assert drawn_while_running and "vanilla" in drawn_while_running[0][0]
    assert any(" runs, " in s and ", about " in s and s.endswith(" left") for s in statuses), statuses
