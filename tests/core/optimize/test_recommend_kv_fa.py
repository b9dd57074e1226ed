"""A quantized KV cache is only ever recommended together with flash attention."""

from __future__ import annotations

import itertools

import pytest

from tests.core.optimize.profiles import PROFILES, cpu_only, model
from velollm_desktop.core.optimize.recommend import recommend_fit

VERSIONS = (None, "0.5.7", "0.12.10", "0.13.4", "0.24.1", "0.29.9", "0.30.0", "0.33.0-rc2")
MODEL_SETS = (("llama3.2-1b",), ("llama3.1-8b",), ("llama3.2-1b", "llama3.1-8b"))
HARDWARE = {**PROFILES, "cpu-4-cores-12gib": cpu_only(4, 12), "cpu-2-cores-10gib": cpu_only(2, 10)}


@pytest.mark.parametrize(
    ("version", "hw"), list(itertools.product(VERSIONS, sorted(HARDWARE))), ids=str
)
def test_quantized_kv_only_with_flash_attention(version, hw):
    for names in MODEL_SETS:
        rec = recommend_fit(HARDWARE[hw], [model(n) for n in names], version)
        if rec.env.get("OLLAMA_KV_CACHE_TYPE", "f16") != "f16":
            assert rec.env.get("OLLAMA_FLASH_ATTENTION") == "1", (version, hw, names, rec.env)
        for r in rec.reasons:  # no reason claims FA was set when it was not
            if "set above" in r.why or "(done above)" in r.why:
                assert rec.env.get("OLLAMA_FLASH_ATTENTION") == "1", r


def test_cpu_only_tight_ram_gets_q8_cache_and_flash_attention():
    # the case the bug was in: no GPU, a context limited by RAM → q8_0 buys context
    rec = recommend_fit(cpu_only(2, 10), [model("llama3.1-8b")], "0.29.9")
    assert rec.env.get("OLLAMA_KV_CACHE_TYPE") == "q8_0"
    assert rec.env["OLLAMA_FLASH_ATTENTION"] == "1"
    why = next(r.why for r in rec.reasons if r.setting == "OLLAMA_FLASH_ATTENTION")
    assert "quantized KV cache" in why


def test_keep_alive_rule_is_in_gib_of_reported_total():
    # 32 GiB = 32768 MiB reported → 30m; 32 GB sold (= 29.8 GiB reported) → 10m
    assert recommend_fit(cpu_only(4, 32), [], "0.33.0").env["OLLAMA_KEEP_ALIVE"] == "30m"
    spec = cpu_only(4, 32)
    small = type(spec.memory)(30517, 28000, 2048)
    from dataclasses import replace

    rec = recommend_fit(replace(spec, memory=small), [], "0.33.0")
    assert rec.env["OLLAMA_KEEP_ALIVE"] == "10m"
    assert "29.8 GiB total RAM" in next(
        r.why for r in rec.reasons if r.setting == "OLLAMA_KEEP_ALIVE"
    )
