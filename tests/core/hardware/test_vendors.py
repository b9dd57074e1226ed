"""AMD (rocm-smi, sysfs), Apple (system_profiler), Intel and Windows registry parsers."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes import FIXTURES
from velollm_desktop.core.hardware.amd import parse_rocm_smi_json
from velollm_desktop.core.hardware.apple import gpu_working_set_mib, parse_system_profiler
from velollm_desktop.core.hardware.host import parse_cpuinfo
from velollm_desktop.core.hardware.model import GpuVendor
from velollm_desktop.core.hardware.sysfs import detect_sysfs_gpus, parse_lspci_name
from velollm_desktop.core.hardware.windows import parse_display_adapters

MIB = 1024 * 1024


def test_rocm_smi_json_recorded_rx7900xtx():
    (gpu,) = parse_rocm_smi_json((FIXTURES / "rocm-smi.json").read_text())
    assert gpu.vendor is GpuVendor.AMD
    assert gpu.name == "Radeon RX 7900 XTX"
    assert gpu.vram_total_mib == 24560
    assert gpu.vram_used_mib == 1234
    assert gpu.utilization_pct == 7.0
    assert gpu.temperature_c == 43.0
    assert gpu.power_w == 31.0
    assert gpu.driver_version == "6.8.0"


def test_rocm_smi_garbage():
    assert parse_rocm_smi_json("") == []
    assert parse_rocm_smi_json("WARNING: AMD GPU device(s) is/are in a low-power state") == []
    assert parse_rocm_smi_json("[1, 2]") == []
    assert parse_rocm_smi_json('{"card0": "oops"}') == []


def _card(root: Path, n: int, vendor: str, files: dict[str, str]) -> None:
    dev = root / f"pci{n}"
    dev.mkdir(parents=True)
    (dev / "vendor").write_text(vendor + "\n")
    (dev / "device").write_text("0x744c\n")
    for rel, value in files.items():
        p = dev / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(value + "\n")
    card = root / "drm" / f"card{n}"
    card.mkdir(parents=True)
    (card / "device").symlink_to(dev)


def test_sysfs_amd_discrete_and_integrated_and_intel(tmp_path):
    _card(
        tmp_path,
        0,
        "0x1002",
        {
            "mem_info_vram_total": str(24560 * MIB),
            "mem_info_vram_used": str(1000 * MIB),
            "mem_info_gtt_total": str(12000 * MIB),
            "gpu_busy_percent": "12",
            "hwmon/hwmon3/temp1_input": "45000",
            "hwmon/hwmon3/power1_average": "31000000",
        },
    )
    _card(
        tmp_path,
        1,
        "0x1002",
        {  # an APU: 512 MiB carve-out, 16 GiB GTT
            "mem_info_vram_total": str(512 * MIB),
            "mem_info_vram_used": str(100 * MIB),
            "mem_info_gtt_total": str(16000 * MIB),
        },
    )
    _card(tmp_path, 2, "0x8086", {})
    _card(tmp_path, 3, "0x10de", {})  # NVIDIA is NVML's job
    (tmp_path / "drm" / "card0-DP-1").mkdir()  # connectors are not cards
    gpus = detect_sysfs_gpus(tmp_path / "drm")
    assert [g.vendor for g in gpus] == [GpuVendor.AMD, GpuVendor.AMD, GpuVendor.INTEL]
    discrete, apu, intel = gpus
    assert discrete.vram_total_mib == 24560 and discrete.vram_free_mib == 23560
    assert (
        discrete.utilization_pct == 12.0
        and discrete.temperature_c == 45.0
        and discrete.power_w == 31.0
    )
    assert not discrete.integrated
    assert apu.integrated and apu.vram_total_mib == 512  # GTT is not VRAM
    assert intel.integrated and intel.vram_total_mib is None
    assert intel.index == 0 and apu.index == 1


def test_sysfs_missing_root(tmp_path):
    assert detect_sysfs_gpus(tmp_path / "nope") == []


def test_lspci_mm_line():
    line = '03:00.0 "VGA compatible controller" "Advanced Micro Devices, Inc. [AMD/ATI]" "Navi 31 [Radeon RX 7900 XT/7900 XTX]" -rc8 "Sapphire" "Nitro+"'
    assert parse_lspci_name(line) == "Advanced Micro Devices Navi 31 [Radeon RX 7900 XT/7900 XTX]"
    assert parse_lspci_name('unterminated "quote') is None
    assert parse_lspci_name("") is None


def test_system_profiler_recorded_m2_pro():
    text = (FIXTURES / "system_profiler_m2pro.json").read_text()
    (gpu,) = parse_system_profiler(text, 32 * 1024 * MIB)
    assert gpu.vendor is GpuVendor.APPLE
    assert gpu.name == "Apple M2 Pro"
    assert gpu.unified_memory and gpu.gpu_cores == 19
    assert gpu.vram_total_mib == 32768
    assert gpu_working_set_mib(32768) == 21845
    assert gpu_working_set_mib(65536) == 49152


def test_system_profiler_garbage():
    assert parse_system_profiler("", None) == []
    assert parse_system_profiler("not json", None) == []
    assert parse_system_profiler(json.dumps({"SPDisplaysDataType": "x"}), None) == []


def test_windows_registry_uses_qword_not_adapter_ram():
    entries = [
        {
            "DriverDesc": "NVIDIA GeForce RTX 4090",
            "DriverVersion": "32.0.15.6094",
            "HardwareInformation.qwMemorySize": 24 * 1024 * MIB,
        },  # > 4 GiB: AdapterRAM would cap
        {
            "DriverDesc": "AMD Radeon RX 7800 XT",
            "HardwareInformation.qwMemorySize": (16 * 1024 * MIB).to_bytes(8, "little"),
        },
        {"DriverDesc": "Microsoft Basic Display Adapter"},
        {"DriverVersion": "1"},
    ]
    nv, amd = parse_display_adapters(entries)
    assert nv.vram_total_mib == 24576 and nv.vendor is GpuVendor.NVIDIA
    assert (
        amd.vram_total_mib == 16384 and amd.vendor is GpuVendor.AMD and amd.driver_version is None
    )


def test_cpuinfo_x86_and_arm():
    model, flags = parse_cpuinfo(
        "model name\t: AMD EPYC 9654\nflags\t\t: fpu pni ssse3 avx avx2 fma f16c avx512f avx512bw\n"
    )
    assert model == "AMD EPYC 9654"
    assert flags == ("sse3", "ssse3", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw")
    _, arm = parse_cpuinfo("Features\t: fp asimd asimddp sve i8mm\n")
    assert set(arm) == {"neon", "asimd", "dotprod", "sve", "i8mm"}
    assert parse_cpuinfo("") == (None, ())
