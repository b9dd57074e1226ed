"""Test doubles that replay recorded vendor output (documented in tests/fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

FIXTURES = Path(__file__).parent / "fixtures"


class NVMLError(Exception):
    """Stands in for pynvml.NVMLError (the real hierarchy derives from Exception too)."""


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_GpuIsLost(NVMLError):
    pass


class FakePynvml:
    """A pynvml-shaped object that answers with what a real H100 returned (nvml.json).

    `lose_gpu_after` makes every device call raise GpuIsLost after that many samples,
    to test a GPU that disappears mid-sampling; `init_error` makes nvmlInit fail.
    """

    def __init__(
        self,
        record: dict | None = None,
        *,
        init_error: Exception | None = None,
        lose_gpu_after: int | None = None,
    ) -> None:
        self.record = record or json.loads((FIXTURES / "h100" / "nvml.json").read_text())
        self.init_error = init_error
        self.lose_gpu_after = lose_gpu_after
        self.samples = 0
        self.init_calls = 0
        self.shutdown_calls = 0

    def _gpu(self, handle: int) -> dict:
        if self.lose_gpu_after is not None and self.samples >= self.lose_gpu_after:
            raise NVMLError_GpuIsLost("GPU is lost")
        return self.record["gpus"][handle]

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlDeviceGetCount(self) -> int:
        return self.record["count"]

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.record["driver"]

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        self._gpu(i)
        return i

    def nvmlDeviceGetName(self, h: int) -> str:
        return self._gpu(h)["name"]

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return self._gpu(h)["uuid"]

    def nvmlDeviceGetCudaComputeCapability(self, h: int) -> tuple[int, int]:
        return tuple(self._gpu(h)["cc"])

    def nvmlDeviceGetPciInfo(self, h: int) -> SimpleNamespace:
        return SimpleNamespace(busId=self._gpu(h)["pci"].encode())

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> int:
        return self._gpu(h)["power_limit_mw"]

    def nvmlDeviceGetFanSpeed(self, h: int) -> int:
        raise NVMLError_NotSupported("Not Supported")  # recorded: a data-centre card has no fan

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:
        self.samples += 1
        s = self._gpu(h)["sample"]
        return SimpleNamespace(gpu=s["util"], memory=s["memutil"])

    def nvmlDeviceGetMemoryInfo(self, h: int) -> SimpleNamespace:
        s = self._gpu(h)["sample"]
        return SimpleNamespace(total=s["total"], used=s["used"], free=s["free"])

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        return self._gpu(h)["sample"]["temp"]

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        return self._gpu(h)["sample"]["power_mw"]

    def nvmlDeviceGetClockInfo(self, h: int, clock: int) -> int:
        return self._gpu(h)["sample"]["sm_mhz"] if clock == 1 else 2619
