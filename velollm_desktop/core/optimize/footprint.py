"""Memory footprint of one model at one setting: llama.cpp's rules as a formula.

Everything here follows what llama.cpp allocates (paths are in ggml-org/llama.cpp):

- **Context size.** `-c` is the total for all slots; `src/llama-context.cpp` pads it to 256 and,
  with the default non-unified cache, gives each of the `-np` slots its own stream of
  `pad(n_ctx / n_seq, 256)` cells. Ollama passes `-c num_ctx·np -np np`, so a slot keeps
  `pad(num_ctx, 256)` cells.
- **Sliding-window layers.** `src/llama-hparams.cpp set_swa_pattern(n, dense_first)`: layer `il`
  is SWA when `il % n < n - 1` (or `il % n != 0` when dense comes first). The pattern per
  architecture is in `src/models/<arch>.cpp` (gemma2 2, gemma3 6, gpt-oss 2, cohere2 4, llama4
  4 chunked); the GGUF key `<arch>.attention.sliding_window_pattern` overrides it (a number or
  a per-layer bool array). `src/llama-kv-cache-iswa.cpp`: an SWA layer keeps
  `pad(min(cells per slot, n_swa + n_ubatch), 256)` cells per slot.
- **KV bytes.** Per layer `cells × (head_count_kv[il]·key_length + head_count_kv[il]·value_length)
  × bytes per element` (f16 2, q8_0 34/32, q4_0 18/32; `src/llama-kv-cache.cpp`).
- **Compute buffer** (`sched_reserve` in `src/llama-context.cpp`: one `n_ubatch` graph, the
  allocator reuses memory, so the peak is the larger of two phases):
  output `4·ub·(n_vocab + n_embd + n_ff_active)` (f32 logits of every token in the ubatch)
  plus the masks; attention without flash attention `4·ub·(n_head + 1)·n_kv + 28·ub·n_embd`
  (the f32 KQ scores of the largest layer's window). Within 7 % of `llama-fit-params`' compute
  buffer (0.2 % of the total) on 6 real shapes; see docs/BENCHMARKS.md.
- **Weights on the GPU** (`-ngl 999`): every tensor except `token_embd`, which stays in host
  memory; a model with tied embeddings gets a GPU copy of it as its output matrix.
- **MoE expert offload** (`--n-cpu-moe N`, footprint_moe.py): the expert tensors of layers
  0 … N-1 stay in host memory; the rest of those layers and their KV cache stay on the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.optimize import footprint_moe as moe

MIB = 1024 * 1024
KV_BYTES_PER_ELEMENT = {
    "f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q5_1": 24 / 32, "q5_0": 22 / 32,
    "q4_1": 20 / 32, "q4_0": 18 / 32, "iq4_nl": 18 / 32,
}  # fmt: skip
"""Bytes per element of the cache types llama.cpp accepts for -ctk/-ctv (ggml block sizes)."""
METHOD_LLAMACPP = "llama.cpp projection"
METHOD_FORMULA = "formula"
# arch → (n_pattern, dense_first, default window, needs a sliding_window key > 0)
SWA_RULES: dict[str, tuple[int, bool, int, bool]] = {
    "gemma2": (2, False, 4096, False),
    "gemma3": (6, False, 0, True),
    "gpt-oss": (2, False, 0, True),
    "cohere2": (4, False, 0, True),
    "cohere2moe": (4, True, 0, True),
    "llama4": (4, False, 8192, False),
}
BITS_PER_WEIGHT_FALLBACK = 4.85
TIED_BY_DEFAULT = ("gemma",)
"""Without a tensor list: families whose GGUFs have no separate output.weight."""
# ggml type name → (elements per block, bytes per block), ggml/src/ggml.c type_traits
GGML_BLOCKS = {
    "F32": (1, 4),
    "F16": (1, 2),
    "BF16": (1, 2),
    "Q4_0": (32, 18),
    "Q4_1": (32, 20),
    "Q5_0": (32, 22),
    "Q5_1": (32, 24),
    "Q8_0": (32, 34),
    "Q2_K": (256, 84),
    "Q3_K": (256, 110),
    "Q4_K": (256, 144),
    "Q5_K": (256, 176),
    "Q6_K": (256, 210),
    "MXFP4": (32, 17),
}


@dataclass(frozen=True)
class FitSettings:
    """One candidate server setting, in Ollama's terms (context per slot)."""

    ctx_per_slot: int
    parallel: int = 1
    kv_type: str = "f16"
    flash_attention: bool = True
    ubatch: int = 512
    device: str = "gpu"
    """"gpu" (discrete, token embeddings stay in RAM), "unified" or "cpu"."""
    n_cpu_moe: int = 0
    """`--n-cpu-moe`: the expert tensors of the first N layers stay in host memory."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one model needs at one setting, and what computed them."""

    weights_bytes: int
    kv_bytes: int
    compute_bytes: int
    method: str
    """METHOD_LLAMACPP or METHOD_FORMULA."""
    detail: str = ""
    host_bytes: int = 0
    """Weights kept in host memory beside the budget's (token embeddings, offloaded experts)."""

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.compute_bytes


@dataclass(frozen=True)
class ModelShape:
    """What the formula needs, read from GGUF metadata (or /api/show's model_info)."""

    architecture: str
    n_layer: int
    n_embd: int
    n_head: int
    head_count_kv: tuple[int, ...]
    key_length: int
    value_length: int
    n_vocab: int
    n_ff: int
    weights_bytes: int
    token_embd_bytes: int
    tied_output: bool = False
    n_expert_used: int = 0
    n_ff_exp: int = 0
    sliding_window: int = 0
    swa_layers: tuple[bool, ...] = ()
    key_length_swa: int = 0
    value_length_swa: int = 0
    expert_bytes: tuple[int, ...] = ()
    """Per layer: bytes of the MoE expert tensors (`--n-cpu-moe` moves them); () when dense."""

    @property
    def is_moe(self) -> bool:
        return any(self.expert_bytes)

    @property
    def n_ff_active(self) -> int:
        """FFN width one token goes through (experts used × expert width for MoE)."""
        return max(self.n_ff, self.n_expert_used * self.n_ff_exp)


def _int(v: Any, default: int = 0) -> int:
    """A metadata number as a non-negative int (max of an array); `default` when it is none."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return max(v, 0)
    if isinstance(v, float):
        return max(int(v), 0) if math.isfinite(v) else default
    if isinstance(v, Sequence) and not isinstance(v, str) and len(v):
        items = [_int(x, -1) for x in v if isinstance(x, (int, float))]
        return max(items) if items and max(items) >= 0 else default
    return default


def _per_layer(v: Any, n: int, default: int) -> tuple[int, ...]:
    if isinstance(v, Sequence) and not isinstance(v, str) and len(v) == n:
        return tuple(_int(x, default) for x in v)
    return (_int(v, default),) * n


def swa_layers_for(
    arch: str, n_layer: int, meta: Mapping[str, Any]
) -> tuple[int, tuple[bool, ...]]:
    """(window, per-layer SWA flags) by llama.cpp's rule for `arch`; (0, ()) when none."""
    rule = SWA_RULES.get(arch)
    if rule is None:
        return 0, ()
    n_pattern, dense_first, default_window, needs_key = rule
    window = _int(meta.get(f"{arch}.attention.sliding_window"), default_window)
    if arch == "llama4" and window:
        window = default_window  # src/models/llama4.cpp: any non-zero key means 8192 chunks
    if window <= 0 or (needs_key and f"{arch}.attention.sliding_window" not in meta):
        return 0, ()
    pattern = meta.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, Sequence) and not isinstance(pattern, str) and len(pattern) == n_layer:
        return window, tuple(bool(x) for x in pattern)
    n = _int(pattern, n_pattern)
    if dense_first:
        return window, tuple(n == 0 or il % n != 0 for il in range(n_layer))
    return window, tuple(n == 0 or il % n < n - 1 for il in range(n_layer))


def shape_from_metadata(
    meta: Mapping[str, Any],
    weights_bytes: int,
    tensors: Sequence[Mapping[str, Any]] | None = None,
) -> ModelShape:
    """Interpret GGUF keys (the same names /api/show returns in model_info).

    `tensors` (/api/show verbose: name, type, shape) gives the exact token-embedding size and
    whether the output matrix is tied; without it they are estimated from the bits per weight.
    Raises ValueError when the layer count or width is missing.
    """
    arch = str(meta.get("general.architecture") or "llama")

    def key(k: str, default: Any = None) -> Any:
        return meta.get(f"{arch}.{k}", default)

    n_layer = _int(key("block_count"))
    n_embd = _int(key("embedding_length"))
    if n_layer <= 0 or n_embd <= 0 or n_layer > 4096 or n_embd > 1 << 20:
        raise BadInput(f"{arch}: block_count / embedding_length missing or implausible")
    n_head = max(1, _int(key("attention.head_count"), 32))
    if n_head > 1 << 14:
        raise BadInput(f"{arch}: implausible attention.head_count {n_head}")
    head_dim = n_embd // n_head
    n_vocab = _int(key("vocab_size")) or _vocab_len(meta.get("tokenizer.ggml.tokens")) or 32000
    window, swa = swa_layers_for(arch, n_layer, meta)
    embd, tied = _token_embd(tensors, meta, n_vocab * n_embd, weights_bytes)
    experts = _expert_bytes(tensors, meta, arch, n_layer, n_embd, weights_bytes)
    return _checked(
        ModelShape(
            architecture=arch,
            n_layer=n_layer,
            n_embd=n_embd,
            n_head=n_head,
            head_count_kv=_per_layer(key("attention.head_count_kv", n_head), n_layer, n_head),
            key_length=_int(key("attention.key_length"), head_dim),
            value_length=_int(key("attention.value_length"), head_dim),
            n_vocab=n_vocab,
            n_ff=_int(key("feed_forward_length")),
            weights_bytes=int(weights_bytes),
            token_embd_bytes=embd,
            tied_output=tied,
            n_expert_used=_int(key("expert_used_count")),
            n_ff_exp=_int(key("expert_feed_forward_length")),
            sliding_window=window,
            swa_layers=swa,
            key_length_swa=_int(key("attention.key_length_swa")),
            value_length_swa=_int(key("attention.value_length_swa")),
            expert_bytes=experts,
        )
    )


def _checked(shape: ModelShape) -> ModelShape:
    """Reject sizes no model has (a corrupt or hostile header), instead of computing with them."""
    sizes = {
        "head_count_kv": max(shape.head_count_kv),
        "key_length": max(shape.key_length, shape.key_length_swa),
        "value_length": max(shape.value_length, shape.value_length_swa),
        "vocab_size": shape.n_vocab,
        "feed_forward_length": max(shape.n_ff, shape.n_ff_exp),
        "expert_used_count": shape.n_expert_used,
        "sliding_window": shape.sliding_window,
    }
    for name, value in sizes.items():
        if value > 1 << 24:
            raise BadInput(f"{shape.architecture}: implausible {name} {value}")
    if shape.weights_bytes < 0 or shape.weights_bytes > 1 << 50:
        raise BadInput(f"implausible model size {shape.weights_bytes} bytes")
    if sum(shape.expert_bytes) > max(shape.weights_bytes, 0):
        shape = replace(shape, expert_bytes=())  # a tensor list that is not this file's
    return shape


def _expert_bytes(
    tensors: Sequence[Mapping[str, Any]] | None,
    meta: Mapping[str, Any],
    arch: str,
    n_layer: int,
    n_embd: int,
    weights_bytes: int,
) -> tuple[int, ...]:
    """Per-layer expert bytes: exact from the tensor list, else from the expert shape."""
    if tensors:
        exact = moe.expert_bytes_from_tensors(tensors, n_layer, GGML_BLOCKS)
        if exact is not None:
            return exact
    n_expert = _int(meta.get(f"{arch}.expert_count"))
    n_ff_exp = _int(meta.get(f"{arch}.expert_feed_forward_length"))
    params = _int(meta.get("general.parameter_count"))
    bpw = 8 * weights_bytes / params if params > 0 and weights_bytes else BITS_PER_WEIGHT_FALLBACK
    return moe.expert_bytes_estimate(n_layer, n_embd, min(n_expert, 1 << 12), n_ff_exp, bpw)


def _vocab_len(tokens: Any) -> int:
    try:
        return len(tokens) if tokens is not None else 0
    except TypeError:
        return 0


def _token_embd(
    tensors: Sequence[Mapping[str, Any]] | None,
    meta: Mapping[str, Any],
    n_elements: int,
    weights_bytes: int,
) -> tuple[int, bool]:
    """(token_embd bytes, tied output) from the tensor list, else from bits per weight."""
    params = _int(meta.get("general.parameter_count"))
    bpw = 8 * weights_bytes / params if params > 0 and weights_bytes else BITS_PER_WEIGHT_FALLBACK
    estimate = int(n_elements * bpw / 8)
    if not tensors:
        return estimate, str(meta.get("general.architecture", "")).startswith(TIED_BY_DEFAULT)
    by_name = {str(t.get("name")): t for t in tensors if isinstance(t, Mapping)}
    embd: Mapping[str, Any] = by_name.get("token_embd.weight") or {}
    block = GGML_BLOCKS.get(str(embd.get("type", "")).upper())
    dims = embd.get("shape")
    exact = estimate
    if block and isinstance(dims, Sequence) and not isinstance(dims, str) and len(dims) <= 4:
        n = 1
        for d in dims:
            n *= min(_int(d, 1), 1 << 32)
        exact = n // block[0] * block[1]
    return min(exact, max(weights_bytes, 0)), "output.weight" not in by_name


def _cells(ctx_per_slot: int) -> int:
    return -(-max(ctx_per_slot, 1) // 256) * 256


def kv_bytes(shape: ModelShape, s: FitSettings) -> int:
    """KV cache bytes: full layers keep every cell, sliding-window layers their window."""
    bpe = KV_BYTES_PER_ELEMENT[s.kv_type]
    full = _cells(s.ctx_per_slot)
    swa = min(full, _cells(shape.sliding_window + s.ubatch)) if shape.sliding_window else full
    total = 0.0
    for il, kv_heads in enumerate(shape.head_count_kv):
        is_swa = il < len(shape.swa_layers) and shape.swa_layers[il]
        k = shape.key_length_swa if is_swa and shape.key_length_swa else shape.key_length
        v = shape.value_length_swa if is_swa and shape.value_length_swa else shape.value_length
        total += (swa if is_swa else full) * kv_heads * (k + v) * bpe
    return int(total * s.parallel)


def compute_bytes(shape: ModelShape, s: FitSettings) -> int:
    """Compute (graph) buffer: the larger of the output phase and the attention phase."""
    ub = min(s.ubatch, _cells(s.ctx_per_slot) * s.parallel)
    n_kv = _cells(s.ctx_per_slot)
    if shape.swa_layers and all(shape.swa_layers):
        n_kv = min(n_kv, _cells(shape.sliding_window + s.ubatch))
    mask = (2 if s.flash_attention else 4) * ub * n_kv
    output = 4 * ub * (shape.n_vocab + shape.n_embd + shape.n_ff_active) + mask
    if s.flash_attention:
        return int(output)
    attention = 4 * ub * (shape.n_head + 1) * n_kv + 28 * ub * shape.n_embd
    return int(max(output, attention))


def weights_on_device(shape: ModelShape, device: str) -> int:
    """Weight bytes in the budget's memory. A discrete GPU leaves token_embd in RAM (a tied
    output matrix is a GPU copy of it, so nothing is saved); on the CPU a tied output gets
    its own repacked copy (llama.cpp's CPU_REPACK buffer on x86/ARM)."""
    if device == "gpu" and not shape.tied_output:
        return max(shape.weights_bytes - shape.token_embd_bytes, 0)
    if device == "cpu" and shape.tied_output:
        return shape.weights_bytes + shape.token_embd_bytes
    return shape.weights_bytes


def formula_estimate(shape: ModelShape, s: FitSettings) -> MemoryEstimate:
    """The formula's estimate (no llama.cpp needed); with `n_cpu_moe` the offloaded experts
    are host bytes, not the budget's."""
    swa = sum(shape.swa_layers)
    details = (
        [f"{swa} of {shape.n_layer} layers keep a {shape.sliding_window}-token window"]
        if swa
        else []
    )
    weights = weights_on_device(shape, s.device)
    host = 0
    if s.device == "gpu":
        host = shape.token_embd_bytes if not shape.tied_output else 0
        moved = moe.experts_on_host(shape.expert_bytes, s.n_cpu_moe)
        if moved:
            weights, host = weights - moved, host + moved
            n = min(s.n_cpu_moe, shape.n_layer)
            details.append(
                f"experts of {n} of {shape.n_layer} layers in RAM ({moved / MIB:.0f} MiB)"
            )
    return MemoryEstimate(
        max(weights, 0),
        kv_bytes(shape, s),
        compute_bytes(shape, s),
        METHOD_FORMULA,
        "; ".join(details),
        host,
    )
