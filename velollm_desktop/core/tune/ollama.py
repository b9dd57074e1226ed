"""Closed-loop tuning of a running Ollama server.

Two kinds of settings (Ollama's `envconfig/config.go` and `api/types.go` `Runner` options):

- Per-request load options (`num_ctx`, `num_batch`, `num_thread`, `num_gpu`) are tried without
  touching the service: each candidate's requests carry its options, and Ollama reloads the
  model when a load-time option differs from the loaded runner. That reload is measured on its
  own (a preload; Ollama's `load_duration`) and kept out of the speed figures.
- Server settings (`OLLAMA_FLASH_ATTENTION`, `OLLAMA_KV_CACHE_TYPE`, `OLLAMA_NUM_PARALLEL`) live
  in the service's environment. They are tried only with the user's consent, through the
  optimizer's writer (systemd drop-in + restart, journalled), and the original configuration is
  always restored at the end — on success, error and cancel. Applying a server-level winner is
  then a normal optimizer apply, which the optimizer can undo.

Applying a per-request winner creates a derived model `<model>-velollm` (`/api/create` with the
options as Modelfile parameters); the original model is never changed, and undo deletes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from velollm_desktop.core.bench.backends import OllamaBackend
from velollm_desktop.core.energy import EnergyMeter
from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.derived import create_derived, delete_derived, derived_name
from velollm_desktop.core.optimize.effective import default_context_tokens
from velollm_desktop.core.optimize.fit import budget_for, experts_to_cpu
from velollm_desktop.core.optimize.models import ModelProfile, profile_from_show
from velollm_desktop.core.progress import Phase, ProgressEvent, ProgressFn, RunCounter, silent
from velollm_desktop.core.tune.common import (
    LONG_PROMPT,
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
from velollm_desktop.core.tune.ollama_candidates import (
    LOAD_OPTIONS,
    N_CPU_MOE,
    SERVER_VARS,
    OllamaCandidate,
    ollama_candidates,
)
from velollm_desktop.core.tune.ollama_service import ServerSettings, ServiceSettings

__all__ = [
    "LOAD_OPTIONS",
    "SERVER_VARS",
    "OllamaCandidate",
    "ServerSettings",
    "ServiceSettings",
    "TuneCancelled",
    "ollama_candidates",
    "tune_ollama",
]

TUNED_SUFFIX = "-velollm"
CANCELLED = "cancelled: Ollama's original settings are back and nothing was applied"


def model_profile(client: OllamaClient, model: str) -> ModelProfile:
    """The optimizer's profile of `model` from `/api/show` and `/api/tags`."""
    show = client.show(model)
    size = next(
        (m.size_bytes for m in client.installed_models() if m.name in (model, f"{model}:latest")), 0
    )
    return profile_from_show(model, {"model_info": dict(show.model_info)}, size)


def _default_ctx(hardware: HardwareSpec, profile: ModelProfile) -> int:
    """Ollama's num_ctx when none is given (VRAM tiers, capped at the trained context)."""
    return min(default_context_tokens(hardware), profile.context_length)


def prune_ollama(
    cands: Sequence[OllamaCandidate], profile: ModelProfile, hardware: HardwareSpec
) -> tuple[list[OllamaCandidate], list[Measured]]:
    """Split into (fits, pruned with reasons) with the optimizer's memory model."""

    def shape(c: OllamaCandidate) -> tuple[int, int, str, bool, int]:
        ctx = c.options.get("num_ctx") or _default_ctx(hardware, profile)
        parallel = int(c.server_env.get("OLLAMA_NUM_PARALLEL", 1))
        kv = c.server_env.get("OLLAMA_KV_CACHE_TYPE", "f16")
        fa = c.server_env.get("OLLAMA_FLASH_ATTENTION") == "1"
        moe = c.server_env.get(N_CPU_MOE)
        if moe is None:  # llama.cpp's --fit keeps a too-big MoE model's experts in RAM itself
            f = experts_to_cpu(profile, budget_for(hardware), ctx, parallel=parallel, kv_type=kv,
                               flash_attention=fa)  # fmt: skip
            return ctx, parallel, kv, fa, f.n_cpu_moe if f else 0
        return ctx, parallel, kv, fa, int(moe)

    return prune_by_memory(cands, profile, hardware, shape)


def measure_ollama_candidate(
    url: str,
    model: str,
    c: OllamaCandidate,
    settings: TuneSettings,
    *,
    deadline: float,
    cancel: threading.Event,
    on_sample: Callable[[int], None] | None = None,
    energy: EnergyMeter | None = None,
) -> Measured:
    """Load the model with `c`'s options (timed on its own), then measure until precise enough.
    `cancel` (the tune's stop) ends the request in flight."""
    objective, n_predict = str(settings.objective), settings.n_predict
    with OllamaClient(url) as client:
        loaded = client.preload(model, c.options)
    load_ms = loaded.load_duration_ns / 1e6 if loaded.load_duration_ns else None

    def request(k: int) -> tuple[float, float, int]:
        backend = OllamaBackend(url, model, c.options)  # one connection per concurrent client
        try:
            prompt = f"[{k}] " + (LONG_PROMPT if objective == "prompt" else PROMPT)
            m = backend.measure(prompt, 8 if objective == "prompt" else n_predict, cancel)
        finally:
            backend.close()
        rate = m.prompt_tokens_per_s if objective == "prompt" else m.server_decode_tokens_per_s
        return float(rate or 0.0), m.total_ms, int(m.eval_count or 0)

    request(-1)  # warm-up: the first generation after a load
    return measure_with_energy(
        c,
        request,
        settings,
        deadline=deadline,
        cancel=cancel,
        on_sample=on_sample,
        energy=energy,
        load_ms=load_ms,
    )


def _planned(
    url: str,
    model: str,
    hardware: HardwareSpec,
    objective: str,
    concurrency: int,
    ctx: int | None,
    server_changes: bool,
    candidates: Sequence[OllamaCandidate] | None,
) -> tuple[ModelProfile, list[OllamaCandidate]]:
    """The model's profile and the candidates to try (the caller's, or the optimizer's for this
    model, server and Ollama version)."""
    with OllamaClient(url) as client:
        profile = model_profile(client, model)
        version = client.version()
    cands = list(
        candidates
        or ollama_candidates(
            hardware,
            profile,
            objective,
            concurrency,
            ctx=ctx,
            server_changes=server_changes,
            ollama_version=version,
        )  # fmt: skip
    )
    return profile, cands


def tune_ollama(
    url: str,
    model: str,
    hardware: HardwareSpec,
    settings: TuneSettings,
    *,
    server: ServerSettings | None = None,
    candidates: Sequence[OllamaCandidate] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    energy: EnergyMeter | None = None,
) -> TuneResult:
    """Measure the current settings and each candidate within `settings.budget_s`; restore
    the server. `server` is the user's consent to server-level changes; without it, candidates
    that need one are listed as not tried."""
    objective, concurrency, ctx = str(settings.objective), settings.concurrency, settings.ctx
    meter = meter_for(objective, energy)  # refuses an unknown objective too
    cancel = cancel or threading.Event()
    report = progress or silent
    t_start = time.monotonic()
    profile, cands = _planned(
        url, model, hardware, objective, concurrency, ctx, server is not None, candidates
    )
    keep, pruned = _allowed(cands, profile, hardware, server)
    try:
        measured, skipped = measure_all(
            keep,
            lambda c, deadline, clock: measure_ollama_candidate(
                url,
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
            before=_switch_server(server, report),
            cancelled=CANCELLED,
            cancel_shows_as=(ServerError,),
        )
    finally:
        if server is not None:
            server.restore()
    notes = [f"not tried {p.candidate.name}: {p.pruned}" for p in pruned] + skipped
    return tune_result(model, objective, concurrency, measured, pruned, notes, t_start, "ollama")


def _allowed(
    cands: Sequence[OllamaCandidate],
    profile: ModelProfile,
    hardware: HardwareSpec,
    server: ServerSettings | None,
) -> tuple[list[OllamaCandidate], list[Measured]]:
    """(to measure, not tried with why): memory first, then consent for server changes."""
    keep, pruned = prune_ollama(cands, profile, hardware)
    if server is None:
        needs = [c for c in keep if c.server_env]
        keep = [c for c in keep if not c.server_env]
        pruned += [
            Measured(c, None, pruned="changes the Ollama service: not allowed") for c in needs
        ]
    if not keep:
        raise BadInput("no candidate fits in memory: " + "; ".join(p.pruned or "" for p in pruned))
    return keep, pruned


def _switch_server(
    server: ServerSettings | None, report: ProgressFn
) -> Callable[[int, int, OllamaCandidate], None]:
    """Before each candidate: its server settings (restart), or the original ones back."""

    def before(n: int, count: int, c: OllamaCandidate) -> None:
        if server is None:
            return
        if c.server_env:
            report(
                ProgressEvent(n, count, f"restarting Ollama with {c.server_env}", Phase.STARTING)
            )
            server.apply(c.server_env)
        else:
            server.restore()

    return before


def tuned_name(model: str) -> str:
    """The derived model a per-request winner is saved as."""
    return derived_name(model, TUNED_SUFFIX)


def apply_ollama_winner(result: TuneResult, url: str) -> tuple[str | None, dict[str, str]]:
    """Save the winner: its options as a derived model (`/api/create`, the original untouched).

    Returns (the derived model's name or None when there were no options, the server-level
    variables still to apply with the optimizer — with the user's consent, not here).
    """
    c: OllamaCandidate = result.winner.candidate
    name = None
    if c.options:
        name = tuned_name(result.model)
        create_derived(url, name, result.model, c.options)  # journalled; never a user's model
    return name, dict(c.server_env)


def undo_ollama_winner(url: str, name: str) -> None:
    """Delete the derived model made by `apply_ollama_winner`."""
    delete_derived(url, name)


def remeasure_ollama(
    result: TuneResult,
    url: str,
    tuned_model: str | None,
    *,
    budget_s: float = 30.0,
    n_predict: int = 64,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Measured, Measured]:
    """After apply: the original model as it runs now vs the tuned one, without options
    (the derived model carries them) → (before, after)."""
    cancel = cancel or threading.Event()
    count = RunCounter(2, progress)
    runs = (
        (result.model, result.baseline.candidate),
        (tuned_model or result.model, result.winner.candidate if not tuned_model else None),
    )
    out = []
    for n, (model, cand) in enumerate(runs):
        c = cand or OllamaCandidate(f"{model} (applied)")
        count.say(f"re-measuring {'before' if n == 0 else 'after'}: {c.name}", pace=False)
        out.append(
            measure_ollama_candidate(
                url,
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
