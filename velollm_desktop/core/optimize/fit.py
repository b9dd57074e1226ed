"""Memory fit: weights + KV cache + compute buffer + overhead, against the GPU budget.

The bytes come from one of two methods (core/optimize/footprint*.py):
- **llama.cpp projection**: when llama-fit-params is installed and the model file is local (a
  `.gguf`, or the blob of an Ollama model), llama.cpp itself projects the footprint of the exact
  setting (`-c -np -ctk/-ctv -fa -ngl`); exact by construction.
- **formula**: llama.cpp's rules written out (sliding-window layers, per-layer KV heads, MoE,
  logits buffer, attention scores without flash attention); see footprint.py.
Overhead: 457 MiB per GPU (Ollama's MinimumMemory; 512 MiB on Metal; the CUDA context measured
200–475 MiB on an H100). Margin: 1024 MiB kept free (llama.cpp's default LLAMA_ARG_FIT_TARGET).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path

from velollm_desktop.core.hardware.apple import gpu_working_set_mib
from velollm_desktop.core.hardware.model import GpuVendor, HardwareSpec
from velollm_desktop.core.ollama import store as ollama_store
from velollm_desktop.core.optimize import footprint as fp
from velollm_desktop.core.optimize.footprint import (
    KV_BYTES_PER_ELEMENT,  # noqa: F401 - re-exported: callers import it from here
    METHOD_FORMULA,
    MIB,
    FitSettings,
    MemoryEstimate,
    ModelShape,
)
from velollm_desktop.core.optimize.footprint_llamacpp import (
    FitParamsError,
    Projector,
    find_projector,
)
from velollm_desktop.core.optimize.models import ModelProfile
from velollm_desktop.core.settings import data_dir

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
    method: str = METHOD_FORMULA
    """Which method computed weights / KV / compute: "llama.cpp projection" or "formula"."""
    detail: str = ""
    host_weights: int = 0
    """Weights in host memory beside these (token embeddings, experts kept on the CPU)."""
    n_cpu_moe: int = 0
    """Layers whose MoE experts stay in host memory (`--n-cpu-moe`)."""

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
    discrete = spec.discrete_gpus
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


def shape_of(m: ModelProfile) -> ModelShape:
    """The model's shape: the one read from its metadata, else built from the profile's fields."""
    shape = getattr(m, "shape", None)
    if isinstance(shape, ModelShape):
        return shape
    return ModelShape(
        architecture=m.architecture,
        n_layer=m.block_count,
        n_embd=m.embedding_length,
        n_head=m.head_count,
        head_count_kv=m.head_count_kv,
        key_length=m.key_length,
        value_length=m.value_length,
        n_vocab=m.vocab_size,
        n_ff=0,
        weights_bytes=m.weights_bytes,
        token_embd_bytes=int(m.vocab_size * m.embedding_length * fp.BITS_PER_WEIGHT_FALLBACK / 8),
        tied_output=m.architecture.startswith(fp.TIED_BY_DEFAULT),
    )


def kv_cache_bytes(m: ModelProfile, ctx: int, parallel: int, kv_type: str = "f16") -> int:
    """KV cache bytes for `ctx` tokens per slot × `parallel` slots (sliding windows counted)."""
    return fp.kv_bytes(shape_of(m), FitSettings(ctx, parallel, kv_type))


def compute_bytes(
    m: ModelProfile, ctx: int, parallel: int, flash_attention: bool, batch: int = DEFAULT_BATCH
) -> int:
    """Compute (graph) buffer estimate in bytes."""
    return fp.compute_bytes(shape_of(m), FitSettings(ctx, parallel, "f16", flash_attention, batch))


PROJECTION_CACHE = "fit-projection-cache.json"
_AUTO = object()
_projector_lock = threading.Lock()
_projector: object = _AUTO


def use_projector(projector: Projector | None) -> object:
    """Set the llama.cpp projector (None: formula only); returns the previous one."""
    global _projector
    with _projector_lock:
        previous, _projector = _projector, projector
    return previous


def current_projector() -> Projector | None:
    """The projector in use: found on first use (llama-fit-params next to llama-server)."""
    global _projector  # noqa: PLW0603 - one process-wide projector, found once under the lock
    with _projector_lock:
        if _projector is _AUTO:
            _projector = find_projector(cache_path=data_dir() / PROJECTION_CACHE)
        return _projector if isinstance(_projector, Projector) else None


def local_model_file(m: ModelProfile) -> Path | None:
    """The model's GGUF on this machine: its own path, else the Ollama blob of that name
    (only when its size fits the size Ollama reported, so a remote server's different model
    of the same name is not mistaken for it)."""
    path = getattr(m, "model_path", None)
    if path is not None and Path(path).is_file():
        return Path(path)
    try:
        blob = ollama_store.resolve(m.name)
        size = blob.stat().st_size
    except (ollama_store.OllamaModelNotFound, OSError):
        return None
    # Ollama's size counts every layer (a vision projector too): the weights blob is ≤ it
    return blob if m.weights_bytes and 0.7 <= size / m.weights_bytes <= 1.02 else None


def estimate(m: ModelProfile, s: FitSettings, over_bytes: int | None = None) -> MemoryEstimate:
    """llama.cpp's projection when it can be had, else the formula (whose detail says why).

    With `over_bytes`, llama.cpp is not asked when the formula already exceeds it by more than
    15 % (the formula is within 1 % of llama.cpp on real shapes): a clear "does not fit" costs
    no llama-fit-params run."""
    est = fp.formula_estimate(shape_of(m), s)
    path = local_model_file(m)
    projector = current_projector() if path else None
    why = "no local model file" if path is None else "llama-fit-params not installed"
    if over_bytes is not None and est.total_bytes > over_bytes * 1.15:
        why = "clearly over the budget, llama.cpp not asked" if projector else why
    elif path is not None and projector is not None:
        try:
            return projector.estimate(path, s)
        except FitParamsError as exc:
            why = str(exc)
    detail = "; ".join(x for x in (est.detail, why) if x)
    return dataclasses.replace(est, detail=detail)


def footprint(
    m: ModelProfile,
    ctx: int,
    parallel: int,
    kv_type: str,
    flash_attention: bool,
    budget: Budget,
    n_cpu_moe: int = 0,
) -> Footprint:
    """Estimated memory of `m` at this setting (with `n_cpu_moe` layers' experts in RAM)."""
    overhead = MINIMUM_MEMORY_METAL if budget.metal else MINIMUM_MEMORY
    if budget.device == "cpu":
        overhead = 0
    n = n_cpu_moe if budget.device == "gpu" else 0
    settings = FitSettings(
        ctx, parallel, kv_type, flash_attention, device=budget.device, n_cpu_moe=n
    )
    est = estimate(m, settings, over_bytes=budget.bytes - overhead)
    return Footprint(
        est.weights_bytes,
        est.kv_bytes,
        est.compute_bytes,
        overhead,
        est.method,
        est.detail,
        est.host_bytes,
        n,
    )


def whole_layers_that_fit(m: ModelProfile, budget: Budget, ctx: int, flash_attention: bool) -> int:
    """The alternative to expert offload: how many whole layers (weights + KV) fit beside the
    compute buffer and the overhead (`-ngl k`, what Ollama < 0.30 does)."""
    f = footprint(m, ctx, 1, "f16", flash_attention, budget)
    n_layer = max(1, shape_of(m).n_layer)
    per_layer = (f.weights + f.kv_cache) / n_layer
    room = budget.bytes - f.compute - f.overhead
    return max(0, min(n_layer, int(room // per_layer))) if per_layer > 0 else 0


def experts_to_cpu(
    m: ModelProfile,
    budget: Budget,
    ctx: int,
    *,
    parallel: int = 1,
    kv_type: str = "f16",
    flash_attention: bool = True,
) -> Footprint | None:
    """For a MoE model that does not fit a discrete GPU whole: the placement with every layer
    on the GPU and the experts of the fewest first layers in RAM (`--n-cpu-moe N`) that fits;
    None for a dense model, no discrete GPU, or when even all experts in RAM do not fit.
    The formula finds N (monotone in N), llama.cpp's projection then confirms it."""
    shape = shape_of(m)
    if budget.device != "gpu" or not shape.is_moe:
        return None

    def formula(n: int) -> int:
        s = FitSettings(ctx, parallel, kv_type, flash_attention, n_cpu_moe=n)
        return fp.formula_estimate(shape, s).total_bytes + MINIMUM_MEMORY

    n = next((n for n in range(shape.n_layer + 1) if formula(n) <= budget.bytes), None)
    if n is None:
        return None
    n = max(n, 1)  # N = 0 is the whole model: that is max_context's case, not this one
    if (
        n == 1
        and footprint(m, ctx, parallel, kv_type, flash_attention, budget).total <= budget.bytes
    ):
        return None  # it fits whole (by llama.cpp's projection, where the formula said no)
    for k in range(n, min(n + 4, shape.n_layer) + 1):  # the projection may need a layer more
        f = footprint(m, ctx, parallel, kv_type, flash_attention, budget, n_cpu_moe=k)
        if f.total <= budget.bytes:
            return f
    return None


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
