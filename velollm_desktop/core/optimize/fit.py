"""Memory fit: weights + KV cache + compute buffer + overhead, against the GPU budget.

KV cache = ctx · parallel · Σ_layers (key_length + value_length) · head_count_kv · bytes per
element — for a uniform model 2 · layers · kv_heads · head_dim · ctx · parallel · bpe — with
bpe 2 (f16), 34/32 (q8_0) or 18/32 (q4_0), the exact ggml block sizes.
Compute buffer: Ollama's llama graph estimate, b = min(ctx, batch):
max(4·b·(1 + 4E + ctx_total·(1 + H)), 4·b·(E + vocab)); with flash attention the attention
scores are never materialised, so the ctx·H term is dropped.
Overhead: 457 MiB per GPU (Ollama's MinimumMemory; 512 MiB on Metal).
Margin: 1024 MiB kept free (llama.cpp's default LLAMA_ARG_FIT_TARGET).
"""

from __future__ import annotations

from dataclasses import dataclass

from velollm_desktop.core.hardware.apple import gpu_working_set_mib
from velollm_desktop.core.hardware.model import GpuVendor, HardwareSpec
from velollm_desktop.core.optimize.models import ModelProfile

MIB = 1024 * 1024
KV_BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
MINIMUM_MEMORY = 457 * MIB
MINIMUM_MEMORY_METAL = 512 * MIB
FIT_MARGIN = 1024 * MIB
DEFAULT_BATCH = 512
CTX_CANDIDATES = (262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048)


@dataclass(frozen=True)
class Budget:
    """Memory a model may use entirely on the accelerator (or in RAM when CPU-only), bytes."""

    bytes: int
    device: str
    """"gpu", "unified" or "cpu"."""
    metal: bool = False
    flash_attention_ok: bool = True
    description: str = ""


@dataclass(frozen=True)
class Footprint:
    """Estimated memory of one model at one setting, bytes."""

    weights: int
    kv_cache: int
    compute: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute + self.overhead


def flash_attention_supported(spec: HardwareSpec) -> bool:
    """Ollama's rule: CPU, Metal, ROCm, Vulkan, or CUDA with compute capability ≥ 6.0 except 7.2."""
    for g in spec.gpus:
        if g.vendor is GpuVendor.NVIDIA:
            try:
                cc = float(g.compute_capability or "0")
            except ValueError:
                return False
            if cc < 6.0 or abs(cc - 7.2) < 1e-6:
                return False
    return True


def budget_for(spec: HardwareSpec) -> Budget:
    """What one model can use: the largest discrete GPU's free VRAM, unified memory's GPU
    share, or available RAM on a CPU-only machine — minus the fit margin."""
    fa = flash_attention_supported(spec)
    discrete = [
        g for g in spec.gpus if not g.unified_memory and not g.integrated and g.vram_total_mib
    ]
    if discrete:
        best = max(
            discrete,
            key=lambda g: g.vram_free_mib if g.vram_free_mib is not None else g.vram_total_mib,
        )
        free = best.vram_free_mib if best.vram_free_mib is not None else best.vram_total_mib
        return Budget(
            int(free) * MIB - FIT_MARGIN,
            "gpu",
            False,
            fa,
            f"{best.name}: {free} MiB free of {best.vram_total_mib} MiB, minus {FIT_MARGIN // MIB} MiB margin",
        )
    unified = [g for g in spec.gpus if g.unified_memory and g.vram_total_mib]
    if unified:
        share = gpu_working_set_mib(unified[0].vram_total_mib)
        return Budget(
            share * MIB - FIT_MARGIN,
            "unified",
            True,
            fa,
            f"{unified[0].name}: {share} MiB of {unified[0].vram_total_mib} MiB unified memory usable by the GPU,"
            f" minus {FIT_MARGIN // MIB} MiB margin",
        )
    avail = spec.memory.available_mib
    return Budget(
        int(avail * 0.85) * MIB, "cpu", False, True, f"CPU only: 85 % of {avail} MiB available RAM"
    )


def kv_cache_bytes(m: ModelProfile, ctx: int, parallel: int, kv_type: str = "f16") -> int:
    """KV cache bytes for `ctx` tokens per slot × `parallel` slots."""
    bpe = KV_BYTES_PER_ELEMENT[kv_type]
    per_token = sum((m.key_length + m.value_length) * kv for kv in m.head_count_kv) * bpe
    return int(per_token * ctx * parallel)


def compute_bytes(
    m: ModelProfile, ctx: int, parallel: int, flash_attention: bool, batch: int = DEFAULT_BATCH
) -> int:
    """Compute (graph) buffer estimate in bytes."""
    ctx_total = ctx * parallel
    b = min(ctx_total, batch)
    attn = 0 if flash_attention else ctx_total * (1 + m.head_count)
    return max(
        4 * b * (1 + 4 * m.embedding_length + attn), 4 * b * (m.embedding_length + m.vocab_size)
    )


def footprint(
    m: ModelProfile, ctx: int, parallel: int, kv_type: str, flash_attention: bool, budget: Budget
) -> Footprint:
    """Estimated memory of `m` at this setting."""
    overhead = MINIMUM_MEMORY_METAL if budget.metal else MINIMUM_MEMORY
    if budget.device == "cpu":
        overhead = 0
    return Footprint(
        m.weights_bytes,
        kv_cache_bytes(m, ctx, parallel, kv_type),
        compute_bytes(m, ctx, parallel, flash_attention),
        overhead,
    )


def max_context(
    m: ModelProfile,
    budget: Budget,
    *,
    parallel: int = 1,
    kv_type: str = "f16",
    flash_attention: bool = True,
    cap: int = 32768,
) -> int | None:
    """The largest candidate context (≤ trained, ≤ cap) that fits entirely; `None` if none does."""
    for ctx in CTX_CANDIDATES:
        if ctx > min(m.context_length, cap):
            continue
        if footprint(m, ctx, parallel, kv_type, flash_attention, budget).total <= budget.bytes:
            return ctx
    return None
