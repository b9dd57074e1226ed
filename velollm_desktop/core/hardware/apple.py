"""Apple Silicon GPUs through `sysctl` and `system_profiler SPDisplaysDataType -json`.

The GPU shares the machine's RAM (unified memory): its "VRAM" is `hw.memsize`, of which
macOS lets the GPU wire about 2/3 (≤ 36 GiB machines) to 3/4 (larger) by default.
"""

from __future__ import annotations

import json

from velollm_desktop.core.hardware.model import GpuInfo, GpuVendor
from velollm_desktop.core.probe import log_once, run_tool

MIB = 1024 * 1024


def gpu_working_set_mib(memsize_mib: int) -> int:
    """Default GPU-usable share of unified memory in MiB (macOS's recommendedMaxWorkingSetSize)."""
    fraction = 0.75 if memsize_mib > 36 * 1024 else 2 / 3
    return int(memsize_mib * fraction)


def parse_system_profiler(text: str, memsize_bytes: int | None) -> list[GpuInfo]:
    """Parse `system_profiler SPDisplaysDataType -json`; memory comes from `hw.memsize`."""
    try:
        entries = json.loads(text).get("SPDisplaysDataType", [])
    except (ValueError, AttributeError, TypeError):
        log_once("sp-json", "system_profiler printed something that is not the expected JSON")
        return []
    gpus: list[GpuInfo] = []
    total = memsize_bytes // MIB if memsize_bytes else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("sppci_model") or entry.get("_name") or "GPU")
        vendor_tag = str(entry.get("spdisplays_vendor", "")).lower()
        apple = "apple" in vendor_tag or name.startswith("Apple")
        cores = entry.get("sppci_cores")
        gpus.append(
            GpuInfo(
                vendor=GpuVendor.APPLE if apple else GpuVendor.OTHER,
                name=name,
                index=len(gpus),
                vram_total_mib=total if apple else None,
                unified_memory=apple,
                integrated=apple,
                gpu_cores=int(str(cores)) if str(cores).isdigit() else None,
                driver_version=entry.get("spdisplays_mtlgpufamilysupport"),
                source="system_profiler",
            )
        )
    return gpus


def detect_apple() -> list[GpuInfo]:
    """Return the Mac's GPUs (bounded subprocesses; empty on failure)."""
    memsize = run_tool(["sysctl", "-n", "hw.memsize"])
    out = run_tool(["system_profiler", "SPDisplaysDataType", "-json"], timeout_s=2.0)
    if not out:
        return []
    try:
        mem = int(memsize.strip()) if memsize else None
    except ValueError:
        mem = None
    return parse_system_profiler(out, mem)
