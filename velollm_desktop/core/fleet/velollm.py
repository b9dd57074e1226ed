"""VeloLLM's own exporter (`velollm exporter`) as a fleet target: detection and mapping.

Its series are documented in docs/guides/FLEET.md ("The VeloLLM exporter"); this module reads
them back into a TargetStatus, including one `ModelRow` per loaded model. Values outside what
hardware can produce are dropped like the other exporters' (mapping.bounded).
"""

from __future__ import annotations

from velollm_desktop.core.fleet.expo import Metrics, clean_text, total
from velollm_desktop.core.fleet.mapping import MAX_POWER_W, MAX_RAM_BYTES, TEMP_RANGE_C, bounded
from velollm_desktop.core.fleet.model import GpuStatus, ModelRow, TargetStatus

MARKER = "velollm_exporter_build_info"
MAX_ROWS = 64
MAX_GPU_BYTES = float(1 << 44)


def is_velollm(metrics: Metrics) -> bool:
    """Whether these samples come from `velollm exporter` (its build-info series)."""
    return MARKER in metrics


def _by_labels(metrics: Metrics, name: str, keys: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for labels, value in metrics.get(name, ()):
        out.setdefault(tuple(labels.get(k, "") for k in keys), value)
    return out


def model_rows(metrics: Metrics) -> list[ModelRow]:
    """One row per (model, digest, processor) seen in velollm_ollama_model_size_bytes."""
    keys = ("model", "digest", "processor")
    sizes = _by_labels(metrics, "velollm_ollama_model_size_bytes", keys)
    vram = _by_labels(metrics, "velollm_ollama_model_vram_bytes", keys)
    ctx = _by_labels(metrics, "velollm_ollama_model_context_tokens", keys)
    until = _by_labels(metrics, "velollm_ollama_model_unload_seconds", keys)
    spill = _by_labels(metrics, "velollm_ollama_model_spill", keys)
    rows = []
    for key, size in list(sizes.items())[:MAX_ROWS]:
        size_b = bounded(size, 0, MAX_RAM_BYTES)
        vram_b = bounded(vram.get(key), 0, MAX_RAM_BYTES)
        context = bounded(ctx.get(key), 1, 1 << 31)
        rows.append(
            ModelRow(
                name=clean_text(key[0], 128),
                digest=clean_text(key[1], 12),
                processor=clean_text(key[2], 16),
                size_bytes=int(size_b) if size_b is not None else None,
                vram_bytes=int(vram_b) if vram_b is not None else None,
                context_tokens=int(context) if context is not None else None,
                unload_s=bounded(until.get(key), 0, 1e9),
                spills=None if spill.get(key) is None else spill[key] >= 0.5,
            )
        )
    return rows


def gpus(metrics: Metrics) -> list[GpuStatus]:
    """One GpuStatus per (index, name, uuid) label set of the exporter's GPU series."""
    keys = ("index", "name", "uuid")
    series = {
        name: _by_labels(metrics, f"velollm_gpu_{name}", keys)
        for name in (
            "utilization_ratio",
            "memory_used_bytes",
            "memory_total_bytes",
            "temperature_celsius",
            "power_watts",
        )
    }
    seen: list[tuple[str, ...]] = []
    for values in series.values():
        seen += [key for key in values if key not in seen]
    out = []
    for key in seen[:64]:
        util = bounded(series["utilization_ratio"].get(key), 0, 1)
        used = bounded(series["memory_used_bytes"].get(key), 0, MAX_GPU_BYTES)
        size = bounded(series["memory_total_bytes"].get(key), 1, MAX_GPU_BYTES)
        out.append(
            GpuStatus(
                name=clean_text(f"GPU {key[0]} {key[1]}".strip(), 100),
                load_pct=util * 100 if util is not None else None,
                vram_used_bytes=int(used) if used is not None else None,
                vram_total_bytes=int(size) if size is not None else None,
                temperature_c=bounded(series["temperature_celsius"].get(key), *TEMP_RANGE_C),
                power_w=bounded(series["power_watts"].get(key), 0, MAX_POWER_W),
            )
        )
    return out


def apply(metrics: Metrics, status: TargetStatus) -> None:
    """Fill `status` from one scrape of the exporter (Ollama down there is a note, not DOWN:
    the exporter itself answered)."""
    cpu = bounded(total(metrics, "velollm_host_cpu_utilization_ratio"), 0, 1)
    status.cpu_pct = cpu * 100 if cpu is not None else None
    used = bounded(total(metrics, "velollm_host_memory_used_bytes"), 0, MAX_RAM_BYTES)
    ram = bounded(total(metrics, "velollm_host_memory_total_bytes"), 1, MAX_RAM_BYTES)
    if ram is not None:
        status.ram_total_bytes = int(ram)
        status.ram_used_bytes = int(used) if used is not None and used <= ram else None
    status.gpus = gpus(metrics)
    status.model_rows = model_rows(metrics)
    status.models = [row.name for row in status.model_rows]
    versions = [labels.get("version", "") for labels, _ in metrics.get("velollm_ollama_info", ())]
    status.version = clean_text(versions[0], 40) if versions else None
    if total(metrics, "velollm_ollama_up") != 1.0:
        status.note = "the exporter answers, but Ollama there does not"


GIB = 1024**3


def _gib(value: int | None) -> str:
    return "-" if value is None else f"{value / GIB:.1f} GiB"


def row_text(row: ModelRow) -> str:
    """One model as the Fleet page and `velollm fleet` show it."""
    ram = (
        None
        if row.size_bytes is None or row.vram_bytes is None
        else row.size_bytes - row.vram_bytes
    )
    bits = [f"model {row.name}", row.processor, f"VRAM {_gib(row.vram_bytes)}", f"RAM {_gib(ram)}"]
    if row.context_tokens is not None:
        bits.append(f"ctx {row.context_tokens}")
    if row.unload_s is not None:
        bits.append(f"unloads in {row.unload_s:.0f} s")
    if row.spills:
        bits.append("SPILLS to RAM")
    return " · ".join(bits)
