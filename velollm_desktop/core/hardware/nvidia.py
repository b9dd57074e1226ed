"""NVIDIA GPUs through NVML (nvidia-ml-py's `pynvml`), with `nvidia-smi` as a fallback.

NVML is initialised once, lazily, on first use, and shut down at interpreter exit. Every
NVML call goes through `Nvml.query`, which turns the vendor's error hierarchy into `None`
(logged once per function): a data-centre card has no fan, a laptop GPU may not report
power, a GPU can fall off the bus mid-run.

Units: NVML reports memory in bytes and power in milliwatts; we convert to MiB and W.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from velollm_desktop.core.hardware.model import GpuInfo, GpuVendor
from velollm_desktop.core.probe import log_once, run_tool, to_float

log = logging.getLogger(__name__)

MIB = 1024 * 1024

SMI_QUERY_FIELDS = (
    "index,name,uuid,driver_version,memory.total,memory.used,memory.free,"
    "utilization.gpu,utilization.memory,temperature.gpu,power.draw,power.limit,"
    "clocks.sm,clocks.mem,compute_cap,pci.bus_id"
)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class NvmlSample:
    """One batch read of a GPU's live metrics (units in the names; `None` = not available)."""

    index: int
    utilization_pct: float | None
    memory_utilization_pct: float | None
    vram_used_mib: int | None
    vram_total_mib: int | None
    temperature_c: float | None
    power_w: float | None
    sm_clock_mhz: float | None
    mem_clock_mhz: float | None
    energy_mj: int | None = None
    """Energy since the driver loaded (nvmlDeviceGetTotalEnergyConsumption, Volta and later)."""


def _nvidia_driver_present() -> bool:
    """Cheap check before loading pynvml (~3 MB): on Linux the driver creates these nodes.

    Elsewhere (Windows, WSL, macOS) NVML itself is asked.
    """
    if not sys.platform.startswith("linux"):
        return True
    return any(
        os.path.exists(p)
        for p in ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")
    )


class Nvml:
    """A thin, failure-proof wrapper around one `pynvml` module.

    `module` is injectable so tests can pass a recorded fake; by default `pynvml` is
    imported on first use.
    """

    def __init__(self, module: ModuleType | Any | None = None) -> None:
        self._module = module
        self._lock = threading.Lock()
        self._initialised = False
        self._failed_reason: str | None = None
        self._handles: dict[int, Any] = {}

    # -- life cycle -------------------------------------------------------------------
    def available(self) -> bool:
        """Initialise NVML if needed; return whether it can be used."""
        with self._lock:
            if self._initialised:
                return True
            if self._failed_reason is not None:
                return False
            if self._module is None and not _nvidia_driver_present():
                self._failed_reason = "NVML not available: no NVIDIA driver on this machine"
                log_once("nvml-init", "%s", self._failed_reason)
                return False
            try:
                if self._module is None:
                    import pynvml  # noqa: PLC0415 - optional, loaded lazily

                    self._module = pynvml
                self._module.nvmlInit()
            except Exception as exc:  # noqa: BLE001 - any failure means "no NVML"
                self._failed_reason = f"NVML not available: {exc}"
                log_once("nvml-init", "%s", self._failed_reason)
                return False
            self._initialised = True
            atexit.register(self.shutdown)
            return True

    @property
    def failed_reason(self) -> str | None:
        """Why NVML could not be initialised, or `None`."""
        return self._failed_reason

    def shutdown(self) -> None:
        """Release NVML (safe to call twice)."""
        with self._lock:
            if not self._initialised:
                return
            self._initialised = False
            self._handles.clear()
            try:
                if self._module is not None:
                    self._module.nvmlShutdown()
            except Exception as exc:  # noqa: BLE001
                log.debug("nvmlShutdown failed: %s", exc)

    # -- the one choke point ------------------------------------------------------------
    def query(self, fn_name: str, *args: Any, default: Any = None) -> Any:
        """Call `pynvml.<fn_name>(*args)`; return `default` on any NVML error.

        A function the driver does not support (or the library lacks) is logged once.
        """
        fn: Callable[..., Any] | None = getattr(self._module, fn_name, None)
        if fn is None:
            log_once(f"nvml-missing:{fn_name}", "NVML has no %s; reporting n/a", fn_name)
            return default
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - NVMLError and its many subclasses
            log_once(f"nvml-err:{fn_name}:{type(exc).__name__}", "%s: %s", fn_name, exc)
            return default

    def _handle(self, index: int) -> Any:
        handle = self._handles.get(index)
        if handle is None:
            handle = self.query("nvmlDeviceGetHandleByIndex", index)
            if handle is not None:
                self._handles[index] = handle
        return handle

    def forget_handles(self) -> None:
        """Drop cached device handles (after a GPU was lost)."""
        self._handles.clear()

    # -- reads --------------------------------------------------------------------------
    def device_count(self) -> int:
        """Number of GPUs NVML sees (0 when unavailable)."""
        if not self.available():
            return 0
        return int(self.query("nvmlDeviceGetCount", default=0) or 0)

    def gpu_info(self, index: int) -> GpuInfo | None:
        """Static facts plus one live sample of GPU `index`, or `None` if it is gone."""
        handle = self._handle(index)
        if handle is None:
            return None
        name = self.query("nvmlDeviceGetName", handle, default="NVIDIA GPU")
        driver = self.query("nvmlSystemGetDriverVersion")
        cc = self.query("nvmlDeviceGetCudaComputeCapability", handle)
        pci = self.query("nvmlDeviceGetPciInfo", handle)
        limit_mw = self.query("nvmlDeviceGetEnforcedPowerLimit", handle)
        fan = self.query("nvmlDeviceGetFanSpeed", handle)
        sample = self.sample(index)
        used, total = sample.vram_used_mib, sample.vram_total_mib
        return GpuInfo(
            vendor=GpuVendor.NVIDIA,
            name=_text(name),
            index=index,
            vram_total_mib=total,
            vram_used_mib=used,
            vram_free_mib=(total - used) if total is not None and used is not None else None,
            driver_version=_text(driver) if driver is not None else None,
            compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
            utilization_pct=sample.utilization_pct,
            temperature_c=sample.temperature_c,
            power_w=sample.power_w,
            power_limit_w=limit_mw / 1000.0 if limit_mw is not None else None,
            fan_pct=float(fan) if fan is not None else None,
            uuid=_text(self.query("nvmlDeviceGetUUID", handle)) if handle is not None else None,
            pci_bus_id=_text(getattr(pci, "busId", "")) or None if pci is not None else None,
            source="nvml",
        )

    def sample(self, index: int) -> NvmlSample:
        """One batch read of live metrics of GPU `index` (all `None` if the GPU is gone)."""
        handle = self._handle(index)
        if handle is None:
            return NvmlSample(index, None, None, None, None, None, None, None, None)
        util = self.query("nvmlDeviceGetUtilizationRates", handle)
        mem = self.query("nvmlDeviceGetMemoryInfo", handle)
        temp = self.query("nvmlDeviceGetTemperature", handle, 0)  # 0 = NVML_TEMPERATURE_GPU
        power_mw = self.query("nvmlDeviceGetPowerUsage", handle)
        sm = self.query("nvmlDeviceGetClockInfo", handle, 1)  # 1 = NVML_CLOCK_SM
        memclk = self.query("nvmlDeviceGetClockInfo", handle, 2)  # 2 = NVML_CLOCK_MEM
        energy = self.query("nvmlDeviceGetTotalEnergyConsumption", handle)
        if util is None and mem is None and temp is None:
            # Everything failed at once: the handle is probably stale (GPU lost / reset).
            self._handles.pop(index, None)
        return NvmlSample(
            index=index,
            utilization_pct=float(util.gpu) if util is not None else None,
            memory_utilization_pct=float(util.memory) if util is not None else None,
            vram_used_mib=int(mem.used) // MIB if mem is not None else None,
            vram_total_mib=int(mem.total) // MIB if mem is not None else None,
            temperature_c=float(temp) if temp is not None else None,
            power_w=power_mw / 1000.0 if power_mw is not None else None,
            sm_clock_mhz=float(sm) if sm is not None else None,
            mem_clock_mhz=float(memclk) if memclk is not None else None,
            energy_mj=int(energy) if isinstance(energy, int) and energy >= 0 else None,
        )


NVML = Nvml()
"""The process-wide NVML wrapper (initialised lazily on first use)."""


def detect_nvidia_nvml(nvml: Nvml = NVML) -> list[GpuInfo]:
    """Return NVIDIA GPUs through NVML, or an empty list if NVML is unavailable."""
    gpus = []
    for i in range(nvml.device_count()):
        info = nvml.gpu_info(i)
        if info is not None:
            gpus.append(info)
    return gpus


def parse_nvidia_smi_csv(text: str) -> list[GpuInfo]:
    """Parse `nvidia-smi --query-gpu=SMI_QUERY_FIELDS --format=csv,noheader,nounits`.

    Lines that do not have the expected 16 columns are skipped; "[N/A]" and
    "[Not Supported]" become `None`.
    """
    gpus = []
    for line in text.splitlines():
        cols = [c.strip() for c in line.split(",")]
        if len(cols) != 16:
            continue
        idx, name, uuid, driver, total, used, free = cols[:7]
        util, _memutil, temp, power, limit, _sm, _mem, cc, bus = cols[7:]

        def as_int(v: str) -> int | None:
            f = to_float(v)
            return int(f) if f is not None else None

        index = as_int(idx)
        if index is None or not name:
            continue
        gpus.append(
            GpuInfo(
                vendor=GpuVendor.NVIDIA,
                name=name,
                index=index,
                vram_total_mib=as_int(total),
                vram_used_mib=as_int(used),
                vram_free_mib=as_int(free),
                driver_version=driver or None,
                compute_capability=cc if to_float(cc) is not None else None,
                utilization_pct=to_float(util),
                temperature_c=to_float(temp),
                power_w=to_float(power),
                power_limit_w=to_float(limit),
                uuid=uuid or None,
                pci_bus_id=bus or None,
                source="nvidia-smi",
            )
        )
    return gpus


def detect_nvidia_smi() -> list[GpuInfo]:
    """Fallback when NVML is unavailable: one bounded `nvidia-smi` call."""
    out = run_tool(
        ["nvidia-smi", f"--query-gpu={SMI_QUERY_FIELDS}", "--format=csv,noheader,nounits"]
    )
    return parse_nvidia_smi_csv(out) if out else []
