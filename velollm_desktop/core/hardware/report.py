"""Text rendering of a `HardwareSpec` for the CLI (`velollm detect`) and the GUI summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: the tray tooltip uses fmt() without loading the model classes
    from velollm_desktop.core.hardware.model import GpuInfo, HardwareSpec

NA = "n/a"


def fmt(value: object, unit: str = "", digits: int = 0) -> str:
    """Format a metric with its unit, or "n/a" when it is `None`."""
    if value is None:
        return NA
    if isinstance(value, float):
        value = f"{value:.{digits}f}"
    return f"{value} {unit}".strip()


def gpu_lines(gpu: GpuInfo) -> list[str]:
    """Readable lines describing one GPU."""
    kind = (
        "unified memory" if gpu.unified_memory else ("integrated" if gpu.integrated else "discrete")
    )
    lines = [f"GPU {gpu.index}: {gpu.name} ({gpu.vendor.value}, {kind}, via {gpu.source})"]
    lines.append(
        f"  VRAM     {fmt(gpu.vram_total_mib, 'MiB')} total, {fmt(gpu.vram_used_mib, 'MiB')} used,"
        f" {fmt(gpu.vram_free_mib, 'MiB')} free"
    )
    lines.append(
        f"  Driver   {fmt(gpu.driver_version)}   Compute capability {fmt(gpu.compute_capability)}"
    )
    lines.append(
        f"  Load     {fmt(gpu.utilization_pct, '%')}   Temp {fmt(gpu.temperature_c, '°C')}"
        f"   Power {fmt(gpu.power_w, 'W', 1)} / {fmt(gpu.power_limit_w, 'W')}   Fan {fmt(gpu.fan_pct, '%')}"
    )
    if gpu.gpu_cores:
        lines.append(f"  GPU cores {gpu.gpu_cores}")
    return lines


def render_text(spec: HardwareSpec) -> str:
    """The `velollm detect` table."""
    cpu, mem = spec.cpu, spec.memory
    lines = [
        f"OS       {spec.os} {spec.os_version} ({spec.arch})",
        f"CPU      {cpu.model}",
        f"         {fmt(cpu.physical_cores)} physical cores, {fmt(cpu.logical_cores)} threads,"
        f" {fmt(cpu.freq_current_mhz, 'MHz')} now / {fmt(cpu.freq_max_mhz, 'MHz')} max",
        f"         SIMD: {', '.join(cpu.simd_flags) or NA}",
        f"Memory   {mem.total_mib} MiB total, {mem.available_mib} MiB available, {mem.used_mib} MiB used;"
        f" swap {fmt(mem.swap_used_mib, 'MiB')} / {fmt(mem.swap_total_mib, 'MiB')}",
    ]
    if spec.gpus:
        for gpu in spec.gpus:
            lines += gpu_lines(gpu)
    else:
        lines.append("GPU      none detected (CPU-only inference)")
    lines += [f"Note     {n}" for n in spec.notes]
    return "\n".join(lines)


def one_line(spec: object) -> str:
    """ "CPU model (N threads), 16.0 GiB RAM, GPU: name 80.0 GiB" for a table header.

    `spec` is a HardwareSpec or its JSON object (an imported result); anything else is "n/a".
    """

    def get(obj: object, key: str) -> object:
        return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)

    cpu, mem = get(spec, "cpu"), get(spec, "memory")
    if cpu is None and mem is None:
        return NA
    parts = [f"{get(cpu, 'model') or 'CPU'} ({fmt(get(cpu, 'logical_cores'))} threads)"]
    total = get(mem, "total_mib")
    if isinstance(total, (int, float)):
        parts.append(f"{total / 1024:.1f} GiB RAM")
    gpus = get(spec, "gpus") or ()
    names = []
    for g in gpus if isinstance(gpus, (list, tuple)) else ():
        vram = get(g, "vram_total_mib")
        size = f" {vram / 1024:.1f} GiB" if isinstance(vram, (int, float)) else ""
        names.append(f"{get(g, 'name')}{size}")
    parts.append(f"GPU: {', '.join(names)}" if names else "no GPU")
    return ", ".join(parts)
