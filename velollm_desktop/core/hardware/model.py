"""Frozen dataclasses describing one reading of the machine's hardware.

Units are in the field names: `_mib` is mebibytes (2**20 bytes), `_mhz` megahertz,
`_c` degrees Celsius, `_w` watts, `_pct` percent (0–100). `None` means "not exposed by
this vendor / tool" and is shown as "n/a".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class GpuVendor(str, Enum):
    """Who made the GPU."""

    NVIDIA = "nvidia"
    AMD = "amd"
    APPLE = "apple"
    INTEL = "intel"
    OTHER = "other"


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as seen by its vendor's interface."""

    vendor: GpuVendor
    name: str
    index: int = 0
    vram_total_mib: int | None = None
    vram_used_mib: int | None = None
    vram_free_mib: int | None = None
    driver_version: str | None = None
    compute_capability: str | None = None
    utilization_pct: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    fan_pct: float | None = None
    unified_memory: bool = False
    integrated: bool = False
    gpu_cores: int | None = None
    uuid: str | None = None
    pci_bus_id: str | None = None
    source: str = ""
    """Which interface produced this record (nvml, nvidia-smi, sysfs, rocm-smi, …)."""


@dataclass(frozen=True)
class CpuInfo:
    """The host CPU."""

    model: str
    physical_cores: int | None
    logical_cores: int | None
    freq_current_mhz: float | None = None
    freq_max_mhz: float | None = None
    simd_flags: tuple[str, ...] = ()
    """SIMD extensions llama.cpp can use (avx, avx2, avx512f, fma, f16c, neon, …)."""


@dataclass(frozen=True)
class MemoryInfo:
    """System RAM and swap, in MiB."""

    total_mib: int
    available_mib: int
    used_mib: int
    swap_total_mib: int | None = None
    swap_used_mib: int | None = None


@dataclass(frozen=True)
class HardwareSpec:
    """Everything `velollm detect` reports."""

    gpus: tuple[GpuInfo, ...]
    cpu: CpuInfo
    memory: MemoryInfo
    os: str
    os_version: str
    arch: str
    notes: tuple[str, ...] = field(default=())
    """Human-readable remarks from probes (e.g. "NVML not available: driver not loaded")."""

    @property
    def total_vram_mib(self) -> int:
        """Sum of dedicated VRAM over all GPUs, in MiB (unified memory excluded)."""
        return sum(g.vram_total_mib or 0 for g in self.gpus if not g.unified_memory)

    @property
    def discrete_gpus(self) -> tuple[GpuInfo, ...]:
        """GPUs with their own known VRAM (not integrated, not unified memory)."""
        return tuple(
            g for g in self.gpus if not g.unified_memory and not g.integrated and g.vram_total_mib
        )


def hardware_from_json(data: dict) -> HardwareSpec:
    """Rebuild a HardwareSpec from `velollm detect --json` output (to plan for another machine)."""
    gpu_fields = set(GpuInfo.__dataclass_fields__)
    gpus = []
    for g in data.get("gpus") or []:
        kw = {k: v for k, v in g.items() if k in gpu_fields}
        kw["vendor"] = GpuVendor(kw.get("vendor", "other"))
        gpus.append(GpuInfo(**kw))
    c = data["cpu"]
    cpu = CpuInfo(
        model=c.get("model", "?"),
        physical_cores=c.get("physical_cores"),
        logical_cores=c.get("logical_cores"),
        freq_current_mhz=c.get("freq_current_mhz"),
        freq_max_mhz=c.get("freq_max_mhz"),
        simd_flags=tuple(c.get("simd_flags") or ()),
    )
    m = data["memory"]
    mem = MemoryInfo(
        total_mib=m["total_mib"],
        available_mib=m.get("available_mib", m["total_mib"]),
        used_mib=m.get("used_mib", 0),
        swap_total_mib=m.get("swap_total_mib"),
        swap_used_mib=m.get("swap_used_mib"),
    )
    return HardwareSpec(
        gpus=tuple(gpus),
        cpu=cpu,
        memory=mem,
        os=data.get("os", "?"),
        os_version=data.get("os_version", ""),
        arch=data.get("arch", "?"),
        notes=tuple(data.get("notes") or ()),
    )
