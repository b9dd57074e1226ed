"""The candidate settings an Ollama tune tries: per-request load options and, with consent,
server environment variables (split from core/tune/ollama.py; re-exported there)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.optimize.catalogue import version_tuple
from velollm_desktop.core.optimize.models import ModelProfile
from velollm_desktop.core.optimize.recommend import recommend_fit, recommend_heuristic
from velollm_desktop.core.tune.moe import expert_offload_picks

N_CPU_MOE = "LLAMA_ARG_N_CPU_MOE"
"""llama.cpp's `--n-cpu-moe` as the variable Ollama ≥ 0.30 hands to its llama-server."""
SERVER_VARS = ("OLLAMA_FLASH_ATTENTION", "OLLAMA_KV_CACHE_TYPE", "OLLAMA_NUM_PARALLEL", N_CPU_MOE)
"""The server-level settings a tune may try (only with consent)."""
LOAD_OPTIONS = ("num_ctx", "num_batch", "num_thread", "num_gpu")
"""The per-request load-time options a tune may try."""


@dataclass(frozen=True)
class OllamaCandidate:
    """Per-request load options and, with consent, server environment variables."""

    name: str
    options: dict[str, int] = field(default_factory=dict)
    server_env: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, Any]:
        return {"options": dict(self.options), "server_env": dict(self.server_env)}


def ollama_candidates(
    hardware: HardwareSpec,
    profile: ModelProfile,
    objective: str,
    concurrency: int,
    *,
    ctx: int | None = None,
    server_changes: bool = False,
    ollama_version: str | None = None,
) -> list[OllamaCandidate]:
    """Baseline (what runs now), the optimizer's and the VRAM-tier heuristic's picks, and a
    small search; for a MoE model too big for the GPU and Ollama ≥ 0.30, `--n-cpu-moe` picks."""
    base: dict[str, int] = {"num_ctx": ctx} if ctx else {}
    out = [OllamaCandidate("current settings", dict(base))]
    out += _option_search(hardware, objective, base)
    out += _recommended(hardware, profile, base, ctx, server_changes)
    if server_changes:
        out += _server_search(objective, concurrency, base)
        if version_tuple(ollama_version) >= (0, 30, 0):  # older engines ignore LLAMA_ARG_*
            out += [
                OllamaCandidate(label, dict(base), {N_CPU_MOE: str(n)})
                for label, n in expert_offload_picks(hardware, profile, ctx or 4096)
            ]
    return _unique(out)


def _option_search(
    hardware: HardwareSpec, objective: str, base: dict[str, int]
) -> list[OllamaCandidate]:
    """Threads (physical, logical), batch for prompt speed, every layer on a discrete GPU."""
    phys = hardware.cpu.physical_cores or 1
    logical = hardware.cpu.logical_cores or phys
    out = [OllamaCandidate(f"num_thread={phys} (physical cores)", {**base, "num_thread": phys})]
    if logical != phys:
        out.append(
            OllamaCandidate(f"num_thread={logical} (logical)", {**base, "num_thread": logical})
        )
    if objective == "prompt":
        out += [OllamaCandidate(f"num_batch={b}", {**base, "num_batch": b}) for b in (1024, 2048)]
    if any(g.vram_total_mib and not g.integrated for g in hardware.gpus):
        out.append(
            OllamaCandidate("num_gpu=999 (every layer on the GPU)", {**base, "num_gpu": 999})
        )
    return out


def _recommended(
    hardware: HardwareSpec,
    profile: ModelProfile,
    base: dict[str, int],
    ctx: int | None,
    server_changes: bool,
) -> list[OllamaCandidate]:
    """The optimizer's fit and the VRAM-tier heuristic, as candidates (when they change anything)."""
    out = []
    for label, rec in (
        ("optimizer fit", recommend_fit(hardware, [profile])),
        ("VRAM-tier heuristic", recommend_heuristic(hardware, [profile])),
    ):
        opts = {
            k: int(v) for k, v in rec.per_model.get(profile.name, {}).items() if k in LOAD_OPTIONS
        }
        if ctx:
            opts["num_ctx"] = max(ctx, opts.get("num_ctx", 0))
        env = {k: v for k, v in rec.env.items() if k in SERVER_VARS} if server_changes else {}
        if (opts or env) and (opts != base or env):
            out.append(OllamaCandidate(label, opts or dict(base), env))
    return out


def _server_search(objective: str, concurrency: int, base: dict[str, int]) -> list[OllamaCandidate]:
    """Server settings (tried only with consent): flash attention, KV cache type, slots."""
    out = [
        OllamaCandidate("flash attention on", dict(base), {"OLLAMA_FLASH_ATTENTION": "1"}),
        OllamaCandidate(
            "flash attention + q8_0 KV cache",
            dict(base),
            {"OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "q8_0"},
        ),
    ]
    if objective == "throughput":
        for p in (2, 4, 8):
            if p <= max(2, concurrency):
                out.append(
                    OllamaCandidate(
                        f"{p} parallel slots", dict(base), {"OLLAMA_NUM_PARALLEL": str(p)}
                    )
                )
    return out


def _unique(cands: list[OllamaCandidate]) -> list[OllamaCandidate]:
    """Drop repeats (the fit and the heuristic may agree with each other or with the search)."""
    seen: set[str] = set()
    unique = []
    for c in cands:
        key = repr((sorted(c.options.items()), sorted(c.server_env.items())))
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique
