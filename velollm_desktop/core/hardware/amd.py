"""AMD GPUs through `rocm-smi --json` (ROCm installs), complementing sysfs.

rocm-smi's JSON keys changed across ROCm releases, so fields are matched by the stable part
of their names ("VRAM Total Memory (B)", "GPU use (%)", "Temperature (Sensor edge) (C)",
"... Graphics Package Power (W)").
"""

from __future__ import annotations

import json

from velollm_desktop.core.hardware.model import GpuInfo, GpuVendor
from velollm_desktop.core.probe import log_once, run_tool, to_float

MIB = 1024 * 1024
ROCM_SMI_ARGS = [
    "rocm-smi",
    "--showproductname",
    "--showmeminfo",
    "vram",
    "--showuse",
    "--showtemp",
    "--showpower",
    "--showdriverversion",
    "--json",
]


def _find(card: dict, *needles: str) -> object | None:
    for key, value in card.items():
        if all(n.lower() in key.lower() for n in needles):
            return value
    return None


def parse_rocm_smi_json(text: str) -> list[GpuInfo]:
    """Parse rocm-smi's `--json` output into GPUs (empty on garbage)."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        log_once("rocm-json", "rocm-smi printed something that is not JSON")
        return []
    if not isinstance(data, dict):
        return []
    driver = None
    system = data.get("system")
    if isinstance(system, dict):
        driver = _find(system, "driver version")
    gpus: list[GpuInfo] = []
    for key in sorted(k for k in data if k.startswith("card")):
        card = data[key]
        if not isinstance(card, dict):
            continue
        total_b = to_float(_find(card, "vram total memory"))
        used_b = to_float(_find(card, "vram total used"))
        total = int(total_b) // MIB if total_b is not None else None
        used = int(used_b) // MIB if used_b is not None else None
        name = _find(card, "card series") or _find(card, "card model") or "AMD GPU"
        gpus.append(
            GpuInfo(
                vendor=GpuVendor.AMD,
                name=str(name),
                index=len(gpus),
                vram_total_mib=total,
                vram_used_mib=used,
                vram_free_mib=total - used if total is not None and used is not None else None,
                driver_version=str(driver) if driver else None,
                utilization_pct=to_float(_find(card, "gpu use")),
                temperature_c=to_float(_find(card, "temperature", "edge")),
                power_w=to_float(_find(card, "graphics package power")),
                source="rocm-smi",
            )
        )
    return gpus


def detect_rocm_smi() -> list[GpuInfo]:
    """Run rocm-smi (bounded) and parse it; empty if absent or failing."""
    out = run_tool(ROCM_SMI_ARGS)
    return parse_rocm_smi_json(out) if out else []
