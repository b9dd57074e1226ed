"""Plain-text summaries of a sample for the tray tooltip (no Qt)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from velollm_desktop.core.hardware.report import fmt

if TYPE_CHECKING:  # types only: keeps psutil/NVML and the model classes off the tray's start path
    from velollm_desktop.core.hardware.model import HardwareSpec
    from velollm_desktop.core.monitor.sampler import SystemSample
    from velollm_desktop.core.ollama.models import LoadedModel

GIB = 1024**3
STAYS_LOADED_S = 30 * 24 * 3600
"""An expiry further away than this is Ollama's "keep loaded forever" (`keep_alive: -1`)."""
_FRACTION = re.compile(r"(\.\d{6})\d+")  # Go writes nanoseconds; Python reads microseconds


def bar_legend(sample: SystemSample | None) -> str:
    """What the tray icon's three bars show, left to right (matches `ui.icons.tray_levels`)."""
    gpu = sample.gpus[0] if sample is not None and sample.gpus else None
    if gpu is None:
        return "Bars: GPU load (n/a: no GPU) · RAM · CPU"
    if gpu.vram_used_mib is not None and gpu.vram_total_mib:
        return "Bars: GPU load · VRAM · CPU"
    return "Bars: GPU load · RAM · CPU"


def tooltip_text(
    sample: SystemSample | None, models: Sequence[LoadedModel] | None, paused: bool = False
) -> str:
    """The tray tooltip: what the bars are, one line per GPU, CPU, RAM, then Ollama's models."""
    lines = ["VeloLLM Desktop" + (" (paused)" if paused else "")]
    if sample is None:
        lines.append("Waiting for the first reading…")
        return "\n".join(lines)
    lines.append(bar_legend(sample))
    for g in sample.gpus:
        vram = f"{fmt(g.vram_used_mib)}/{fmt(g.vram_total_mib)} MiB"
        lines.append(
            f"GPU{g.index} load {fmt(g.utilization_pct, '%')}  VRAM {vram}"
            f"  {fmt(g.temperature_c, '°C')}  {fmt(g.power_w, 'W')}"
        )
    if not sample.gpus:
        lines.append("GPU: none found (n/a)")
    lines.append(
        f"CPU {sample.cpu_pct:.0f} %  RAM {sample.ram_used_mib / 1024:.1f}"
        f"/{sample.ram_total_mib / 1024:.1f} GiB"
    )
    if models is None:
        lines.append("Ollama: not running")
    elif not models:
        lines.append("Ollama: no model loaded")
    else:
        for m in models:
            when = unloads_in(m.expires_at)
            lines.append(
                f"{m.name}: {gib(m.size_bytes)}, {m.placement}, ctx {fmt(m.context_length)}"
                + ("" if when == "n/a" else f", {when.lower()}")
            )
    return "\n".join(lines)


def parse_expiry(expires_at: str | None) -> datetime | None:
    """Ollama's `expires_at` (RFC 3339, up to nanoseconds) as an aware datetime, or `None`."""
    if not isinstance(expires_at, str) or len(expires_at) > 64:
        return None
    text = _FRACTION.sub(r"\1", expires_at.strip()).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def unloads_in(expires_at: str | None, now: datetime | None = None) -> str:
    """ "Unloads in 4 min" (as `ollama ps` says "4 minutes from now"), or "n/a"."""
    when = parse_expiry(expires_at)
    if when is None:
        return "n/a"
    try:
        left_s = (when - (now or datetime.now(timezone.utc))).total_seconds()
    except OverflowError:
        return "n/a"
    if left_s > STAYS_LOADED_S:
        return "Stays loaded"
    if left_s < 1:
        return "Unloading now"
    if left_s < 60:
        return f"Unloads in {int(left_s)} s"
    if left_s < 5400:  # whole minutes left, as `ollama ps` counts them
        return f"Unloads in {int(left_s // 60)} min"
    return f"Unloads in {int(left_s // 3600)} h"


def gib(size_bytes: int | None) -> str:
    """Bytes as GiB with one decimal ("5.6 GiB"), the one unit used for model sizes."""
    return "n/a" if size_bytes is None else f"{size_bytes / GIB:.1f} GiB"


def live_spec(spec: HardwareSpec, sample: SystemSample | None) -> HardwareSpec:
    """`spec` with the memory and per-GPU live values of `sample` (the header stays current)."""
    if sample is None:
        return spec
    mem = replace(
        spec.memory,
        used_mib=sample.ram_used_mib,
        available_mib=max(0, sample.ram_total_mib - sample.ram_used_mib),
        swap_used_mib=sample.swap_used_mib
        if sample.swap_used_mib is not None
        else spec.memory.swap_used_mib,
    )
    gpus = list(spec.gpus)
    for g in sample.gpus:
        if g.index < len(gpus) and gpus[g.index].index == g.index:
            used, total = g.vram_used_mib, g.vram_total_mib
            gpus[g.index] = replace(
                gpus[g.index],
                vram_used_mib=used,
                vram_free_mib=total - used if used is not None and total else None,
                utilization_pct=g.utilization_pct,
                temperature_c=g.temperature_c,
                power_w=g.power_w,
            )
    return replace(spec, memory=mem, gpus=tuple(gpus))
