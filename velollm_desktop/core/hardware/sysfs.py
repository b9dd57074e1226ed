"""AMD and Intel GPUs through Linux sysfs (`/sys/class/drm/card*/device`), plus lspci names.

AMD's amdgpu driver exposes VRAM (`mem_info_vram_total/used`, bytes), busy %, and hwmon
temperature (m°C) and power (µW). On an APU the "VRAM" is a small BIOS carve-out and the
model really lives in GTT (system RAM): such GPUs are marked `integrated`, and GTT is never
reported as VRAM. Intel's i915/xe drivers expose no VRAM counter for integrated GPUs.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from velollm_desktop.core.hardware.model import GpuInfo, GpuVendor
from velollm_desktop.core.probe import read_int, read_text, run_tool

MIB = 1024 * 1024
PCI_VENDORS = {"0x1002": GpuVendor.AMD, "0x8086": GpuVendor.INTEL, "0x10de": GpuVendor.NVIDIA}
_CARD_RE = re.compile(r"^card\d+$")
INTEGRATED_VRAM_MAX_MIB = 2048
"""A carve-out at or below this size, next to a larger GTT, marks an integrated AMD GPU."""


def _hwmon_value(device: Path, names: tuple[str, ...]) -> int | None:
    for hwmon in sorted(device.glob("hwmon/hwmon*")):
        for name in names:
            value = read_int(hwmon / name)
            if value is not None:
                return value
    return None


def parse_lspci_name(line: str) -> str | None:
    """Return "Vendor Device" from one `lspci -mm` line, or `None` if it cannot be parsed."""
    try:
        parts = shlex.split(line)
    except ValueError:
        return None
    if len(parts) < 4:
        return None
    vendor = re.sub(r"\s*\[[^\]]*\]$", "", parts[2]).replace(", Inc.", "").strip()
    return f"{vendor} {parts[3]}".strip()


def _pci_name(device: Path) -> str | None:
    try:
        slot = device.resolve().name
    except OSError:
        return None
    out = run_tool(["lspci", "-mm", "-s", slot])
    return parse_lspci_name(out.splitlines()[0]) if out else None


def _card_info(card: Path, index: int, vendor: GpuVendor) -> GpuInfo:
    device = card / "device"
    vram_total = read_int(device / "mem_info_vram_total")
    vram_used = read_int(device / "mem_info_vram_used")
    gtt_total = read_int(device / "mem_info_gtt_total")
    total_mib = vram_total // MIB if vram_total is not None else None
    used_mib = vram_used // MIB if vram_used is not None else None
    integrated = vendor is GpuVendor.INTEL and total_mib is None
    if vendor is GpuVendor.AMD and total_mib is not None and gtt_total is not None:
        integrated = total_mib <= INTEGRATED_VRAM_MAX_MIB and gtt_total // MIB > 2 * total_mib
    temp_milli = _hwmon_value(device, ("temp1_input",))
    power_micro = _hwmon_value(device, ("power1_average", "power1_input"))
    busy = read_int(device / "gpu_busy_percent")
    name = (
        _pci_name(device) or f"{vendor.value.upper()} GPU ({read_text(device / 'device') or '?'})"
    )
    return GpuInfo(
        vendor=vendor,
        name=name,
        index=index,
        vram_total_mib=total_mib,
        vram_used_mib=used_mib,
        vram_free_mib=total_mib - used_mib
        if total_mib is not None and used_mib is not None
        else None,
        utilization_pct=float(busy) if busy is not None else None,
        temperature_c=temp_milli / 1000.0 if temp_milli is not None else None,
        power_w=power_micro / 1_000_000.0 if power_micro is not None else None,
        integrated=integrated,
        pci_bus_id=device.resolve().name if device.exists() else None,
        source="sysfs",
    )


def detect_sysfs_gpus(
    drm_root: Path = Path("/sys/class/drm"),
    vendors: tuple[GpuVendor, ...] = (GpuVendor.AMD, GpuVendor.INTEL),
) -> list[GpuInfo]:
    """Return the AMD / Intel GPUs listed under `drm_root` (empty if absent)."""
    gpus: list[GpuInfo] = []
    try:
        cards = sorted(
            (p for p in drm_root.iterdir() if _CARD_RE.match(p.name)), key=lambda p: int(p.name[4:])
        )
    except OSError:
        return gpus
    for card in cards:
        vendor = PCI_VENDORS.get((read_text(card / "device" / "vendor") or "").lower())
        if vendor in vendors:
            index = sum(1 for g in gpus if g.vendor is vendor)
            gpus.append(_card_info(card, index, vendor))
    return gpus
