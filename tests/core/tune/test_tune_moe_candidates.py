"""Tune candidates for a MoE model too big for the GPU: --n-cpu-moe picks around the smallest
N that fits, beside partial -ngl; pruned by the same memory model; version-gated for Ollama."""

from __future__ import annotations

import dataclasses

import pytest

from tests.core.optimize.profiles import nvidia
from tests.gguf_shapes import SHAPES, write_shape
from velollm_desktop.core.optimize import fit
from velollm_desktop.core.optimize.models import load_model_file
from velollm_desktop.core.tune.llamacpp import candidates_for, prune
from velollm_desktop.core.tune.ollama import N_CPU_MOE, ollama_candidates, prune_ollama


@pytest.fixture(scope="module")
def qwen3(tmp_path_factory):
    w = write_shape(SHAPES["qwen3-30b-a3b"], tmp_path_factory.mktemp("q") / "q.gguf")
    return dataclasses.replace(load_model_file(w.path), name="qwen3:30b", model_path=None)


@pytest.fixture(autouse=True)
def formula_only():
    previous = fit.use_projector(None)
    yield
    fit.use_projector(previous)


def test_llama_server_candidates_try_expert_offload_around_the_smallest_n(qwen3):
    hw = nvidia(12)
    cands = candidates_for(hw, "decode", 1, qwen3, ctx=4096)
    moe = [c for c in cands if c.n_cpu_moe is not None]
    n = fit.experts_to_cpu(qwen3, fit.budget_for(hw), 4096, flash_attention=False).n_cpu_moe
    assert [c.n_cpu_moe for c in moe] == [n - 1, n, n + 2]
    assert moe[1].args()[-4:] == ["-ngl", "999", "--n-cpu-moe", str(n)]
    assert any(c.gpu_layers is not None for c in cands)  # beside partial -ngl
    keep, pruned = prune(cands, qwen3, hw)
    assert {c.n_cpu_moe for c in keep if c.n_cpu_moe is not None} == {n, n + 2}
    assert any(m.candidate.n_cpu_moe == n - 1 and "GiB on the GPU" in m.pruned for m in pruned)


def test_no_expert_candidates_when_it_fits_or_for_a_dense_model(qwen3, tmp_path):
    assert not [c for c in candidates_for(nvidia(80), "decode", 1, qwen3) if c.n_cpu_moe]
    dense = load_model_file(write_shape(SHAPES["qwen25-14b"], tmp_path / "d.gguf").path)
    assert not [c for c in candidates_for(nvidia(6), "decode", 1, dense) if c.n_cpu_moe is not None]


@pytest.mark.parametrize(
    ("version", "offered"), [("0.33.0", True), ("0.29.1", False), (None, False)]
)
def test_ollama_offers_llama_arg_n_cpu_moe_only_from_0_30_with_consent(qwen3, version, offered):
    hw = nvidia(12)
    cands = ollama_candidates(
        hw, qwen3, "decode", 1, ctx=4096, server_changes=True, ollama_version=version
    )
    moe = [c for c in cands if N_CPU_MOE in c.server_env]
    assert bool(moe) is offered
    no_consent = ollama_candidates(hw, qwen3, "decode", 1, ctx=4096, ollama_version="0.33.0")
    assert not [c for c in no_consent if N_CPU_MOE in c.server_env]
    if offered:
        keep, pruned = prune_ollama(cands, qwen3, hw)
        # the baseline is sized as llama.cpp's --fit places it (experts in RAM), so it is kept
        assert keep[0].name == "current settings"
        assert len([c for c in keep if N_CPU_MOE in c.server_env]) == 2
