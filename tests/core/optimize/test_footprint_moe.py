"""MoE expert offload in the memory model, on sparse GGUFs of Qwen3-30B-A3B and gpt-oss-20b.

The expert bytes per layer come from the file's own tensor list (read here like /api/show's);
`--n-cpu-moe N` moves exactly the experts of layers 0 … N-1 to host memory. On the CPU
llama-fit-params has no device to split against (everything is host memory), so the device
side is checked against llama-fit-params run on an H200 (docs/hardware/h200_moe_*.json).
"""

from __future__ import annotations

import dataclasses
import json
import re
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.optimize.profiles import nvidia
from tests.gguf_shapes import SHAPES, Written, tensor_bytes, write_shape
from velollm_desktop.core.llamacpp.binaries import find_program
from velollm_desktop.core.llamacpp.gguf import NotGGUF, read_gguf
from velollm_desktop.core.llamacpp.gguf_tensors import read_gguf_tensors
from velollm_desktop.core.optimize import fit
from velollm_desktop.core.optimize.footprint import (
    MIB,
    FitSettings,
    formula_estimate,
    shape_from_metadata,
)
from velollm_desktop.core.optimize.footprint_llamacpp import Projector, fit_params_argv
from velollm_desktop.core.optimize.models import load_model_file, load_model_info_file
from velollm_desktop.core.optimize.recommend import as_json_summary, recommend_fit

MOE = ["qwen3-30b-a3b", "gpt-oss-20b"]
HW = Path(__file__).resolve().parents[3] / "docs" / "hardware"
EXPERT = re.compile(r"^blk\.(\d+)\.ffn_(up|down|gate)_exps")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, Written]:
    out = tmp_path_factory.mktemp("moe")
    return {n: write_shape(SHAPES[n], out / f"{n}.gguf") for n in MOE}


def _shape(w: Written):
    g = read_gguf(w.path)
    return shape_from_metadata(g.metadata, g.file_size_bytes, read_gguf_tensors(w.path))


@pytest.mark.parametrize("name", MOE)
def test_expert_bytes_per_layer_are_the_files_expert_tensors(shapes, name):
    w = shapes[name]
    by_layer = [0] * SHAPES[name].n_layer
    for n, dims, t in w.tensors:
        m = EXPERT.match(n)
        if m:
            by_layer[int(m.group(1))] += tensor_bytes(dims, t)
    assert _shape(w).expert_bytes == tuple(by_layer) and sum(by_layer) > w.data_bytes / 2


@pytest.mark.parametrize("name", MOE)
def test_n_cpu_moe_moves_exactly_the_first_layers_experts_to_host(shapes, name):
    shape = _shape(shapes[name])
    base = formula_estimate(shape, FitSettings(4096, 4))
    previous = base
    for n in (1, 8, shape.n_layer):
        est = formula_estimate(shape, FitSettings(4096, 4, n_cpu_moe=n))
        moved = sum(shape.expert_bytes[:n])
        assert est.weights_bytes == base.weights_bytes - moved
        assert est.host_bytes == base.host_bytes + moved  # nothing lost, nothing counted twice
        assert est.kv_bytes == base.kv_bytes  # the KV cache of those layers stays on the GPU
        assert est.total_bytes < previous.total_bytes
        assert f"experts of {n} of {shape.n_layer} layers in RAM" in est.detail
        previous = est
    cpu = formula_estimate(shape, FitSettings(4096, 4, device="cpu", n_cpu_moe=8))
    assert cpu.host_bytes == 0 and cpu.weights_bytes >= base.weights_bytes  # all RAM anyway


@pytest.mark.parametrize("name", MOE)
def test_formula_matches_llamacpp_on_the_h200_at_the_chosen_n(shapes, name):
    """Recorded by bench/h200_moe.py: llama-fit-params -ngl 999 --n-cpu-moe N on an H200."""
    rec = json.loads((HW / f"h200_moe_{name}.json").read_text())
    n = rec["formula"]["n_ours"]
    cuda = next(r for r in rec["projection_at_n_ours"] if r["name"].startswith("CUDA0"))
    host = next(r for r in rec["projection_at_n_ours"] if r["name"] == "Host")
    est = formula_estimate(
        _shape(shapes[name]), FitSettings(rec["ctx_per_slot"], rec["parallel"], n_cpu_moe=n)
    )
    assert est.total_bytes == pytest.approx(cuda["self"] * MIB, rel=0.10)
    assert est.weights_bytes == pytest.approx(cuda["model"] * MIB, rel=0.02)
    assert est.host_bytes == pytest.approx(host["model"] * MIB, rel=0.02)
    run = next(v for k, v in rec["runs"].items() if k.startswith(f"--n-cpu-moe {n} "))
    measured = run["vram_used_mib"] * MIB  # nvidia-smi, the server loaded and answering
    assert measured == pytest.approx(rec["formula"]["predicted_vram_bytes"], rel=0.10)


def test_projector_passes_n_cpu_moe_and_llamacpp_accepts_it(shapes):
    w = shapes["qwen3-30b-a3b"]
    s = FitSettings(4096, 1, "f16", True, device="cpu", n_cpu_moe=12)
    argv = fit_params_argv(Path("llama-fit-params"), w.path, s)
    assert argv[argv.index("--n-cpu-moe") + 1] == "12"
    assert "--n-cpu-moe" not in fit_params_argv(
        Path("x"), w.path, dataclasses.replace(s, n_cpu_moe=0)
    )
    est = Projector(find_program("llama-fit-params")).estimate(w.path, s)
    # on the CPU everything is host memory: the same bytes as without the flag
    assert est.weights_bytes == pytest.approx(w.data_bytes, rel=0.02)


def _profile(w: Written, name: str):
    return dataclasses.replace(load_model_file(w.path), name=name, model_path=None)


@pytest.mark.parametrize(("name", "gib"), [("qwen3-30b-a3b", 12), ("gpt-oss-20b", 8)])
def test_recommendation_keeps_every_layer_on_the_gpu_with_experts_in_ram(shapes, name, gib):
    m = _profile(shapes[name], name)
    previous = fit.use_projector(None)
    try:
        rec = recommend_fit(nvidia(gib), [m], "0.33.0")
        old = recommend_fit(nvidia(gib), [m], "0.29.0")
    finally:
        fit.use_projector(previous)
    f = rec.fits[0]
    budget = fit.budget_for(nvidia(gib))
    assert 0 < f.n_cpu_moe < SHAPES[name].n_layer and f.vram_bytes <= budget.bytes
    fewer = fit.footprint(m, f.num_ctx, 1, "f16", True, budget, n_cpu_moe=f.n_cpu_moe - 1)
    assert fewer.total > budget.bytes  # the smallest N that fits
    why = next(r for r in rec.reasons if r.setting == f"{name}: MoE experts")
    assert why.value == f"{f.n_cpu_moe} of {SHAPES[name].n_layer} layers in RAM"
    k = fit.whole_layers_that_fit(m, budget, f.num_ctx, True)
    assert 0 < k < SHAPES[name].n_layer  # the alternative: k whole layers on the GPU
    assert f"rather than only {k} of {SHAPES[name].n_layer} whole layers" in why.why
    assert "nothing to set" in why.why
    assert "LLAMA_ARG_N_CPU_MOE" not in rec.env and not rec.warnings
    assert as_json_summary(rec)["models"][name]["n_cpu_moe"] == f.n_cpu_moe
    old_why = next(r for r in old.reasons if r.setting == f"{name}: MoE experts")
    assert "Ollama < 0.30 offloads whole layers" in old_why.why


def test_a_dense_model_too_big_still_gets_the_split_warning(tmp_path):
    w = write_shape(SHAPES["qwen25-14b"], tmp_path / "q.gguf")
    previous = fit.use_projector(None)
    try:
        rec = recommend_fit(nvidia(4), [_profile(w, "qwen2.5:14b")], "0.33.0")
    finally:
        fit.use_projector(previous)
    assert rec.fits[0].n_cpu_moe == 0 and "split with the CPU" in rec.warnings[0]


def test_a_picked_gguf_keeps_its_path_and_tensors(shapes, tmp_path):
    w = shapes["gpt-oss-20b"]
    m = load_model_file(w.path)
    assert m.model_path == w.path and m.shape is not None and m.shape.is_moe
    named = load_model_info_file(f"gpt-oss:20b={w.path}")
    assert named.name == "gpt-oss:20b" and named.model_path == w.path
    assert fit.local_model_file(named) == w.path  # so llama.cpp's projection is used
    js = tmp_path / "show.json"
    js.write_text(
        json.dumps({"model_info": {"general.architecture": "llama", "llama.block_count": 2}})
    )
    assert load_model_info_file(f"x={js}").model_path is None


def _header(n_tensors: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, 0)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 1 << 20), tail=st.binary(max_size=512))
def test_tensor_reader_never_crashes_on_hostile_bytes(tmp_path_factory, n, tail):
    p = tmp_path_factory.mktemp("h") / "x.gguf"
    p.write_bytes(_header(n) + tail)
    try:
        tensors = read_gguf_tensors(p)
    except NotGGUF as exc:
        assert str(exc)
    else:
        assert len(tensors) == n <= 64 and all(1 <= len(t["shape"]) <= 4 for t in tensors)


def test_tensor_reader_reads_what_was_written(tmp_path):
    w = write_shape(SHAPES["tiny-llama"], tmp_path / "t.gguf")
    got = read_gguf_tensors(w.path)
    assert [(t["name"], tuple(t["shape"]), t["type"]) for t in got] == [
        (n, d, ty) for n, d, ty in w.tensors
    ]
