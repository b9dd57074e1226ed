"""What Ollama then uses when a variable is at its automatic default ("0 → 4096 on this GPU").

Rules from Ollama's source:
- `OLLAMA_CONTEXT_LENGTH=0`: `server/routes.go` `Serve` sums the GPUs' total memory (less
  `OLLAMA_GPU_OVERHEAD` each) and picks 262144 from 47 GiB, 32768 from 23 GiB, else 4096
  (then capped at each model's trained context, `llm/server.go`).
- `OLLAMA_MAX_LOADED_MODELS=0`: `server/sched.go` allows `defaultModelsPerGPU` (3) × the
  number of GPUs, at least 3.
- `OLLAMA_KV_CACHE_TYPE` unset: f16.
"""

from __future__ import annotations

from velollm_desktop.core.hardware.model import HardwareSpec

GIB_MIB = 1024
MODELS_PER_GPU = 3


def default_context_tokens(hardware: HardwareSpec, gpu_overhead_bytes: int = 0) -> int:
    """Ollama's num_ctx when neither the request, the Modelfile nor the server sets one."""
    total_mib = sum(
        max(0, (g.vram_total_mib or 0) - gpu_overhead_bytes // 2**20) for g in hardware.gpus
    )
    if total_mib >= 47 * GIB_MIB:
        return 262144
    if total_mib >= 23 * GIB_MIB:
        return 32768
    return 4096


def _where(hardware: HardwareSpec) -> str:
    n = len(hardware.gpus)
    return "without a GPU" if n == 0 else ("on this GPU" if n == 1 else f"on these {n} GPUs")


def effective_default(name: str, hardware: HardwareSpec | None) -> str | None:
    """What Ollama uses for `name` when it is unset or 0 here ("4096 on this GPU"), or None
    when the default needs no explanation (or the hardware is unknown)."""
    if hardware is None:
        return None
    if name == "OLLAMA_CONTEXT_LENGTH":
        return f"{default_context_tokens(hardware)} tokens {_where(hardware)}"
    if name == "OLLAMA_MAX_LOADED_MODELS":
        return f"{MODELS_PER_GPU * max(1, len(hardware.gpus))} {_where(hardware)}"
    if name == "OLLAMA_KV_CACHE_TYPE":
        return "f16"
    return None
