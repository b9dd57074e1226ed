"""The Speculative page (offscreen) with real llama-server processes."""

from __future__ import annotations

import json

import pytest

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
    drafts = [page.draft.itemText(i) for i in range(page.draft.count())]
    assert drafts == [
        "ollama:smolq41:latest"
    ]  # the incompatible one and the target itself are filtered out
    page.runs.setValue(1)
    page.n_predict.setValue(16)
    page.run_button.click()
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
    page.run_button.click()
    qtbot.waitUntil(lambda: page.progress.value() >= 1, timeout=60000)
    page.cancel_button.click()
    qtbot.waitUntil(lambda: page.worker is None, timeout=60000)
    assert "cancelled" in page.status.text()
