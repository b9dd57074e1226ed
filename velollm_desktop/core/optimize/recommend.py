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
    experts_to_cpu,
    footprint,
    max_context,
    whole_layers_that_fit,
)
from velollm_desktop.core.optimize.footprint import METHOD_LLAMACPP
from velollm_desktop.core.optimize.heuristic import recommend_heuristic
from velollm_desktop.core.optimize.models import ModelProfile
from velollm_desktop.core.optimize.recommendation import (
    GIB,
    ModelFit,
    Reason,
    Recommendation,
)


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


@dataclass
class _Plan:
    """What `recommend_fit`'s steps add to, in order (the order is the reasons' order)."""

    spec: HardwareSpec
    budget: Budget
    ctx_cap: int
    env: dict[str, str] = field(default_factory=dict)
    reasons: list[Reason] = field(default_factory=list)
    per_model: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def fa(self) -> bool:
        return self.budget.flash_attention_ok

    def set(self, name: str, value: str, why: str) -> None:
        self.env[name] = value
        self.reasons.append(Reason(name, value, why))


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
    """Largest context and parallelism that keep each model entirely on the GPU (or in RAM).

    Steps, in order: warn about models that cannot fit, KV cache type, flash attention,
    context and parallel slots, each model's fit, CPU threads, how many models stay loaded
    and for how long, an old-engine note.
    """
    plan = _Plan(spec, budget_for(spec), ctx_cap)
    fitting = [
        m for m in models if max_context(m, plan.budget, flash_attention=plan.fa, cap=ctx_cap)
    ]
    too_big = [m for m in models if m not in fitting]
    moe = _experts_offload(plan, too_big, min(8192, ctx_cap), ollama_version)
    _warn_too_big(plan, [m for m in too_big if m.name not in moe])
    kv_type = _kv_cache_type(plan, fitting)
    _flash_attention(plan, kv_type)
    ctx_by_model = {
        m.name: max_context(m, plan.budget, kv_type=kv_type, flash_attention=plan.fa, cap=ctx_cap)
        or 0
        for m in fitting
    }
    server_ctx = min(ctx_by_model.values()) if ctx_by_model else 0
    parallel = _context_and_parallel(plan, fitting, ctx_by_model, server_ctx, kv_type)
    fits = _model_fits(plan, models, ctx_by_model, server_ctx, parallel, kv_type, moe)
    _cpu_threads(plan, models)
    _residency(plan, fits)
    if not (version_tuple(ollama_version) >= (0, 30, 0) or not ollama_version):
        plan.reasons.append(
            Reason(
                "version",
                ollama_version or "?",
                "Ollama < 0.30: the Go/llama engine estimates memory itself; a quantized KV "
                "cache needs OLLAMA_FLASH_ATTENTION=1 set explicitly"
                + (
                    " (set above)"
                    if plan.env.get("OLLAMA_KV_CACHE_TYPE")
                    else " (none recommended)"
                ),
            )
        )
    return Recommendation(
        "fit",
        plan.env,
        plan.per_model,
        tuple(fits),
        tuple(plan.reasons),
        plan.budget.description,
        ollama_version,
        tuple(plan.warnings),
    )


def _warn_too_big(plan: _Plan, too_big: Sequence[ModelProfile]) -> None:
    budget, fa = plan.budget, plan.fa
    for m in too_big:
        least = footprint(m, 2048, 1, "q8_0" if fa else "f16", fa, budget).total
        plan.warnings.append(
            f"{m.name} needs at least {_gib(least)} but {_gib(max(budget.bytes, 0))} is available "
            f"({budget.description}): it will be split with the CPU and decode about half as fast or worse"
        )


def _kv_cache_type(plan: _Plan, fitting: Sequence[ModelProfile]) -> str:
    """Quantize the KV cache only if it buys a longer context for the largest model (needs FA)."""
    if not (plan.fa and fitting):
        return "f16"
    primary = max(fitting, key=lambda m: m.weights_bytes)
    f16_ctx = max_context(primary, plan.budget, flash_attention=plan.fa, cap=plan.ctx_cap) or 0
    q8_ctx = (
        max_context(primary, plan.budget, kv_type="q8_0", flash_attention=plan.fa, cap=plan.ctx_cap)
        or 0
    )
    if q8_ctx <= f16_ctx:
        return "f16"
    plan.set(
        "OLLAMA_KV_CACHE_TYPE",
        "q8_0",
        f"{primary.name} fits {f16_ctx} tokens with an f16 cache but {q8_ctx} with q8_0 "
        "(half the KV memory, negligible quality loss); requires flash attention",
    )
    return "q8_0"


def _flash_attention(plan: _Plan, kv_type: str) -> None:
    # A quantized KV cache is only ever recommended together with flash attention: without an
    # explicit OLLAMA_FLASH_ATTENTION=1 Ollama < 0.30 keeps f16 (and on a CPU FA is not forced).
    if plan.fa and (plan.budget.device != "cpu" or kv_type != "f16"):
        if plan.budget.device == "cpu":
            why = "the CPU backend supports it, and the quantized KV cache above requires it"
        else:
            why = (
                "every GPU supports it (CUDA ≥ 6.0 except 7.2, Metal, ROCm, Vulkan); "
                "it shrinks the compute buffer"
            )
            if kv_type != "f16":
                why += " and a quantized KV cache requires it"
        plan.set("OLLAMA_FLASH_ATTENTION", "1", why)
    elif not plan.fa:
        plan.reasons.append(
            Reason(
                "OLLAMA_FLASH_ATTENTION", "(unset)", "a GPU here does not support flash attention"
            )
        )


def _context_and_parallel(
    plan: _Plan,
    fitting: Sequence[ModelProfile],
    ctx_by_model: dict[str, int],
    server_ctx: int,
    kv_type: str,
) -> int:
    """OLLAMA_CONTEXT_LENGTH for every fitting model, then the most slots (4, 2) that fit."""
    if not fitting:
        return 1
    budget = plan.budget
    smallest = min(fitting, key=lambda m: ctx_by_model[m.name])
    limit = footprint(smallest, server_ctx, 1, kv_type, plan.fa, budget)
    plan.set(
        "OLLAMA_CONTEXT_LENGTH",
        str(server_ctx),
        f"the largest context (≤ {plan.ctx_cap}) at which every model that fits stays entirely in "
        f"{budget.device.upper()} memory; {smallest.name} is the limit "
        f"(its memory by {_method_text(limit)})",
    )
    parallel = 1
    for p in (4, 2):
        if all(
            footprint(m, server_ctx, p, kv_type, plan.fa, budget).total <= budget.bytes
            for m in fitting
        ):
            parallel = p
            break
    if parallel > 1:
        plan.set(
            "OLLAMA_NUM_PARALLEL",
            str(parallel),
            f"{parallel} slots × {server_ctx} tokens still fit every model entirely; "
            "concurrent requests then do not queue",
        )
    else:
        plan.reasons.append(
            Reason(
                "OLLAMA_NUM_PARALLEL",
                "1 (default)",
                "a second slot would double the KV cache and push a model out of memory",
            )
        )
    return parallel


def _model_fits(
    plan: _Plan,
    models: Sequence[ModelProfile],
    ctx_by_model: dict[str, int],
    server_ctx: int,
    parallel: int,
    kv_type: str,
    moe: dict[str, tuple[int, Footprint]],
) -> list[ModelFit]:
    """Each model's footprint; a model that alone fits more than the server context gets it."""
    budget = plan.budget
    fits: list[ModelFit] = []
    for m in models:
        if m.name in moe:
            fits.append(_moe_fit(m.name, *moe[m.name], budget.bytes))
            continue
        ctx = ctx_by_model.get(m.name)
        p = parallel if ctx else 1
        fp = footprint(m, ctx or 2048, p, kv_type, plan.fa, budget)
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
            plan.per_model.setdefault(m.name, {})["num_ctx"] = ctx
            plan.reasons.append(
                Reason(
                    f"{m.name}: num_ctx",
                    str(ctx),
                    f"this model alone fits {ctx} tokens ({_gib(fp.total)} of {_gib(budget.bytes)}); "
                    "set per model in its Modelfile",
                )
            )
    return fits


def _moe_fit(name: str, ctx: int, f: Footprint, budget_bytes: int) -> ModelFit:
    return ModelFit(
        name, ctx, 1, False, f.total, f.weights, f.kv_cache, f.compute, budget_bytes, f.method,
        f.n_cpu_moe, f.host_weights,
    )  # fmt: skip


def _experts_offload(
    plan: _Plan, too_big: Sequence[ModelProfile], ctx: int, ollama_version: str | None
) -> dict[str, tuple[int, Footprint]]:
    """MoE models too big for the GPU: every layer on it, the experts of the first N in RAM.

    llama.cpp's `--fit` (on by default in the llama-server Ollama ≥ 0.30 runs) makes this
    placement itself (common/fit.cpp), so nothing is set: `LLAMA_ARG_N_CPU_MOE` would turn
    its layer fitting off for every model (a tune may still write it if it measures faster)."""
    out: dict[str, tuple[int, Footprint]] = {}
    for m in too_big:
        c = min(ctx, m.context_length) or ctx
        f = experts_to_cpu(m, plan.budget, c, flash_attention=plan.fa)
        if f is None:
            continue
        out[m.name] = (c, f)
        layers = m.block_count
        engine = (
            "Ollama ≥ 0.30 runs llama.cpp's --fit, which makes this placement itself "
            "(common/fit.cpp): nothing to set"
            if version_tuple(ollama_version) >= (0, 30, 0) or not ollama_version
            else "Ollama < 0.30 offloads whole layers instead: upgrade to get this placement"
        )
        plan.reasons.append(
            Reason(
                f"{m.name}: MoE experts",
                f"{f.n_cpu_moe} of {layers} layers in RAM",
                f"too big for {_gib(max(plan.budget.bytes, 0))} whole; every layer stays on the GPU "
                f"({_gib(f.total)} at {c} tokens) and the experts of {f.n_cpu_moe} layers "
                f"({_gib(f.host_weights)} with the token embeddings) stay in RAM, rather than "
                f"only {whole_layers_that_fit(m, plan.budget, c, plan.fa)} of {layers} whole layers "
                "on the GPU: attention and the KV cache stay on the GPU and the "
                "CPU runs only the few active experts (1.2–1.5× the decode speed of whole-layer "
                f"offload on an H200, docs/BENCHMARKS.md). {engine}; memory by {_method_text(f)}",
            )
        )
    return out


def _cpu_threads(plan: _Plan, models: Sequence[ModelProfile]) -> None:
    cores = plan.spec.cpu.physical_cores
    if plan.budget.device != "cpu" or not cores:
        return
    for m in models:
        plan.per_model.setdefault(m.name, {})["num_thread"] = cores
    plan.reasons.append(
        Reason(
            "num_thread (per model)",
            str(cores),
            "CPU only: one thread per physical core; hyper-threads slow matrix work down",
        )
    )


def _residency(plan: _Plan, fits: Sequence[ModelFit]) -> None:
    """How many models can stay loaded together, and for how long."""
    budget = plan.budget
    used, loaded = 0, 0
    for fit in sorted((f for f in fits if f.num_ctx), key=lambda f: f.vram_bytes):
        if used + fit.vram_bytes <= budget.bytes:
            used += fit.vram_bytes
            loaded += 1
    if fits:
        loaded = max(1, loaded)
        plan.set(
            "OLLAMA_MAX_LOADED_MODELS",
            str(loaded),
            f"{loaded} of the {len(fits)} installed models fit in {_gib(max(budget.bytes, 0))} "
            "together; more would evict or spill to the CPU",
        )
    # The rule as computed: total RAM as reported, in GiB (MiB / 1024), against 32 GiB
    ram_gib = plan.spec.memory.total_mib / 1024
    keep = "30m" if loaded >= 2 or ram_gib >= 32 else "10m"
    plan.set(
        "OLLAMA_KEEP_ALIVE",
        keep,
        f"{ram_gib:.1f} GiB total RAM (30m from 32 GiB, or with ≥ 2 models resident) and "
        f"{loaded} model(s) resident together: "
        f"keeping models loaded for {keep} instead of 5m avoids reloads (loading is the slowest "
        "part of a request)",
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
                **({"n_cpu_moe": f.n_cpu_moe, "host_bytes": f.host_bytes} if f.n_cpu_moe else {}),
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
