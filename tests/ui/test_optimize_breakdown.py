"""The Optimize page shows, per model, the bytes of weights / KV / compute and the method."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.gguf_shapes import SHAPES, write_shape
from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.core.llamacpp.binaries import find_program
from velollm_desktop.core.optimize import fit
from velollm_desktop.core.optimize.footprint_llamacpp import Projector
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.optimize_page import OptimizePage


def _recommend(qtbot) -> OptimizePage:
    settings = Settings.load()
    hw = detect_hardware()
    with FakeOllama() as fake:
        settings.set("ollama_url", fake.url)
        page = OptimizePage(settings, lambda: hw)
        qtbot.addWidget(page)
        qtbot.mouseClick(page.compute_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.state is not None, timeout=20000)
    return page


def _shown(page: OptimizePage) -> list[str]:
    return [page.breakdowns.itemAt(i).widget().text() for i in range(page.breakdowns.count())]


def test_breakdown_by_the_formula_when_the_file_is_not_here(qtbot, monkeypatch):
    monkeypatch.setattr(fit, "local_model_file", lambda m: None)
    page = _recommend(qtbot)
    f = page.state.recommendation.fits[0]
    assert _shown(page) == [
        f"{MODEL}: weights {f.weights_bytes / 2**20:,.0f} MiB / KV cache "
        f"{f.kv_cache_bytes / 2**20:,.0f} MiB / compute {f.compute_bytes / 2**20:,.0f} MiB"
        " — computed by formula"
    ]
    assert f.weights_bytes > 0 and f.kv_cache_bytes > 0 and f.compute_bytes > 0


@pytest.mark.parametrize("shape", ["tiny-llama"])
def test_breakdown_by_llamacpp_when_the_file_is_local(qtbot, monkeypatch, tmp_path, shape):
    w = write_shape(SHAPES[shape], tmp_path / f"{shape}.gguf")
    monkeypatch.setattr(fit, "local_model_file", lambda m: w.path)
    previous = fit.use_projector(Projector(find_program("llama-fit-params")))
    try:
        page = _recommend(qtbot)
    finally:
        fit.use_projector(previous)
    (text,) = _shown(page)
    assert text.startswith(f"{MODEL}: weights ") and text.endswith(
        "computed by llama.cpp projection"
    )
    assert page.state.recommendation.fits[0].method == "llama.cpp projection"
