"""The tuner's GPU candidates: slots with flash attention, a larger ubatch, and partial
offload (`-ngl`) sized by the optimizer's memory model when the model does not fit."""

from __future__ import annotations

from tests.core.optimize.profiles import cpu_only, model, nvidia
from velollm_desktop.core.tune.llamacpp import (
    Candidate,
    candidates_for,
    gpu_candidates,
    layers_that_fit,
    prune,
)


def test_no_gpu_no_gpu_candidates():
    assert gpu_candidates(cpu_only(8, 32), "throughput", 8, model("llama3.1-8b"), 2048) == []


def test_throughput_on_a_gpu_tries_many_slots_with_flash_attention():
    names = [c.name for c in candidates_for(nvidia(80), "throughput", 8, model("llama3.1-8b"))]
    assert "8 slots, flash-attn on" in names and "16 slots, flash-attn on" in names
    c = next(c for c in candidates_for(nvidia(80), "throughput", 8) if c.parallel == 16)
    assert c.args()[:2] == ["-np", "16"] and "-fa" in c.args()


def test_prompt_on_a_gpu_tries_a_larger_ubatch():
    cands = gpu_candidates(nvidia(24), "prompt", 1, model("llama3.1-8b"), 2048)
    ub = {c.ubatch for c in cands}
    assert ub == {1024, 2048}
    assert Candidate("x", batch=2048, ubatch=1024).args()[-4:] == ["-b", "2048", "-ub", "1024"]


def test_partial_offload_only_when_the_model_does_not_fit():
    big, small = model("llama3.1-70b"), model("llama3.1-8b")
    assert layers_that_fit(small, nvidia(24), 2048) is None  # fits whole: no -ngl candidate
    n = layers_that_fit(big, nvidia(24), 2048)
    assert n is not None and 0 < n < big.block_count
    cands = gpu_candidates(nvidia(24), "decode", 1, big, 2048)
    offload = [c for c in cands if c.gpu_layers is not None]
    assert [c.gpu_layers for c in offload] == sorted({n, n * 3 // 4}, reverse=True)
    assert offload[0].args()[-2:] == ["-ngl", str(n)]


def test_prune_sizes_partial_offload_by_its_share_of_layers():
    big = model("llama3.1-70b")
    n = layers_that_fit(big, nvidia(24), 2048)
    whole = Candidate("all layers", ctx_per_slot=2048)
    part = Candidate("part", gpu_layers=n, ctx_per_slot=2048)
    too_many = Candidate("too many", gpu_layers=big.block_count, ctx_per_slot=2048)
    keep, pruned = prune([whole, part, too_many], big, nvidia(24))
    assert keep == [part]
    assert {m.candidate.name for m in pruned} == {"all layers", "too many"}
