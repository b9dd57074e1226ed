"""Where energy can be read on this machine, one class per source.

- NVIDIA: NVML's total energy counter (`nvmlDeviceGetTotalEnergyConsumption`, millijoules
  since the driver loaded; Volta and newer) and its power reading (`nvmlDeviceGetPowerUsage`,
  milliwatts) for integration when the counter is missing.
- AMD: the amdgpu hwmon files (`/sys/class/drm/card*/device/hwmon/hwmon*/`): `energy1_input`
  (microjoules) where the kernel exposes it, else `power1_average` / `power1_input`
  (microwatts), see the kernel's Documentation/gpu/amdgpu/thermal.rst.
- CPU package: Linux powercap RAPL (`/sys/class/powercap/intel-rapl:N/energy_uj`, microjoules,
  wrapping at `max_energy_range_uj`; readable by root only since CVE-2020-8694).

Every reader returns `None` on any failure: a source that stops answering is reported, not
raised. Units are in the names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from velollm_desktop.core.hardware.nvidia import NVML, Nvml
from velollm_desktop.core.probe import log_once

log = logging.getLogger(__name__)

MAX_SYSFS_BYTES = 64


class EnergySource(Protocol):
    """One device whose energy and/or power can be read."""

    name: str
    """"gpu0 (nvml)", "package-0 (rapl)", …"""
    wrap_j: float | None
    """The counter's range: a reading below the previous one wrapped once (None: never wraps)."""

    def energy_j(self) -> float | None:
        """The cumulative counter in joules, or None when this source has none."""

    def power_w(self) -> float | None:
        """The current power in watts, or None."""


def read_number(path: Path) -> float | None:
    """A non-negative integer from a sysfs file, or None (missing, unreadable, not a number)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_SYSFS_BYTES + 1)
    except OSError as exc:
        log_once(f"energy-read:{path}", "cannot read %s: %s", path, exc)
        return None
    digits = raw.strip()  # ASCII whitespace only (str.strip would also take \x1c-\x1f)
    if len(raw) > MAX_SYSFS_BYTES or not digits.isdigit():
        return None
    return float(digits.decode("ascii"))


@dataclass
class NvmlEnergy:
    """One NVIDIA GPU through NVML."""

    index: int
    nvml: Nvml = NVML
    name: str = ""
    wrap_j: float | None = None  # an unsigned long long of mJ: it does not wrap in practice

    def __post_init__(self) -> None:
        self.name = self.name or f"gpu{self.index} (nvml)"

    def _handle(self) -> object:
        if not self.nvml.available():
            return None
        return self.nvml.query("nvmlDeviceGetHandleByIndex", self.index)

    def energy_j(self) -> float | None:
        handle = self._handle()
        mj = (
            self.nvml.query("nvmlDeviceGetTotalEnergyConsumption", handle)
            if handle is not None
            else None
        )
        return float(mj) / 1000.0 if isinstance(mj, (int, float)) and mj >= 0 else None

    def power_w(self) -> float | None:
        handle = self._handle()
        mw = self.nvml.query("nvmlDeviceGetPowerUsage", handle) if handle is not None else None
        return float(mw) / 1000.0 if isinstance(mw, (int, float)) and mw >= 0 else None


@dataclass
class PowerOnly:
    """A source read through its power alone (the counter-less view, for the accuracy check)."""

    inner: EnergySource
    name: str = ""
    wrap_j: float | None = None

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.inner.name}, power only"

    def energy_j(self) -> float | None:
        return None

    def power_w(self) -> float | None:
        return self.inner.power_w()


@dataclass
class HwmonEnergy:
    """An amdgpu hwmon directory."""

    path: Path
    name: str = ""
    wrap_j: float | None = None

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.path.parents[2].name} (amdgpu hwmon)"

    def energy_j(self) -> float | None:
        uj = read_number(self.path / "energy1_input")
        return uj / 1e6 if uj is not None else None

    def power_w(self) -> float | None:
        for f in ("power1_average", "power1_input"):
            uw = read_number(self.path / f)
            if uw is not None:
                return uw / 1e6
        return None


@dataclass
class RaplEnergy:
    """One RAPL package domain (`intel-rapl:N`; AMD Zen exposes the same interface)."""

    path: Path
    name: str = ""
    wrap_j: float | None = None

    def __post_init__(self) -> None:
        label = _read_text(self.path / "name") or self.path.name
        self.name = self.name or f"{label} (rapl)"
        rng = read_number(self.path / "max_energy_range_uj")
        self.wrap_j = rng / 1e6 if rng else None

    def energy_j(self) -> float | None:
        uj = read_number(self.path / "energy_uj")
        return uj / 1e6 if uj is not None else None

    def power_w(self) -> float | None:
        return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")[:64].strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Discovery:
    """The sources found, and for each kind not found, why (shown as the "n/a" reason)."""

    sources: tuple[EnergySource, ...]
    reasons: tuple[str, ...]


def _nvidia(nvml: Nvml) -> tuple[list[EnergySource], str | None]:
    count = nvml.device_count()
    if count == 0:
        return [], f"no NVIDIA energy: {nvml.failed_reason or 'no NVIDIA GPU'}"
    found: list[EnergySource] = []
    for i in range(count):
        src = NvmlEnergy(i, nvml)
        if src.energy_j() is not None or src.power_w() is not None:
            found.append(src)
    return found, None if found else "NVIDIA GPU reports neither energy nor power"


def _amd(sys_root: Path) -> tuple[list[EnergySource], str | None]:
    found: list[EnergySource] = []
    for mon in sorted(sys_root.glob("class/drm/card*/device/hwmon/hwmon*")):
        if _read_text(mon / "name") != "amdgpu":
            continue
        src = HwmonEnergy(mon)
        if src.energy_j() is not None or src.power_w() is not None:
            found.append(src)
    return found, None if found else "no AMD GPU energy (no readable amdgpu hwmon)"


def _rapl(sys_root: Path) -> tuple[list[EnergySource], str | None]:
    base = sys_root / "class/powercap"
    if not base.is_dir():
        return [], "no CPU package energy: this kernel exposes no powercap (RAPL) here"
    found: list[EnergySource] = []
    for dom in sorted(base.glob("intel-rapl:*")):
        if dom.name.count(":") != 1:
            continue  # sub-domains (core, uncore, dram) are inside the package's count
        src = RaplEnergy(dom)
        if src.energy_j() is not None:
            found.append(src)
    if not found:
        return [], "no CPU package energy: RAPL's energy_uj is not readable (root only)"
    return found, None


def discover(sys_root: Path = Path("/sys"), nvml: Nvml = NVML) -> Discovery:
    """Every readable energy source on this machine (GPUs first, then CPU packages)."""
    sources: list[EnergySource] = []
    reasons: list[str] = []
    for found, why in (_nvidia(nvml), _amd(sys_root), _rapl(sys_root)):
        sources += found
        if why:
            reasons.append(why)
    return Discovery(tuple(sources), tuple(reasons))
