"""Closed-loop tuning of a llama-server the app starts itself, from a saved profile (model + flags).

Each candidate is a fresh llama-server with other flags. Candidates that cannot fit in memory are
pruned before anything is measured. Each is measured until its 95 % interval is narrow enough to
rank it (half-width < 5 % of the mean) or its share of the time budget is spent. A candidate is
called better only when its interval lies entirely above the baseline's.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from velollm_desktop.core.energy import EnergyMeter
from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.llamacpp.client import LlamaServerClient
from velollm_desktop.core.llamacpp.server import LlamaServer, ServerStartError
from velollm_desktop.core.optimize.fit import budget_for, footprint
from velollm_desktop.core.optimize.models import ModelProfile, load_model_file
from velollm_desktop.core.optimize.recommend import recommend_fit
from velollm_desktop.core.progress import Phase, ProgressFn, RunCounter, silent
from velollm_desktop.core.tune.common import (
    LONG_PROMPT,
    OBJECTIVES,
    PROMPT,
    Measured,
    TuneCancelled,
    TuneResult,
    TuneSettings,
    measure_all,
    prune_by_memory,
    remeasuring,
    tune_result,
)
from velollm_desktop.core.tune.energy import measure_with_energy, meter_for
from velollm_desktop.core.tune.moe import expert_offload_picks
from velollm_desktop.core.tune.profile import apply_winner, profile_path

__all__ = [
    "OBJECTIVES",
    "Candidate",
    "Measured",
    "TuneCancelled",
    "TuneResult",
    "apply_winner",
    "profile_path",
    "tune",
]
CANCELLED = "cancelled: the server was stopped and nothing was applied"


@dataclass(frozen=True)
class Candidate:
    """One setting of llama-server."""

    name: str
    threads: int | None = None
    parallel: int = 1
    ctx_per_slot: int = 2048
    batch: int | None = None
    flash_attn: str | None = None
    """"on", "off" or None (llama.cpp's default, auto)."""
    kv_type: str = "f16"
    """KV cache element type ("f16", "q8_0", "q4_0"); a quantized V cache needs flash attention."""
    ubatch: int | None = None
    """Physical batch (`-ub`); None: min(batch, 512)."""
    gpu_layers: int | None = None
    """Layers offloaded to the GPU (`-ngl`); None: llama.cpp's default (all that fit)."""
    n_cpu_moe: int | None = None
    """`--n-cpu-moe N` (with every layer on the GPU): the experts of the first N layers in RAM."""

    def args(self) -> list[str]:
        """llama-server flags (threads and context are passed separately)."""
        out = ["-np", str(self.parallel)]
        if self.batch:
            out += ["-b", str(self.batch), "-ub", str(self.ubatch or min(self.batch, 512))]
        if self.gpu_layers is not None:
            out += ["-ngl", str(self.gpu_layers)]
        if self.n_cpu_moe is not None:
            out += ["-ngl", "999", "--n-cpu-moe", str(self.n_cpu_moe)]
        if self.flash_attn:
            out += ["-fa", self.flash_attn]
        if self.kv_type != "f16":
            out += ["-ctk", self.kv_type, "-ctv", self.kv_type]
        return out

    @property
    def settings(self) -> dict:
        return {
            "threads": self.threads,
            "parallel": self.parallel,
            "ctx_per_slot": self.ctx_per_slot,
            "batch": self.batch,
            "flash_attn": self.flash_attn,
            "kv_type": self.kv_type,
            "ubatch": self.ubatch,
            "gpu_layers": self.gpu_layers,
            "n_cpu_moe": self.n_cpu_moe,
        }


def _profile_from_gguf(path: Path) -> ModelProfile:
    """The optimizer's model profile from a GGUF's own metadata (the same keys /api/show returns)."""
    return dataclasses.replace(load_model_file(path), name=path.name)


def candidates_for(
    hardware: HardwareSpec,
    objective: str,
    concurrency: int,
    profile: ModelProfile | None = None,
    ctx: int = 2048,
) -> list[Candidate]:
    """Baseline (llama.cpp defaults, one slot), the optimizer fit's choice, and a small search
    around it (threads, flash attention, KV cache type, batch, slots), all at `ctx` tokens per slot."""
    phys = hardware.cpu.physical_cores or 1
    logical = hardware.cpu.logical_cores or phys
    base = Candidate("default (1 slot)", ctx_per_slot=ctx)
    out = [base, Candidate(f"threads={phys} (physical cores)", threads=phys, ctx_per_slot=ctx)]
    if logical != phys:
        out.append(Candidate(f"threads={logical} (logical)", threads=logical, ctx_per_slot=ctx))
    out.append(
        Candidate(f"threads={phys}, flash-attn on", threads=phys, flash_attn="on", ctx_per_slot=ctx)
    )
    out.append(
        Candidate(
            f"threads={phys}, flash-attn on, q8_0 KV cache",
            threads=phys,
            flash_attn="on",
            kv_type="q8_0",
            ctx_per_slot=ctx,
        )
    )
    if objective == "prompt":
        out.append(
            Candidate(f"threads={phys}, batch 2048", threads=phys, batch=2048, ctx_per_slot=ctx)
        )
    if objective == "throughput":
        for p in (2, 4, 8):
            if p <= max(2, concurrency * 2):
                out.append(
                    Candidate(
                        f"{p} slots, threads={phys}", threads=phys, parallel=p, ctx_per_slot=ctx
                    )
                )
    out += gpu_candidates(hardware, objective, concurrency, profile, ctx)
    if profile is not None:
        rec = recommend_fit(hardware, [profile])
        fa = "on" if rec.env.get("OLLAMA_FLASH_ATTENTION") == "1" else None
        fit = Candidate(
            "optimizer fit",
            threads=rec.per_model.get(profile.name, {}).get("num_thread"),
            parallel=int(rec.env.get("OLLAMA_NUM_PARALLEL", 1)) if objective == "throughput" else 1,
            ctx_per_slot=ctx,
            flash_attn=fa,
            kv_type=rec.env.get("OLLAMA_KV_CACHE_TYPE", "f16") if fa else "f16",
        )
        if all(fit.settings != c.settings for c in out):
            out.insert(1, fit)
    return out


def layers_that_fit(profile: ModelProfile, hardware: HardwareSpec, ctx: int) -> int | None:
    """With a discrete GPU too small for the whole model (one slot at `ctx`): how many of its
    layers fit beside the compute buffer (the optimizer's memory model, split per layer).
    None when it fits whole or there is no discrete GPU."""
    if not hardware.discrete_gpus or profile.block_count <= 0:
        return None
    budget = budget_for(hardware)
    fp = footprint(profile, ctx, 1, "f16", False, budget)  # as the candidate runs: default FA
    if fp.total <= budget.bytes:
        return None
    per_layer = (fp.weights + fp.kv_cache) / profile.block_count
    room = budget.bytes - fp.compute - fp.overhead
    return max(0, min(profile.block_count - 1, int(room // per_layer))) if per_layer > 0 else None


def gpu_candidates(
    hardware: HardwareSpec,
    objective: str,
    concurrency: int,
    profile: ModelProfile | None,
    ctx: int,
) -> list[Candidate]:
    """What matters on a discrete GPU: many parallel slots with flash attention (throughput),
    a larger physical batch (prompt processing), and partial offload (`-ngl`) when the model
    does not fit. Nothing without a discrete GPU."""
    if not hardware.discrete_gpus:
        return []
    out: list[Candidate] = []
    if objective == "throughput":
        for p in sorted({min(16, max(2, concurrency)), 16 if concurrency >= 8 else 0} - {0}):
            out.append(
                Candidate(
                    f"{p} slots, flash-attn on", parallel=p, flash_attn="on", ctx_per_slot=ctx
                )
            )
    if objective == "prompt":
        for ub in (1024, 2048):
            out.append(
                Candidate(f"batch 2048, ubatch {ub}", batch=2048, ubatch=ub, ctx_per_slot=ctx)
            )
    n = layers_that_fit(profile, hardware, ctx) if profile is not None else None
    if n is not None:
        for layers in sorted({n, max(0, n * 3 // 4)}, reverse=True):
            out.append(
                Candidate(f"{layers} layers on the GPU", gpu_layers=layers, ctx_per_slot=ctx)
            )
    return out + [
        Candidate(label, n_cpu_moe=k, ctx_per_slot=ctx)
        for label, k in expert_offload_picks(hardware, profile, ctx)
    ]


def prune(
    cands: Sequence[Candidate], model: ModelProfile, hardware: HardwareSpec
) -> tuple[list[Candidate], list[Measured]]:
    """Split into (fits, pruned with reasons) using the same memory model as the optimizer.
    A partial-offload candidate is sized by the share of the layers it puts on the GPU."""
    moe = [c for c in cands if c.n_cpu_moe is not None]
    partial = [c for c in cands if c.gpu_layers is not None]
    keep, pruned = prune_by_memory(
        [c for c in cands if c.gpu_layers is None and c.n_cpu_moe is None],
        model,
        hardware,
        lambda c: (c.ctx_per_slot, c.parallel, c.kv_type, c.flash_attn == "on"),
    )
    budget = budget_for(hardware)
    for c in partial:
        fp = footprint(model, c.ctx_per_slot, c.parallel, c.kv_type, c.flash_attn == "on", budget)
        share = (c.gpu_layers or 0) / max(1, model.block_count)
        need = (fp.weights + fp.kv_cache) * share + fp.compute + fp.overhead
        if need > budget.bytes:
            pruned.append(Measured(c, None, pruned=f"needs {need / 2**30:.1f} GiB on the GPU"))
        else:
            keep.append(c)
    for c in moe:
        f = footprint(model, c.ctx_per_slot, c.parallel, c.kv_type, c.flash_attn == "on", budget,
                      n_cpu_moe=c.n_cpu_moe or 0)  # fmt: skip
        if f.total > budget.bytes:
            pruned.append(Measured(c, None, pruned=f"needs {f.total / 2**30:.1f} GiB on the GPU"))
        else:
            keep.append(c)
    return keep, pruned


def _one(
    client: LlamaServerClient, objective: str, n_predict: int, cancel: threading.Event, i: int
) -> tuple[float, float, int]:
    """(tokens/s for the objective, latency ms, generated tokens) of one request."""
    prompt = f"[{i}] " + (LONG_PROMPT if objective == "prompt" else PROMPT)
    m = client.measure(prompt, 8 if objective == "prompt" else n_predict, cancel=cancel)
    rate = m.prompt_tokens_per_s if objective == "prompt" else m.server_decode_tokens_per_s
    return float(rate or 0.0), m.total_ms, int(m.eval_count or 0)


def measure_candidate(
    model: Path,
    c: Candidate,
    settings: TuneSettings,
    *,
    deadline: float,
    cancel: threading.Event,
    on_sample: Callable[[int], None] | None = None,
    energy: EnergyMeter | None = None,
) -> Measured:
    """Start llama-server with `c`, measure until precise enough or out of time, stop it.
    `cancel` ends the start, the warm-up and the request in flight (the tune's stop)."""
    objective, n_predict = str(settings.objective), settings.n_predict
    ctx = c.ctx_per_slot * c.parallel
    with (
        LlamaServer(model, c.args(), threads=c.threads, ctx_size=ctx, cancel=cancel) as server,
        LlamaServerClient(server.url) as client,
    ):
        client.measure("warm-up", 4, cancel=cancel)

        def request(k: int) -> tuple[float, float, int]:
            if objective != "throughput":
                return _one(client, objective, n_predict, cancel, k)
            with LlamaServerClient(server.url) as own:  # one connection per concurrent client
                return _one(own, objective, n_predict, cancel, k)

        try:
            return measure_with_energy(
                c, request, settings, deadline=deadline, cancel=cancel, on_sample=on_sample,
                energy=energy,
            )  # fmt: skip
        except TuneCancelled:
            raise TuneCancelled(CANCELLED) from None


def tune(
    model: Path,
    hardware: HardwareSpec,
    settings: TuneSettings,
    *,
    candidates: Sequence[Candidate] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    energy: EnergyMeter | None = None,
) -> TuneResult:
    """Measure the baseline and each candidate within `settings.budget_s` seconds; return the
    table and winner. `settings.ctx` is the context every candidate must keep, per slot (tokens;
    2048 when not set)."""
    objective, concurrency, ctx = (
        str(settings.objective),
        settings.concurrency,
        settings.ctx or 2048,
    )
    if objective not in OBJECTIVES:
        raise BadInput(f"objective must be one of {', '.join(OBJECTIVES)}")
    meter = meter_for(objective, energy)
    cancel = cancel or threading.Event()
    report = progress or silent
    t_start = time.monotonic()
    profile = _profile_from_gguf(model)
    cands = list(candidates or candidates_for(hardware, objective, concurrency, profile, ctx))
    keep, pruned = prune(cands, profile, hardware)
    if not keep:
        raise BadInput("no candidate fits in memory: " + "; ".join(p.pruned or "" for p in pruned))
    measured, skipped = measure_all(
        keep,
        lambda c, deadline, clock: measure_candidate(
            model,
            c,
            settings,
            deadline=deadline,
            cancel=clock.stop,
            on_sample=clock.sampled,
            energy=meter,
        ),  # fmt: skip
        t_start=t_start,
        budget_s=settings.budget_s,
        report=report,
        cancel=cancel,
        cancelled=CANCELLED,
        cancel_shows_as=(ServerStartError,),
    )
    notes = [f"pruned {p.candidate.name}: {p.pruned}" for p in pruned] + skipped
    return tune_result(
        model.name, objective, concurrency, measured, pruned, notes, t_start, "llamacpp"
    )


def remeasure(
    result: TuneResult,
    model: Path,
    *,
    budget_s: float = 30.0,
    n_predict: int = 64,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Measured, Measured]:
    """After apply: measure the baseline and the applied winner again → (before, after)."""
    cancel = cancel or threading.Event()
    count = RunCounter(2, progress)
    out = []
    for n, c in enumerate((result.baseline.candidate, result.winner.candidate)):
        count.say(f"re-measuring {'before' if n == 0 else 'after'}: {c.name}", pace=False)
        out.append(
            measure_candidate(
                model,
                c,
                remeasuring(result, n_predict),
                deadline=time.monotonic() + budget_s / 2,
                cancel=cancel,
            )
        )
        count.count()
    count.say("done", Phase.DONE, pace=False)
    return out[0], out[1]
