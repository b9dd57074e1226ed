"""The VRAM-tier heuristic (VRAM → parallel/ctx, RAM → loaded models / keep-alive).

Kept for comparison with the model-aware fit (recommend.py); expressed only through settings
Ollama reads. Re-exported by recommend.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.optimize.fit import Budget, budget_for, footprint
from velollm_desktop.core.optimize.models import ModelProfile
from velollm_desktop.core.optimize.recommendation import ModelFit, Reason, Recommendation


@dataclass(frozen=True)
class _Tiers:
    """The settings one VRAM tier and one RAM tier give."""

    vram_gib: float
    ram_gib: float
    parallel: int
    ctx: int
    batch: int
    loaded: int
    keep: str


def _tiers(spec: HardwareSpec) -> _Tiers:
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
    return _Tiers(vram_gib, ram_gib, parallel, ctx, batch, loaded, keep)


def _per_model_options(spec: HardwareSpec, t: _Tiers) -> dict[str, int]:
    opts = {"num_batch": t.batch}
    if spec.gpus:
        opts["num_gpu"] = 999
    elif spec.cpu.physical_cores:
        opts["num_thread"] = spec.cpu.physical_cores
    return opts


def _reasons(t: _Tiers, per_model_opts: dict[str, int]) -> tuple[Reason, ...]:
    """One reason per variable (the Optimize table shows each beside its row)."""
    vram = f"VRAM tier {t.vram_gib:.0f} GB"
    ram = f"RAM tier {t.ram_gib:.0f} GB"
    return (
        Reason("OLLAMA_NUM_PARALLEL", str(t.parallel), f"{vram}: {t.parallel} parallel slot(s)"),
        Reason("OLLAMA_CONTEXT_LENGTH", str(t.ctx), f"{vram}: {t.ctx} tokens per slot"),
        Reason("OLLAMA_MAX_LOADED_MODELS", str(t.loaded), f"{ram}: {t.loaded} model(s) loaded"),
        Reason("OLLAMA_KEEP_ALIVE", t.keep, f"{ram}: models stay loaded {t.keep} after use"),
        Reason(
            "per-model options",
            ", ".join(f"{k}={v}" for k, v in per_model_opts.items()),
            "the VRAM-tier heuristic's num_gpu/num_batch/num_thread, which Ollama reads only per "
            "model (Modelfile PARAMETER), not as environment variables",
        ),
    )


def _fit(m: ModelProfile, t: _Tiers, budget: Budget) -> ModelFit:
    """How `m` sits at the tier's context and parallelism (f16 KV, no flash attention)."""
    f = footprint(m, t.ctx, t.parallel, "f16", False, budget)
    return ModelFit(
        m.name,
        t.ctx,
        t.parallel,
        f.total <= budget.bytes,
        f.total,
        m.weights_bytes,
        f.kv_cache,
        f.compute,
        budget.bytes,
    )


def recommend_heuristic(
    spec: HardwareSpec, models: Sequence[ModelProfile] = (), ollama_version: str | None = None
) -> Recommendation:
    """The VRAM-tier heuristic (VRAM → parallel/ctx, RAM → loaded models / keep-alive), expressed
    only through settings Ollama reads. Kept for comparison with the fit."""
    t = _tiers(spec)
    env = {
        "OLLAMA_NUM_PARALLEL": str(t.parallel),
        "OLLAMA_CONTEXT_LENGTH": str(t.ctx),
        "OLLAMA_MAX_LOADED_MODELS": str(t.loaded),
        "OLLAMA_KEEP_ALIVE": t.keep,
    }
    per_model_opts = _per_model_options(spec, t)
    budget = budget_for(spec)
    return Recommendation(
        "heuristic",
        env,
        {m.name: dict(per_model_opts) for m in models},
        tuple(_fit(m, t, budget) for m in models),
        _reasons(t, per_model_opts),
        budget.description,
        ollama_version,
    )


__all__ = ["recommend_heuristic"]
