"""The memory fit against llama.cpp's own projection, on sparse GGUFs of real model shapes.

Every shape is written with its real metadata and tensor list (tests/gguf_shapes.py) and
projected by the installed llama-fit-params on this CPU; the formula must land within ±10 %
of llama.cpp's total, the llama.cpp path within ±2 % of the tensors' real bytes and KV cells.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.core.optimize.profiles import nvidia
from tests.gguf_shapes import SHAPES, Shape, Written, write_shape
from velollm_desktop.core.llamacpp.binaries import find_program
from velollm_desktop.core.llamacpp.gguf import read_gguf
from velollm_desktop.core.optimize import fit
from velollm_desktop.core.optimize.footprint import (
    METHOD_FORMULA,
    METHOD_LLAMACPP,
    MIB,
    FitSettings,
    formula_estimate,
    kv_bytes,
    shape_from_metadata,
)
from velollm_desktop.core.optimize.footprint_llamacpp import Projector
from velollm_desktop.core.optimize.models import profile_from_show
from velollm_desktop.core.optimize.recommend import recommend_fit

REAL = ["llama31-8b", "qwen25-14b", "gemma3-27b", "qwen3-30b-a3b", "gpt-oss-20b"]
CASES = [
    FitSettings(4096, 1, "f16", True, device="cpu"),
    FitSettings(8192, 4, "f16", False, device="cpu"),
    FitSettings(32768, 1, "q8_0", True, device="cpu"),
    FitSettings(16384, 2, "q8_0", True, device="cpu"),
    FitSettings(32768, 1, "f16", False, device="cpu"),
]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, Written]:
    out = tmp_path_factory.mktemp("shapes")
    return {n: write_shape(SHAPES[n], out / f"{n}.gguf") for n in REAL}


@pytest.fixture(scope="module")
def projector() -> Projector:
    return Projector(find_program("llama-fit-params"))


def _expected_kv(s: Shape, st: FitSettings) -> int:
    """KV bytes by hand from the shape's definition (not from footprint.py)."""
    cells = -(-st.ctx_per_slot // 256) * 256
    bpe = {"f16": 2, "q8_0": 34 / 32}[st.kv_type]
    n_pattern = {"gemma3": 6, "gpt-oss": 2}.get(s.arch)
    total = 0.0
    for il in range(s.n_layer):
        swa = n_pattern is not None and il % n_pattern < n_pattern - 1
        n = min(cells, -(-(s.sliding_window + st.ubatch) // 256) * 256) if swa else cells
        total += n * 2 * s.n_head_kv * s.head_dim * bpe
    return int(total * st.parallel)


@pytest.mark.parametrize("name", REAL)
def test_sparse_shape_is_tiny_on_disk_and_reads_back(shapes, name):
    w = shapes[name]
    st = w.path.stat()
    assert st.st_size == w.header_bytes + w.data_bytes > 4e9  # every one is a multi-GB model
    assert st.st_blocks * 512 < 64 * MIB  # but the data region is not allocated
    g = read_gguf(w.path)
    assert g.architecture == SHAPES[name].arch and g.tensor_count == len(w.tensors)


@pytest.mark.parametrize("name", REAL)
def test_llamacpp_path_matches_the_files_tensors_and_cells(shapes, projector, name):
    w, s = shapes[name], SHAPES[name]
    for st in CASES:
        est = projector.estimate(w.path, st)
        assert est.method == METHOD_LLAMACPP
        weights = w.data_bytes + (w.bytes_of("token_embd.weight") if s.tied_output else 0)
        assert est.weights_bytes == pytest.approx(weights, rel=0.02), st
        assert est.kv_bytes == pytest.approx(_expected_kv(s, st), rel=0.02, abs=MIB), st


@pytest.mark.parametrize("name", REAL)
def test_formula_within_10_percent_of_llamacpp(shapes, projector, name):
    w = shapes[name]
    g = read_gguf(w.path)
    shape = shape_from_metadata(g.metadata, g.file_size_bytes)
    for st in CASES:
        truth = projector.estimate(w.path, st)
        est = formula_estimate(shape, st)
        assert est.method == METHOD_FORMULA
        assert est.total_bytes == pytest.approx(truth.total_bytes, rel=0.10), st
        # the parts, not only the sum: KV is exact, compute close
        assert est.kv_bytes == pytest.approx(truth.kv_bytes, rel=0.01, abs=MIB), st
        assert est.compute_bytes == pytest.approx(truth.compute_bytes, rel=0.10, abs=MIB), st


def test_projector_caches_by_file_settings_and_version(shapes, tmp_path):
    path = shapes["llama31-8b"].path
    cache = tmp_path / "fit-cache.json"
    p = Projector(find_program("llama-fit-params"), cache)
    a = p.estimate(path, CASES[0])
    assert p.estimate(path, CASES[0]) == a and p.runs == 1
    p.estimate(path, CASES[1])
    assert p.runs == 2
    again = Projector(find_program("llama-fit-params"), cache)  # a new process: from disk
    assert again.estimate(path, CASES[0]) == a and again.runs == 0
    assert p.version() in cache.read_text()


def test_gemma3_27b_gets_the_context_that_really_fits_a_24gb_card(shapes):
    """The issue's case: Gemma 3 keeps a 1024-token window on 5 of 6 layers."""
    w = shapes["gemma3-27b"]
    g = read_gguf(w.path)
    m = profile_from_show("gemma3:27b", {"model_info": g.metadata}, g.file_size_bytes)
    previous = fit.use_projector(None)
    try:
        rec = recommend_fit(nvidia(24), [m], "0.33.0")
    finally:
        fit.use_projector(previous)
    f = rec.fits[0]
    assert f.fits_on_gpu and f.num_ctx == 32768 and f.method == METHOD_FORMULA
    every_layer = 62 * 32768 * 2 * 16 * 128 * 2  # what a formula without windows would count
    assert f.kv_cache_bytes < every_layer / 4
    assert any("52 of 62 layers keep a 1024-token window" in r.why for r in rec.reasons)


def test_recommend_says_llamacpp_computed_it_when_the_file_is_local(shapes, projector):
    w = shapes["qwen25-14b"]
    g = read_gguf(w.path)
    m = profile_from_show("qwen2.5:14b", {"model_info": g.metadata}, g.file_size_bytes)
    m = dataclasses.replace(m, model_path=w.path)
    previous = fit.use_projector(projector)
    try:
        rec = recommend_fit(nvidia(24), [m], "0.33.0")
    finally:
        fit.use_projector(previous)
    assert rec.fits[0].method == METHOD_LLAMACPP
    assert any("llama.cpp's own projection" in r.why for r in rec.reasons)
    kv = rec.env.get("OLLAMA_KV_CACHE_TYPE", "f16")
    same = FitSettings(rec.fits[0].num_ctx, rec.fits[0].parallel, kv, True, device="gpu")
    assert rec.fits[0].kv_cache_bytes == projector.estimate(w.path, same).kv_bytes


def test_gemma3_270m_kv_is_what_llamacpp_allocates():
    """The issue's measurement: 111 MiB at 32768 (llama.cpp), not 576 MiB."""
    meta = {
        "general.architecture": "gemma3",
        "gemma3.block_count": 18,
        "gemma3.embedding_length": 640,
        "gemma3.attention.head_count": 4,
        "gemma3.attention.head_count_kv": 1,
        "gemma3.attention.key_length": 256,
        "gemma3.attention.value_length": 256,
        "gemma3.attention.sliding_window": 512,
        "gemma3.vocab_size": 262144,
    }
    shape = shape_from_metadata(meta, 290 * MIB)
    assert kv_bytes(shape, FitSettings(32768)) == 111 * MIB
    assert shape.swa_layers.count(False) == 3  # layers 5, 11, 17


@pytest.mark.parametrize(
    ("arch", "extra", "full_layers"),
    [
        ("gemma2", {}, [1, 3, 5, 7]),  # default window 4096, every 2nd layer full
        ("gpt-oss", {"gpt-oss.attention.sliding_window": 128}, [1, 3, 5, 7]),
        ("cohere2", {"cohere2.attention.sliding_window": 4096}, [3, 7]),
        ("cohere2moe", {"cohere2moe.attention.sliding_window": 4096}, [0, 4]),
        ("llama4", {}, [3, 7]),  # chunked attention, 8192 by default
        ("llama", {"llama.attention.sliding_window": 4096}, list(range(8))),  # ignored
        ("gemma3", {}, list(range(8))),  # no sliding_window key: no SWA
        (
            "gemma3",
            {
                "gemma3.attention.sliding_window": 512,
                "gemma3.attention.sliding_window_pattern": [True, False] * 4,
            },
            [1, 3, 5, 7],
        ),
    ],
)
def test_which_layers_slide_follows_llamacpp(arch, extra, full_layers):
    meta = {
        "general.architecture": arch,
        f"{arch}.block_count": 8,
        f"{arch}.embedding_length": 512,
        f"{arch}.attention.head_count": 8,
        **extra,
    }
    shape = shape_from_metadata(meta, 100 * MIB)
    flags = shape.swa_layers or (False,) * 8
    assert [i for i, s in enumerate(flags) if not s] == full_layers


def test_formula_on_gpu_leaves_untied_token_embeddings_in_ram():
    tensors = [
        {"name": "token_embd.weight", "type": "Q4_K", "shape": [4096, 128256]},
        {"name": "output.weight", "type": "Q6_K", "shape": [4096, 128256]},
    ]
    meta = {
        "general.architecture": "llama",
        "llama.block_count": 32,
        "llama.embedding_length": 4096,
        "llama.vocab_size": 128256,
    }
    shape = shape_from_metadata(meta, 4_920_000_000, tensors)
    embd = 4096 * 128256 // 256 * 144
    assert shape.token_embd_bytes == embd and not shape.tied_output
    gpu = formula_estimate(shape, FitSettings(8192, device="gpu"))
    cpu = formula_estimate(shape, FitSettings(8192, device="cpu"))
    assert cpu.weights_bytes - gpu.weights_bytes == embd


def test_metadata_without_layers_is_a_clear_error():
    with pytest.raises(ValueError, match="block_count"):
        shape_from_metadata({"general.architecture": "llama"}, 1)


def _ollama_store(root, name: str, tag: str, blob_src) -> None:
    digest = "sha256-" + "ab" * 32
    (root / "blobs").mkdir(parents=True)
    (root / "blobs" / digest).symlink_to(blob_src)
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / name / tag
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": digest.replace("-", ":")}
    manifest.write_text(json.dumps({"layers": [layer]}))


def test_an_ollama_models_blob_is_projected_by_llamacpp(shapes, projector, tmp_path, monkeypatch):
    w = shapes["llama31-8b"]
    _ollama_store(tmp_path / "models", "llama3.1", "8b", w.path)
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    g = read_gguf(w.path)
    size = w.path.stat().st_size + 12_000  # /api/tags counts the template and params layers too
    m = profile_from_show("llama3.1:8b", {"model_info": g.metadata}, size)
    previous = fit.use_projector(projector)
    try:
        assert fit.local_model_file(m) == tmp_path / "models" / "blobs" / ("sha256-" + "ab" * 32)
        est = fit.estimate(m, FitSettings(8192, device="cpu"))
        assert est.method == METHOD_LLAMACPP and est.kv_bytes == 1024 * MIB
        other = dataclasses.replace(m, weights_bytes=size * 3)  # same name, another model
        assert fit.local_model_file(other) is None
        assert fit.estimate(other, FitSettings(8192, device="cpu")).method == METHOD_FORMULA
    finally:
        fit.use_projector(previous)


def test_llamacpp_is_not_asked_about_settings_far_over_the_budget(shapes):
    # ~8.4 GiB of a dense model on a 4 GB card: nothing fits (a MoE model would be placed
    # with its experts in RAM instead: test_footprint_moe.py)
    w = shapes["qwen25-14b"]
    g = read_gguf(w.path)
    m = profile_from_show("qwen2.5:14b", {"model_info": g.metadata}, g.file_size_bytes)
    m = dataclasses.replace(m, model_path=w.path)
    counting = Projector(find_program("llama-fit-params"))
    previous = fit.use_projector(counting)
    try:
        rec = recommend_fit(nvidia(4), [m], "0.33.0")
    finally:
        fit.use_projector(previous)
    assert counting.runs == 0 and rec.fits[0].fits_on_gpu is False
    assert rec.fits[0].method == METHOD_FORMULA
    assert any("split with the CPU" in x for x in rec.warnings)
