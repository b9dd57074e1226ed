"""Golden recommendations, memory arithmetic, and the rules the fit must respect."""

from __future__ import annotations

import json

import pytest

from tests.core.optimize.make_golden import compute
from tests.core.optimize.profiles import PROFILES, model
from tests.fakes import FIXTURES
from velollm_desktop.core.optimize.catalogue import NEVER_EXISTED
from velollm_desktop.core.optimize.fit import budget_for, kv_cache_bytes
from velollm_desktop.core.optimize.recommend import (
    as_json_summary,
    recommend_fit,
    recommend_heuristic,
)


def test_golden_recommendations_for_eleven_profiles():
    golden = json.loads((FIXTURES / "optimizer_golden.json").read_text())
    assert len({k.split("/")[0] for k in golden}) >= 8
    assert compute() == golden


def test_kv_cache_formula_matches_the_textbook_form():
    m = model("llama3.1-8b")  # 32 layers, 8 KV heads, head_dim 128
    assert kv_cache_bytes(m, 8192, 1, "f16") == 2 * 32 * 8 * 128 * 8192 * 1 * 2  # = 1 GiB
    assert kv_cache_bytes(m, 8192, 2, "q8_0") == int(2 * 32 * 8 * 128 * 8192 * 2 * 34 / 32)
    assert kv_cache_bytes(m, 4096, 1, "q4_0") == int(2 * 32 * 8 * 128 * 4096 * 18 / 32)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_fitting_model_fits_its_budget_and_no_fake_vars(profile):
    spec = PROFILES[profile]
    rec = recommend_fit(
        spec, [model("llama3.2-1b"), model("llama3.1-8b"), model("llama3.1-70b")], "0.33.0"
    )
    budget = budget_for(spec).bytes
    for f in rec.fits:
        if f.num_ctx:
            assert f.vram_bytes <= budget, f
    assert not set(rec.env) & set(NEVER_EXISTED)
    if rec.env.get("OLLAMA_KV_CACHE_TYPE", "f16") != "f16":
        assert rec.env.get("OLLAMA_FLASH_ATTENTION") == "1"  # quantized KV only with FA on
    assert all(r.why for r in rec.reasons)


def test_no_flash_attention_on_compute_capability_7_2():
    rec = recommend_fit(PROFILES["nvidia-8gb-volta-xavier"], [model("llama3.1-8b")], "0.33.0")
    assert "OLLAMA_FLASH_ATTENTION" not in rec.env and "OLLAMA_KV_CACHE_TYPE" not in rec.env


def test_too_big_model_is_warned_about():
    rec = recommend_fit(PROFILES["nvidia-24gb"], [model("llama3.1-70b")], "0.33.0")
    assert rec.fits[0].fits_on_gpu is False
    assert any("split with the CPU" in w for w in rec.warnings)


def test_cpu_only_threads_are_physical_cores():
    rec = recommend_fit(PROFILES["cpu-16-cores"], [model("llama3.1-8b")], "0.33.0")
    assert rec.per_model["llama3.1-8b"]["num_thread"] == 16
    assert "OLLAMA_NUM_THREAD" not in rec.env


def test_heuristic_uses_only_real_variables():
    rec = recommend_heuristic(PROFILES["nvidia-24gb"], [model("llama3.1-8b")])
    assert rec.env == {
        "OLLAMA_NUM_PARALLEL": "4",
        "OLLAMA_CONTEXT_LENGTH": "8192",
        "OLLAMA_MAX_LOADED_MODELS": "3",
        "OLLAMA_KEEP_ALIVE": "30m",
    }
    assert rec.per_model["llama3.1-8b"] == {"num_batch": 512, "num_gpu": 999}


def test_json_summary_shape():
    s = as_json_summary(recommend_fit(PROFILES["nvidia-8gb"], [model("llama3.1-8b")], "0.33.0"))
    m = s["models"]["llama3.1-8b"]
    assert {"num_ctx", "fits_on_gpu", "vram_bytes"} <= m.keys() and isinstance(s["reasons"], list)
