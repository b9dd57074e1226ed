"""From exporter samples to TargetStatus fields: names as the servers publish them.

- node exporter (github.com/prometheus/node_exporter, collectors cpu and meminfo):
  `node_cpu_seconds_total{cpu,mode}`, `node_memory_MemTotal_bytes`, `node_memory_MemAvailable_bytes`.
- dcgm-exporter (github.com/NVIDIA/dcgm-exporter, etc/default-counters.csv), labels `gpu`,
  `UUID`, `modelName`: `DCGM_FI_DEV_GPU_UTIL` (%), `DCGM_FI_DEV_FB_USED` / `_FREE` /
  `_RESERVED` (MiB), `DCGM_FI_DEV_GPU_TEMP` (°C), `DCGM_FI_DEV_POWER_USAGE` (W).
- llama-server --metrics (github.com/ggml-org/llama.cpp, tools/server):
  `llamacpp:requests_processing`, `llamacpp:requests_deferred`, `llamacpp:tokens_predicted_total`.
- vLLM (docs.vllm.ai, "Production Metrics"), label `model_name`: `vllm:num_requests_running`,
  `vllm:num_requests_waiting`, `vllm:generation_tokens_total`.

A value outside what the hardware can produce (a DCGM blank sentinel of 9.2e18 °C, a load of
140 %, available RAM above the total) is dropped to None, never shown.
"""

from __future__ import annotations

from velollm_desktop.core.fleet.expo import Metrics, clean_text, finite, label_values, total
from velollm_desktop.core.fleet.model import Counters, GpuStatus

MIB = 1024 * 1024
MAX_RAM_BYTES = 1 << 50  # 1 PiB
MAX_VRAM_MIB = 1 << 24  # 16 TiB per GPU
MAX_POWER_W = 5000.0
MAX_TOKENS_PER_S = 10_000_000.0
MAX_REQUESTS = 10_000_000
TEMP_RANGE_C = (-40.0, 150.0)
IDLE_MODES = ("idle", "iowait")
"""Modes counted as idle (psutil.cpu_percent does the same)."""


def bounded(value: float | None, low: float, high: float) -> float | None:
    """`value` if finite and within [low, high]; None otherwise."""
    value = finite(value)
    return value if value is not None and low <= value <= high else None


def cpu_counters(metrics: Metrics) -> tuple[float | None, float | None]:
    """(idle seconds, all seconds) summed over every CPU, from node_cpu_seconds_total."""
    idle = busy = 0.0
    seen = False
    for labels, value in metrics.get("node_cpu_seconds_total", ()):
        if finite(value) is None or value < 0:
            continue
        seen = True
        if labels.get("mode") in IDLE_MODES:
            idle += value
        else:
            busy += value
    return (idle, idle + busy) if seen else (None, None)


def ram_bytes(metrics: Metrics) -> tuple[int | None, int | None]:
    """(used, total): used = MemTotal - MemAvailable, as `free` and psutil count it."""
    mem_total = bounded(total(metrics, "node_memory_MemTotal_bytes"), 1, MAX_RAM_BYTES)
    available = bounded(total(metrics, "node_memory_MemAvailable_bytes"), 0, MAX_RAM_BYTES)
    if mem_total is None:
        return None, None
    if available is None or available > mem_total:
        return None, int(mem_total)
    return int(mem_total - available), int(mem_total)


def _gpu_value(metrics: Metrics, name: str, gpu: str) -> float | None:
    return total(metrics, name, gpu=gpu)


MAX_GPUS = 64
"""GPUs shown per dcgm target (a DGX has 8)."""


def dcgm_gpus(metrics: Metrics) -> list[GpuStatus]:
    """One GpuStatus per `gpu` label seen in any of the DCGM fields we read."""
    fields = (
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_POWER_USAGE",
    )
    indices: dict[str, None] = {}  # linear: 100 000 distinct gpu labels cost one pass
    for name in fields:
        for gpu in label_values(metrics, name, "gpu"):
            indices.setdefault(gpu, None)
    kept = set(list(indices)[:MAX_GPUS])
    # one pass keeps only the shown GPUs' samples: each GPU below then scans a few samples,
    # not every sample of the body (which made 100 000 GPUs quadratic)
    small: Metrics = {
        name: [(labels, v) for labels, v in metrics.get(name, ()) if labels.get("gpu") in kept]
        for name in (*fields, "DCGM_FI_DEV_FB_RESERVED")
    }
    return [_one_gpu(small, gpu) for gpu in list(indices)[:MAX_GPUS]]


def _one_gpu(metrics: Metrics, gpu: str) -> GpuStatus:
    model = next(
        (
            labels.get("modelName")
            for name in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED")
            for labels, _ in metrics.get(name, ())
            if labels.get("gpu") == gpu and labels.get("modelName")
        ),
        None,
    )
    used = bounded(_gpu_value(metrics, "DCGM_FI_DEV_FB_USED", gpu), 0, MAX_VRAM_MIB)
    free = bounded(_gpu_value(metrics, "DCGM_FI_DEV_FB_FREE", gpu), 0, MAX_VRAM_MIB)
    reserved = bounded(_gpu_value(metrics, "DCGM_FI_DEV_FB_RESERVED", gpu), 0, MAX_VRAM_MIB)
    vram_total = None
    if used is not None and free is not None:
        vram_total = int((used + free + (reserved or 0.0)) * MIB)
    return GpuStatus(
        name=clean_text(f"GPU {gpu}" + (f" {model}" if model else ""), 100),
        load_pct=bounded(_gpu_value(metrics, "DCGM_FI_DEV_GPU_UTIL", gpu), 0, 100),
        vram_used_bytes=int(used * MIB) if used is not None else None,
        vram_total_bytes=vram_total,
        temperature_c=bounded(_gpu_value(metrics, "DCGM_FI_DEV_GPU_TEMP", gpu), *TEMP_RANGE_C),
        power_w=bounded(_gpu_value(metrics, "DCGM_FI_DEV_POWER_USAGE", gpu), 0, MAX_POWER_W),
    )


def _count(value: float | None) -> int | None:
    value = bounded(value, 0, MAX_REQUESTS)
    return int(value) if value is not None else None


def server_fields(kind: str, metrics: Metrics) -> tuple[int | None, int | None, float | None]:
    """(requests running, requests waiting, generated-tokens counter) of llama-server or vLLM."""
    if kind == "llamacpp":
        running = total(metrics, "llamacpp:requests_processing")
        waiting = total(metrics, "llamacpp:requests_deferred")
        tokens = total(metrics, "llamacpp:tokens_predicted_total")
    elif kind == "vllm":
        running = total(metrics, "vllm:num_requests_running")
        waiting = total(metrics, "vllm:num_requests_waiting")
        tokens = total(metrics, "vllm:generation_tokens_total")
    else:
        return None, None, None
    tokens = tokens if tokens is not None and tokens >= 0 else None
    return _count(running), _count(waiting), tokens


def counter_rate(prev: float | None, cur: float | None, dt_s: float) -> float | None:
    """Per-second increase of a counter; a reset (value went down) counts from zero."""
    if prev is None or cur is None or dt_s <= 0:
        return None
    increase = cur - prev if cur >= prev else cur
    return increase / dt_s


def cpu_pct(prev: Counters | None, cur: Counters) -> float | None:
    """CPU busy % between two readings (all CPUs together, 0-100)."""
    if prev is None or None in (prev.cpu_idle_s, prev.cpu_total_s, cur.cpu_idle_s, cur.cpu_total_s):
        return None
    d_total = cur.cpu_total_s - prev.cpu_total_s  # type: ignore[operator]
    d_idle = cur.cpu_idle_s - prev.cpu_idle_s  # type: ignore[operator]
    # Per-CPU counters are rounded (1/100 s) and read one CPU after another, so on an idle
    # machine idle can grow a hair more than the total: that is 0 % busy, not "no reading".
    if d_total <= 0 or d_idle < 0 or d_idle > d_total * 1.02:
        return None  # no time passed, or a reset (the exporter restarted): no reading
    return bounded(max(0.0, 100.0 * (1.0 - d_idle / d_total)), 0.0, 100.0)


def tokens_per_s(prev: Counters | None, cur: Counters) -> float | None:
    """Generated tokens per second between two readings (counter resets handled)."""
    if prev is None:
        return None
    rate = counter_rate(prev.tokens, cur.tokens, cur.monotonic_s - prev.monotonic_s)
    return bounded(rate, 0.0, MAX_TOKENS_PER_S)
