"""NVML wrapper and nvidia-smi parser, on what a real H100 returned."""

from __future__ import annotations

from tests.fakes import FIXTURES, FakePynvml, NVMLError
from velollm_desktop.core.hardware.model import GpuVendor
from velollm_desktop.core.hardware.nvidia import Nvml, detect_nvidia_nvml, parse_nvidia_smi_csv


def test_nvml_reports_the_recorded_h100():
    fake = FakePynvml()
    gpus = detect_nvidia_nvml(Nvml(fake))
    assert len(gpus) == 1
    gpu = gpus[0]
    assert gpu.vendor is GpuVendor.NVIDIA
    assert gpu.name == "NVIDIA H100 80GB HBM3"
    assert gpu.vram_total_mib == 81559  # 85,520,809,984 bytes
    assert gpu.vram_used_mib == 480
    assert gpu.vram_free_mib == 81559 - 480
    assert gpu.driver_version == "580.159.04"
    assert gpu.compute_capability == "9.0"
    assert gpu.power_w == 72.12  # 72,120 mW
    assert gpu.power_limit_w == 700.0
    assert gpu.temperature_c == 38.0
    assert gpu.fan_pct is None  # NotSupported on a data-centre card → n/a, not a crash
    assert gpu.pci_bus_id == "00000000:00:06.0"
    assert gpu.source == "nvml"


def test_nvml_initialised_once_and_shut_down_once():
    fake = FakePynvml()
    nvml = Nvml(fake)
    for _ in range(3):
        detect_nvidia_nvml(nvml)
    assert fake.init_calls == 1
    nvml.shutdown()
    nvml.shutdown()
    assert fake.shutdown_calls == 1


def test_nvml_init_failure_gives_no_gpus_and_a_reason():
    nvml = Nvml(FakePynvml(init_error=NVMLError("Driver Not Loaded")))
    assert detect_nvidia_nvml(nvml) == []
    assert "Driver Not Loaded" in (nvml.failed_reason or "")
    assert nvml.device_count() == 0


def test_gpu_lost_mid_sampling_turns_fields_to_none():
    fake = FakePynvml(lose_gpu_after=2)
    nvml = Nvml(fake)
    first = nvml.sample(0)
    assert first.vram_total_mib == 81559
    nvml.sample(0)
    lost = nvml.sample(0)
    assert lost.utilization_pct is None and lost.vram_used_mib is None and lost.power_w is None


def test_nvidia_smi_csv_parses_the_recorded_h100():
    text = (FIXTURES / "h100" / "nvidia-smi-query.csv").read_text()
    (gpu,) = parse_nvidia_smi_csv(text)
    assert gpu.name == "NVIDIA H100 80GB HBM3"
    assert gpu.vram_total_mib == 81559 and gpu.vram_used_mib == 0 and gpu.vram_free_mib == 81079
    assert gpu.compute_capability == "9.0"
    assert gpu.power_w == 72.13 and gpu.power_limit_w == 700.0
    assert gpu.source == "nvidia-smi"


def test_nvidia_smi_csv_not_supported_fields_are_none():
    line = "0, NVIDIA GeForce GTX 1050, GPU-x, 470.1, 4096, 100, 3996, [N/A], [N/A], 50, [Not Supported], [Not Supported], 1000, 3500, 6.1, 00000000:01:00.0"
    (gpu,) = parse_nvidia_smi_csv(line)
    assert gpu.utilization_pct is None and gpu.power_w is None and gpu.power_limit_w is None
    assert gpu.temperature_c == 50.0


def test_nvidia_smi_garbage_and_empty():
    assert parse_nvidia_smi_csv("") == []
    assert (
        parse_nvidia_smi_csv(
            "NVIDIA-SMI has failed because it couldn't communicate with the driver"
        )
        == []
    )
    assert parse_nvidia_smi_csv("a, b, c\n\x00\xff garbage") == []
