"""The Optimize page with a model file the user picks: a MoE model too big for the GPU, and a
GGUF that gets llama.cpp's own projection (its path is kept)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.core.optimize.profiles import cpu_only, nvidia
from tests.gguf_shapes import SHAPES, write_shape
from tests.ui import test_optimize_page as base
from tests.ui.dialogs import answer_file_dialog
from velollm_desktop.core.llamacpp.server import free_port
from velollm_desktop.core.optimize import fit
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.footprint import METHOD_LLAMACPP
from velollm_desktop.core.optimize.service import dropin_path
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.optimize_page import OptimizePage


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """The Optimize page tests' root (ollama.service, a user's drop-in, recording systemctl)."""
    return base.sandbox.__wrapped__(tmp_path, monkeypatch)


@pytest.fixture
def auto_projector():
    previous = fit.use_projector(fit._AUTO)  # found like the app finds it (llama-fit-params)
    yield
    fit.use_projector(previous)


def _page(qtbot, root, hardware):
    settings = Settings.load()
    settings.set("ollama_url", f"http://127.0.0.1:{free_port()}")  # no Ollama: the file alone
    page = OptimizePage(settings, lambda: hardware)
    page.system_root, page.processes = root, list
    page.applier = Applier(platform="linux", dropin=dropin_path(root))
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    return page


def _pick(qtbot, page, path) -> None:
    answers = answer_file_dialog(qtbot, str(path))
    qtbot.mouseClick(page.add_model_button, Qt.MouseButton.LeftButton)
    assert not answers.errors, answers.errors
    qtbot.waitUntil(lambda: not page.busy and page.state is not None, timeout=60000)


def _rows(page) -> list[str]:
    return [
        " | ".join(
            page.table.item(r, c).text()
            for c in range(page.table.columnCount())
            if page.table.item(r, c)
        )
        for r in range(page.table.rowCount())
    ]


def test_picked_moe_model_too_big_keeps_every_layer_on_the_gpu(
    qtbot, sandbox, tmp_path, auto_projector
):
    root, dropin, _ = sandbox
    before = dropin.read_text() if dropin.exists() else None
    path = write_shape(SHAPES["qwen3-30b-a3b"], tmp_path / "Qwen3-30B-A3B-Q4_K_M.gguf").path
    page = _page(qtbot, root, nvidia(12))
    _pick(qtbot, page, path)
    m = page.state.models[-1]
    assert m.model_path == path  # kept: llama.cpp's projection can read the file
    f = page.state.recommendation.fits[-1]
    assert 0 < f.n_cpu_moe < 48
    shown = [page.breakdowns.itemAt(i).widget().text() for i in range(page.breakdowns.count())]
    assert any(f"experts of {f.n_cpu_moe} layers in RAM" in t and "--fit" in t for t in shown)
    why = next(r for r in page.state.recommendation.reasons if r.setting.endswith("MoE experts"))
    assert "nothing to set" in why.why
    assert not any("LLAMA_ARG_N_CPU_MOE" in r for r in _rows(page))  # --fit does it itself
    assert (dropin.read_text() if dropin.exists() else None) == before  # nothing written


def test_picked_gguf_gets_llamacpps_projection(qtbot, sandbox, smol_model, auto_projector):
    root, _, _ = sandbox
    page = _page(qtbot, root, cpu_only(8, 32))
    _pick(qtbot, page, smol_model)
    assert page.state.models[-1].model_path == smol_model
    assert page.state.recommendation.fits[-1].method == METHOD_LLAMACPP
    assert any("llama.cpp's own projection" in r for r in _rows(page))
