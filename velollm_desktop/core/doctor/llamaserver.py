"""Diagnose a llama-server we watch, from what it exposes (/props, /slots, /metrics).

llama-server does not report its GPU offload (`-ngl`) through its API (checked on an H200 with
-ngl 8 and -ngl 0: /props, /slots and /metrics look alike, docs/hardware/). What can be said
honestly: for a server on this machine whose model file is here, the GPU's used memory (all
processes together) bounds how much of the weights can be on the GPU."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velollm_desktop.core.doctor.model import Finding, FindingKind, Fix, FixKind, ctx_text, gib
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.optimize.fit import CTX_CANDIDATES, FIT_MARGIN, MIB, Budget, footprint
from velollm_desktop.core.optimize.models import load_model_file

NO_GPU_SHARE = 0.2
"""The GPU holds less than this share of the weights: hardly anything of the model is there
(measured with -ngl 0 on an H200: 741 MiB used, 16 % of an 8B Q4_K_M's weights, compute
buffers only)."""


@dataclass(frozen=True)
class LlamaServerView:
    """What one llama-server told us."""

    url: str
    model_path: str | None
    slots: int | None
    ctx_per_slot: int | None
    decode_tokens_per_s: float | None
    """tokens_predicted_total / tokens_predicted_seconds_total from /metrics, if enabled."""


def _num(v: Any) -> float | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
    return float(v) if ok else None


def parse_metrics(text: str) -> dict[str, float]:
    """`llamacpp:NAME VALUE` lines of /metrics (Prometheus text; labels are not used here)."""
    out: dict[str, float] = {}
    for line in text.splitlines()[:2000]:
        if not line.startswith("llamacpp:"):
            continue
        name, _, value = line.partition(" ")
        try:
            v = float(value.split()[0]) if value.split() else math.nan
        except ValueError:
            continue
        if math.isfinite(v) and v >= 0:
            out[name.removeprefix("llamacpp:")[:80]] = v
    return out


def view_from(url: str, props: Mapping[str, Any], metrics_text: str | None) -> LlamaServerView:
    """The view from the replies (anything of the wrong type is left out, not trusted)."""
    gen = props.get("default_generation_settings")
    ctx = _num(gen.get("n_ctx")) if isinstance(gen, Mapping) else None
    slots = _num(props.get("total_slots"))
    path = props.get("model_path")
    rate = None
    if metrics_text:
        m = parse_metrics(metrics_text)
        tokens, secs = m.get("tokens_predicted_total"), m.get("tokens_predicted_seconds_total")
        rate = tokens / secs if tokens and secs else None
    return LlamaServerView(
        url,
        path[:4096] if isinstance(path, str) and path else None,
        int(slots) if slots else None,
        int(ctx) if ctx else None,
        rate,
    )


def _local(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _slots_fit(view: LlamaServerView, hardware: HardwareSpec, path: Path) -> list[Finding]:
    """Context × slots that cannot fit on the (empty) GPU where one slot of less would."""
    gpu = max(hardware.discrete_gpus, key=lambda g: g.vram_total_mib or 0)
    ctx, slots = view.ctx_per_slot, view.slots
    if not ctx or not slots:
        return []
    try:
        profile = load_model_file(path)
    except ValueError:
        return []
    budget = Budget(int(gpu.vram_total_mib or 0) * MIB - FIT_MARGIN, "gpu")
    need = footprint(profile, ctx, slots, "f16", True, budget).total
    if need <= budget.bytes:
        return []
    smaller = next(
        (
            c
            for c in CTX_CANDIDATES
            if c <= ctx
            and c <= profile.context_length
            and footprint(profile, c, 1, "f16", True, budget).total <= budget.bytes
        ),
        None,
    )
    if smaller is None:
        return []
    cause = (
        f"llama-server at {view.url} ({path.name}) runs {ctx_text(ctx)} × {slots} slots: "
        f"{gib(need)}, more than {gpu.name}'s {gib(budget.bytes)} even when empty; "
        f"{ctx_text(smaller)} × 1 fits entirely"
    )
    fix = Fix(FixKind.RESTART_SERVER, f"Restart it with -c {smaller} -np 1 (or --fit on)")
    return [
        Finding(
            FindingKind.CONTEXT_TOO_BIG,
            view.url,
            path.name,
            cause,
            (fix,),
            (("needed_bytes", float(need)), ("fits_ctx", float(smaller))),
        )
    ]


def diagnose_llama_server(view: LlamaServerView, hardware: HardwareSpec) -> list[Finding]:
    """Findings when the GPU holds too little of this server's weights, or when its context ×
    slots cannot fit on this GPU at all."""
    gpus = hardware.discrete_gpus
    if not gpus or not view.model_path or not _local(view.url):
        return []
    path = Path(view.model_path)
    try:
        weights = path.stat().st_size
    except OSError:
        return []
    return _offload(view, hardware, path, weights) + _slots_fit(view, hardware, path)


def _offload(
    view: LlamaServerView, hardware: HardwareSpec, path: Path, weights: int
) -> list[Finding]:
    """The GPU's used memory (every process) bounds the weights that can be there."""
    gpus = hardware.discrete_gpus
    used = sum(int(g.vram_used_mib or 0) for g in gpus) * MIB
    if weights <= 0 or used >= weights:
        return []
    share = used / weights
    name = path.name
    nums = (
        ("weights_bytes", float(weights)),
        ("gpu_used_bytes", float(used)),
        ("gpu_share", share),
    )
    fix = Fix(
        FixKind.RESTART_SERVER,
        f"Restart it with -ngl 999 (or --fit on) so that every layer goes to the GPU; a build "
        f"without CUDA/ROCm/Vulkan cannot use {gpus[0].name}",
    )
    if share < NO_GPU_SHARE:
        cause = (
            f"llama-server at {view.url} ({name}, {gib(weights)} of weights) uses next to no "
            f"GPU although {gpus[0].name} is present: the GPU holds {used // MIB} MiB in all "
            f"({share:.0%} of the weights)"
        )
        return [Finding(FindingKind.NO_GPU_USED, view.url, name, cause, (fix,), nums)]
    cause = (
        f"llama-server at {view.url} ({name}) is partly on the CPU: the GPU holds "
        f"{used // MIB} MiB in all, so at most {share:.0%} of its {gib(weights)} of weights "
        "can be there (llama-server does not report -ngl; this is the bound)"
    )
    return [Finding(FindingKind.PARTLY_ON_CPU, view.url, name, cause, (fix,), nums)]
