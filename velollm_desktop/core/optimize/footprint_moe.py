"""Mixture-of-experts placement: which bytes `--n-cpu-moe N` keeps in host memory.

llama.cpp (ggml-org/llama.cpp `common/common.h`, `llm_add_n_cpu_ffn_overrides`) turns
`--n-cpu-moe N` (`LLAMA_ARG_N_CPU_MOE`) into one tensor override per layer `il < N`:
`blk\\.<il>\\.ffn_(up|down|gate|gate_up)_(ch|)exps` → CPU buffer. The pattern is searched, so it
also takes the experts' biases (gpt-oss `ffn_*_exps.bias`). Everything else of those layers
(attention, norms, the router `ffn_gate_inp`, shared experts) stays on the GPU, and so does
their KV cache.

`--fit` (on by default, `common/fit.cpp` `common_params_fit_impl`) does the same on its own
when the whole model does not fit: for a MoE model it first measures "every layer on the GPU
with all experts in RAM"; when those dense weights fit it converts layers back to full ones
until the GPU is full, keeping the experts of the rest in RAM (and may put part of one more
layer's FFN on the GPU). Its result is therefore close to the smallest N computed here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

EXPERT_TENSOR = re.compile(r"^blk\.(\d{1,4})\.ffn_(?:up|down|gate|gate_up)_(?:ch|)exps")
"""llama.cpp's LLM_FFN_EXPS_REGEX with the layer index captured (anchored like `blk\\.N`)."""


def tensor_bytes(t: Mapping[str, Any], blocks: Mapping[str, tuple[int, int]]) -> int | None:
    """Bytes of one tensor of a /api/show-style list ({name, type, shape}); None if unknown."""
    block = blocks.get(str(t.get("type", "")).upper())
    dims = t.get("shape")
    if block is None or not isinstance(dims, Sequence) or isinstance(dims, str) or len(dims) > 4:
        return None
    n = 1
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int) or d < 0 or d > 1 << 32:
            return None
        n *= d
    return n // block[0] * block[1]


def expert_bytes_from_tensors(
    tensors: Sequence[Mapping[str, Any]], n_layer: int, blocks: Mapping[str, tuple[int, int]]
) -> tuple[int, ...] | None:
    """Per-layer bytes of the expert tensors; None when the list has none or an unknown type."""
    per_layer = [0] * n_layer
    found = False
    for t in tensors:
        if not isinstance(t, Mapping):
            continue
        m = EXPERT_TENSOR.match(str(t.get("name", "")))
        if m is None:
            continue
        il, size = int(m.group(1)), tensor_bytes(t, blocks)
        if size is None or il >= n_layer:
            return None
        per_layer[il] += size
        found = True
    return tuple(per_layer) if found else None


def expert_bytes_estimate(
    n_layer: int, n_embd: int, n_expert: int, n_ff_exp: int, bits_per_weight: float
) -> tuple[int, ...]:
    """Without a tensor list: gate, up and down of every expert at the file's bits per weight."""
    if n_expert <= 0 or n_ff_exp <= 0:
        return ()
    per_layer = int(3 * n_expert * n_embd * n_ff_exp * bits_per_weight / 8)
    return (per_layer,) * n_layer


def experts_on_host(expert_bytes: Sequence[int], n_cpu_moe: int) -> int:
    """Bytes `--n-cpu-moe n_cpu_moe` keeps in RAM (the experts of layers 0 … N-1)."""
    return sum(expert_bytes[: max(n_cpu_moe, 0)])
