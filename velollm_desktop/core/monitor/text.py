"""Plain-text summaries of a sample for the tray tooltip (no Qt)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from velollm_desktop.core.hardware.report import fmt

if TYPE_CHECKING:  # types only: keeps psutil/NVML and the model classes off the tray's start path
    from velollm_desktop.core.monitor.sampler import SystemSample
    from velollm_desktop.core.ollama.models import LoadedModel

GIB = 1024**3


def tooltip_text(
    sample: SystemSample | None, models: Sequence[LoadedModel] | None, paused: bool = False
) -> str:
    """The tray tooltip: one line per GPU, CPU, RAM, then Ollama's loaded models."""
    lines = ["VeloLLM Desktop" + (" (paused)" if paused else "")]
    if sample is None:
        lines.append("Waiting for the first reading…")
        return "\n".join(lines)
    for g in sample.gpus:
        vram = f"{fmt(g.vram_used_mib)}/{fmt(g.vram_total_mib)} MiB"
        lines.append(
            f"GPU{g.index} {fmt(g.utilization_pct, '%')}  VRAM {vram}  {fmt(g.temperature_c, '°C')}  {fmt(g.power_w, 'W')}"
        )
    lines.append(
        f"CPU {sample.cpu_pct:.0f} %  RAM {sample.ram_used_mib}/{sample.ram_total_mib} MiB"
    )
    if models is None:
        lines.append("Ollama: not running")
    elif not models:
        lines.append("Ollama: no model loaded")
    else:
        for m in models:
            lines.append(
                f"{m.name}: {m.size_bytes / GIB:.1f} GiB, {m.placement}, ctx {fmt(m.context_length)}"
            )
    return "\n".join(lines)
