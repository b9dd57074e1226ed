"""Recommendations: the model-aware fit (default) and the VRAM-tier heuristic (for comparison).

Every recommended value comes with its reason in words and numbers. Only variables Ollama reads
are emitted; num_ctx / num_batch / num_gpu / num_thread go to per-model options.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.optimize.catalogue import version_tuple
from velollm_desktop.core.optimize.fit import (
    MIB,
    Budget,
    Footprint,
    budget_for,
    footprint,
    max_context,
)
from velollm_desktop.core.optimize.footprint import METHOD_LLAMACPP
from velollm_desktop.core.optimize.models import ModelProfile

GIB = 1024**3


@dataclass(frozen=True)
class Reason:
    """Why one setting has its value."""

    setting: str
    value: str
    why: str


@dataclass(frozen=True)
class ModelFit:
    """How one model sits in memory with the recommended settings."""

    name: str
    num_ctx: int | None
    parallel: int
    fits_on_gpu: bool
    vram_bytes: int
    """Estimated total at the recommended setting (weights + KV + compute + overhead)."""
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    budget_bytes: int
    method: str = "formula"
    """What computed the bytes: "llama.cpp projection" or "formula"."""


@dataclass(frozen=True)
class Recommendation:
    """A complete recommendation."""

    strategy: str
    env: dict[str, str]
    per_model: dict[str, dict[str, int]]
    fits: tuple[ModelFit, ...]
    reasons: tuple[Reason, ...]
    budget: str
    ollama_version: str | None = None
    warnings: tuple[str, ...] = field(default=())


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def _method_text(f: Footprint) -> str:
    """Which method produced a footprint, for the reason text."""
    if f.method == METHOD_LLAMACPP:
        return "llama.cpp's own projection (llama-fit-params)"
    return "the formula" + (f": {f.detail}" if f.detail else "")


def recommend_fit(
    spec: HardwareSpec,
    models: Sequence[ModelProfile],
    ollama_version: str | None = None,
    ctx_cap: int = 32768,
) -> Recommendation:
    """Largest context and parallelism that keep each model entirely on the GPU (or in RAM)."""
    budget = budget_for(spec)
    fa = budget.flash_attention_ok
    reasons: list[Reason] = []
    env: dict[str, str] = {}
    per_model: dict[str, dict[str, int]] = {}
    warnings: list[str] = []
    new_engine = version_tuple(ollama_version) >= (0, 30, 0) or not ollama_version
    fitting = [m for m in models if max_context(m, budget, flash_attention=fa, cap=ctx_cap)]
    too_big = [m for m in models if m not in fitting]
    for m in too_big:
        least = footprint(m, 2048, 1, "q8_0" if fa else "f16", fa, budget).total
        warnings.append(
            f"{m.name} needs at least {_gib(least)} but {_gib(max(budget.bytes, 0))} is available "
            f"({budget.description}): it will be split with the CPU and decode about half as fast or worse"
        )

    # KV cache type: quantize only if it buys a longer context for the largest model (needs FA)
    kv_type = "f16"
    if fa and fitting:
        primary = max(fitting, key=lambda m: m.weights_bytes)
        f16_ctx = max_context(primary, budget, flash_attention=fa, cap=ctx_cap) or 0
        q8_ctx = max_context(primary, budget, kv_type="q8_0", flash_attention=fa, cap=ctx_cap) or 0
        if q8_ctx > f16_ctx:
            kv_type = "q8_0"
            env["OLLAMA_KV_CACHE_TYPE"] = "q8_0"
            reasons.append(
                Reason(
                    "OLLAMA_KV_CACHE_TYPE",
                    "q8_0",
                    f"{primary.name} fits {f16_ctx} tokens with an f16 cache but {q8_ctx} with q8_0 "
                    "(half the KV memory, negligible quality loss); requires flash attention",
                )
            )

    # A quantized KV cache is only ever recommended together with flash attention: without an
    # explicit OLLAMA_FLASH_ATTENTION=1 Ollama < 0.30 keeps f16 (and on a CPU FA is not forced).
    if fa and (budget.device != "cpu" or kv_type != "f16"):
        env["OLLAMA_FLASH_ATTENTION"] = "1"
        if budget.device == "cpu":
            why = "the CPU backend supports it, and the quantized KV cache above requires it"
        else:
            why = (
                "every GPU supports it (CUDA ≥ 6.0 except 7.2, Metal, ROCm, Vulkan); "
                "it shrinks the compute buffer"
            )
            if kv_type != "f16":
                why += " and a quantized KV cache requires it"
        reasons.append(Reason("OLLAMA_FLASH_ATTENTION", "1", why))
    elif not fa:
        reasons.append(
            Reason(
                "OLLAMA_FLASH_ATTENTION", "(unset)", "a GPU here does not support flash attention"
            )
        )

    fits: list[ModelFit] = []
    ctx_by_model = {
        m.name: max_context(m, budget, kv_type=kv_type, flash_attention=fa, cap=ctx_cap) or 0
        for m in fitting
    }
    server_ctx = min(ctx_by_model.values()) if ctx_by_model else 0
    parallel = 1
    if fitting:
        env["OLLAMA_CONTEXT_LENGTH"] = str(server_ctx)
        smallest = min(fitting, key=lambda m: ctx_by_model[m.name])
        limit = footprint(smallest, server_ctx, 1, kv_type, fa, budget)
        reasons.append(
            Reason(
                "OLLAMA_CONTEXT_LENGTH",
                str(server_ctx),
                f"the largest context (≤ {ctx_cap}) at which every model that fits stays entirely in "
                f"{budget.device.upper()} memory; {smallest.name} is the limit "
                f"({budget.description}; its memory by {_method_text(limit)})",
            )
        )
        for p in (4, 2):
            if all(
                footprint(m, server_ctx, p, kv_type, fa, budget).total <= budget.bytes
                for m in fitting
            ):
                parallel = p
                break
        if parallel > 1:
            env["OLLAMA_NUM_PARALLEL"] = str(parallel)
            reasons.append(
                Reason(
                    "OLLAMA_NUM_PARALLEL",
                    str(parallel),
                    f"{parallel} slots × {server_ctx} tokens still fit every model entirely; "
                    "concurrent requests then do not queue",
                )
            )
        else:
            reasons.append(
                Reason(
                    "OLLAMA_NUM_PARALLEL",
                    "1 (default)",
                    "a second slot would double the KV cache and push a model out of memory",
                )
            )
    for m in models:
        ctx = ctx_by_model.get(m.name)
        p = parallel if ctx else 1
        fp = footprint(m, ctx or 2048, p, kv_type, fa, budget)
        fits.append(
            ModelFit(
                m.name,
                ctx,
                p,
                bool(ctx) and budget.device != "cpu",
                fp.total,
                fp.weights,
                fp.kv_cache,
                fp.compute,
                budget.bytes,
                fp.method,
            )
        )
        if ctx and ctx > server_ctx:
            per_model.setdefault(m.name, {})["num_ctx"] = ctx
            reasons.append(
                Reason(
                    f"{m.name}: num_ctx",
                    str(ctx),
                    f"this model alone fits {ctx} tokens ({_gib(fp.total)} of {_gib(budget.bytes)}); "
                    "set per model in its Modelfile",
                )
            )
    if budget.device == "cpu" and spec.cpu.physical_cores:
        for m in models:
            per_model.setdefault(m.name, {})["num_thread"] = spec.cpu.physical_cores
        reasons.append(
            Reason(
                "num_thread (per model)",
                str(spec.cpu.physical_cores),
                "CPU only: one thread per physical core; hyper-threads slow matrix work down",
            )
        )

    # How many models can stay loaded together, and for how long
    used, loaded = 0, 0
    for fit in sorted((f for f in fits if f.num_ctx), key=lambda f: f.vram_bytes):
        if used + fit.vram_bytes <= budget.bytes:
            used += fit.vram_bytes
            loaded += 1
    if fits:
        loaded = max(1, loaded)
        env["OLLAMA_MAX_LOADED_MODELS"] = str(loaded)
        reasons.append(
            Reason(
                "OLLAMA_MAX_LOADED_MODELS",
                str(loaded),
                f"{loaded} of the {len(fits)} installed models fit in {_gib(max(budget.bytes, 0))} "
                "together; more would evict or spill to the CPU",
            )
        )
    # The rule as computed: total RAM as reported, in GiB (MiB / 1024), against 32 GiB
    ram_gib = spec.memory.total_mib / 1024
    keep = "30m" if loaded >= 2 or ram_gib >= 32 else "10m"
    env["OLLAMA_KEEP_ALIVE"] = keep
    reasons.append(
        Reason(
            "OLLAMA_KEEP_ALIVE",
            keep,
            f"{ram_gib:.1f} GiB total RAM (30m from 32 GiB, or with ≥ 2 models resident) and "
            f"{loaded} model(s) resident together: "
            f"keeping models loaded for {keep} instead of 5m avoids reloads (loading is the slowest "
            "part of a request)",
        )
    )
    if not new_engine:
        reasons.append(
            Reason(
                "version",
                ollama_version or "?",
                "Ollama < 0.30: the Go/llama engine estimates memory itself; a quantized KV "
                "cache needs OLLAMA_FLASH_ATTENTION=1 set explicitly"
                + (" (set above)" if env.get("OLLAMA_KV_CACHE_TYPE") else " (none recommended)"),
            )
        )
    return Recommendation(
        "fit",
        env,
        per_model,
        tuple(fits),
        tuple(reasons),
        budget.description,
        ollama_version,
        tuple(warnings),
    )


def recommend_heuristic(
    spec: HardwareSpec, models: Sequence[ModelProfile] = (), ollama_version: str | None = None
) -> Recommendation:
    """The VRAM-tier heuristic (VRAM → parallel/ctx, RAM → loaded models / keep-alive), expressed
    only through settings Ollama reads. Kept for comparison with the fit."""
    # Tiers are in decimal GB as cards are sold: a "24 GB" RTX 4090 reports 24564 MiB = 23.99 GiB
    vram_gib = spec.total_vram_mib * 1024 * 1024 / 1e9
    ram_gib = spec.memory.total_mib * 1024 * 1024 / 1e9
    if vram_gib >= 24:
        parallel, ctx, batch = 4, 8192, 512
    elif vram_gib >= 12:
        parallel, ctx, batch = 2, 4096, 512
    elif vram_gib >= 8:
        parallel, ctx, batch = 1, 4096, 256
    else:
        parallel, ctx, batch = 1, 2048, 128
    if ram_gib >= 32:
        loaded, keep = 3, "30m"
    elif ram_gib >= 16:
        loaded, keep = 2, "10m"
    else:
        loaded, keep = 1, "5m"
    env = {
        "OLLAMA_NUM_PARALLEL": str(parallel),
        "OLLAMA_CONTEXT_LENGTH": str(ctx),
        "OLLAMA_MAX_LOADED_MODELS": str(loaded),
        "OLLAMA_KEEP_ALIVE": keep,
    }
    per_model_opts = {"num_batch": batch}
    if spec.gpus:
        per_model_opts["num_gpu"] = 999
    elif spec.cpu.physical_cores:
        per_model_opts["num_thread"] = spec.cpu.physical_cores
    reasons = (
        Reason(
            "OLLAMA_NUM_PARALLEL / OLLAMA_CONTEXT_LENGTH",
            f"{parallel} / {ctx}",
            f"VRAM tier: {vram_gib:.0f} GB",
        ),
        Reason(
            "OLLAMA_MAX_LOADED_MODELS / OLLAMA_KEEP_ALIVE",
            f"{loaded} / {keep}",
            f"RAM tier: {ram_gib:.0f} GB",
        ),
        Reason(
            "per-model options",
            ", ".join(f"{k}={v}" for k, v in per_model_opts.items()),
            "the VRAM-tier heuristic's num_gpu/num_batch/num_thread, which Ollama reads only per "
            "model (Modelfile PARAMETER), not as environment variables",
        ),
    )
    budget = budget_for(spec)
    fits = tuple(
        ModelFit(
            m.name,
            ctx,
            parallel,
            footprint(m, ctx, parallel, "f16", False, budget).total <= budget.bytes,
            footprint(m, ctx, parallel, "f16", False, budget).total,
            m.weights_bytes,
            footprint(m, ctx, parallel, "f16", False, budget).kv_cache,
            footprint(m, ctx, parallel, "f16", False, budget).compute,
            budget.bytes,
        )
        for m in models
    )
    return Recommendation(
        "heuristic",
        env,
        {m.name: dict(per_model_opts) for m in models},
        fits,
        reasons,
        budget.description,
        ollama_version,
    )


def as_json_summary(rec: Recommendation) -> dict:
    """The documented `--format json` shape: env, models{num_ctx, fits_on_gpu, vram_bytes}, reasons."""
    return {
        "strategy": rec.strategy,
        "env": dict(rec.env),
        "models": {
            f.name: {
                "num_ctx": f.num_ctx,
                "parallel": f.parallel,
                "fits_on_gpu": f.fits_on_gpu,
                "vram_bytes": f.vram_bytes,
                "weights_bytes": f.weights_bytes,
                "kv_cache_bytes": f.kv_cache_bytes,
                "compute_bytes": f.compute_bytes,
                "method": f.method,
                **({"options": rec.per_model[f.name]} if f.name in rec.per_model else {}),
            }
            for f in rec.fits
        },
        "reasons": [f"{r.setting} = {r.value}: {r.why}" for r in rec.reasons],
        "warnings": list(rec.warnings),
        "budget": rec.budget,
    }


__all__ = [
    "MIB",
    "Budget",
    "ModelFit",
    "Reason",
    "Recommendation",
    "as_json_summary",
    "recommend_fit",
    "recommend_heuristic",
]
