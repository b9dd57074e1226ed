"""CPU, memory and operating system of this machine (psutil, /proc/cpuinfo, sysctl)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import psutil

from velollm_desktop.core.hardware.model import CpuInfo, MemoryInfo
from velollm_desktop.core.probe import log_once, read_text, run_tool

MIB = 1024 * 1024
SIMD_OF_INTEREST = (
    "sse3",
    "ssse3",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "neon",
    "asimd",
    "sve",
    "sve2",
    "dotprod",
    "i8mm",
)
"""Extensions that change which llama.cpp kernels run (in the order we print them)."""


def parse_cpuinfo(text: str) -> tuple[str | None, tuple[str, ...]]:
    """Return (model name, SIMD flags of interest) from /proc/cpuinfo text."""
    model = None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and model is None and value.strip():
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    if "pni" in flags:  # /proc/cpuinfo calls SSE3 "pni"
        flags.add("sse3")
    if "asimd" in flags:
        flags.add("neon")
    if "asimddp" in flags:
        flags.add("dotprod")
    return model, tuple(f for f in SIMD_OF_INTEREST if f in flags)


def _cpu_model_and_flags() -> tuple[str, tuple[str, ...]]:
    model: str | None = None
    flags: tuple[str, ...] = ()
    if sys.platform.startswith("linux"):
        text = read_text(Path("/proc/cpuinfo"))
        if text:
            model, flags = parse_cpuinfo(text)
    elif sys.platform == "darwin":
        out = run_tool(["sysctl", "-n", "machdep.cpu.brand_string"])
        model = out.strip() if out else None
        if platform.machine() == "arm64":
            flags = ("neon", "dotprod")
        else:
            feats = (
                run_tool(["sysctl", "-n", "machdep.cpu.features", "machdep.cpu.leaf7_features"])
                or ""
            ).lower()
            flags = tuple(f for f in SIMD_OF_INTEREST if f in feats.replace(".", "_").split())
    if not model:
        model = platform.processor() or platform.machine() or "unknown CPU"
    return model, flags


def detect_cpu() -> CpuInfo:
    """Return the CPU's model, core counts, clocks and SIMD flags (never raises)."""
    model, flags = _cpu_model_and_flags()
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError, FileNotFoundError) as exc:  # some VMs / containers
        log_once("cpu-freq", "CPU frequency not readable: %s", exc)
        freq = None
    return CpuInfo(
        model=model,
        physical_cores=psutil.cpu_count(logical=False),
        logical_cores=psutil.cpu_count(logical=True),
        freq_current_mhz=round(freq.current, 1) if freq and freq.current else None,
        freq_max_mhz=round(freq.max, 1) if freq and freq.max else None,
        simd_flags=flags,
    )


def detect_memory() -> MemoryInfo:
    """Return RAM and swap in MiB."""
    vm = psutil.virtual_memory()
    try:
        sw = psutil.swap_memory()
        swap_total, swap_used = sw.total // MIB, sw.used // MIB
    except (OSError, RuntimeError):
        swap_total = swap_used = None
    return MemoryInfo(
        total_mib=vm.total // MIB,
        available_mib=vm.available // MIB,
        used_mib=(vm.total - vm.available) // MIB,
        swap_total_mib=swap_total,
        swap_used_mib=swap_used,
    )


def detect_os() -> tuple[str, str, str]:
    """Return (OS name, OS version, CPU architecture)."""
    arch = platform.machine() or "unknown"
    if sys.platform.startswith("linux"):
        try:
            rel = platform.freedesktop_os_release()
            return "Linux", rel.get("PRETTY_NAME", platform.release()), arch
        except OSError:
            return "Linux", platform.release(), arch
    if sys.platform == "darwin":
        return "macOS", platform.mac_ver()[0] or platform.release(), arch
    if sys.platform == "win32":
        return "Windows", platform.version(), arch
    return platform.system() or sys.platform, platform.release(), arch
