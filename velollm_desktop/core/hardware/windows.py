"""Windows GPUs without NVML: the display-adapter class key in the registry.

`HardwareInformation.qwMemorySize` is a 64-bit value; WMI's `Win32_VideoController.AdapterRAM`
is 32-bit and caps at 4 GiB, so it is never used.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping

from velollm_desktop.core.hardware.model import GpuInfo, GpuVendor

if sys.platform == "win32":  # imported at load time: detection runs in a worker thread
    import winreg

MIB = 1024 * 1024
DISPLAY_CLASS_KEY = r"SYSTEM\CurrentControlSet\Control\Class\{4d36e968-e325-11ce-bfc1-08002be10318}"


def _vendor_of(name: str) -> GpuVendor:
    low = name.lower()
    if "nvidia" in low:
        return GpuVendor.NVIDIA
    if "amd" in low or "radeon" in low:
        return GpuVendor.AMD
    if "intel" in low:
        return GpuVendor.INTEL
    return GpuVendor.OTHER


def parse_display_adapters(entries: Iterable[Mapping[str, object]]) -> list[GpuInfo]:
    """Build GPUs from registry value maps (`DriverDesc`, `DriverVersion`, `HardwareInformation.qwMemorySize`)."""
    gpus: list[GpuInfo] = []
    for values in entries:
        name = values.get("DriverDesc")
        if not isinstance(name, str) or "basic display" in name.lower():
            continue
        qw = values.get("HardwareInformation.qwMemorySize")
        if isinstance(qw, (bytes, bytearray)):
            qw = int.from_bytes(qw[:8], "little")
        total = int(qw) // MIB if isinstance(qw, int) and qw > 0 else None
        driver = values.get("DriverVersion")
        gpus.append(
            GpuInfo(
                vendor=_vendor_of(name),
                name=name,
                index=len(gpus),
                vram_total_mib=total,
                driver_version=str(driver) if driver else None,
                source="registry",
            )
        )
    return gpus


def _read_registry() -> list[dict[str, object]]:  # pragma: no cover - Windows only
    entries = []
    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, DISPLAY_CLASS_KEY) as root:
        for i in range(winreg.QueryInfoKey(root)[0]):
            sub = winreg.EnumKey(root, i)
            if not sub.isdigit():
                continue
            values: dict[str, object] = {}
            try:
                with winreg.OpenKey(root, sub) as key:
                    for name in ("DriverDesc", "DriverVersion", "HardwareInformation.qwMemorySize"):
                        try:
                            values[name] = winreg.QueryValueEx(key, name)[0]
                        except OSError:
                            pass
            except OSError:
                continue
            entries.append(values)
    return entries


def detect_windows_registry() -> list[GpuInfo]:
    """Return GPUs from the registry (empty off Windows or on any error)."""
    if sys.platform != "win32":
        return []
    try:
        return parse_display_adapters(_read_registry())
    except OSError:
        return []
