"""What Ollama actually reads (Ollama's `envconfig/config.go`; per-model options: `api/types.go`).

Server variables live in the server's environment. `num_ctx`, `num_batch`, `num_gpu` and
`num_thread` are **not** server variables: they are per-model options (Modelfile PARAMETER or
request `options`). `OLLAMA_NUM_GPU`, `OLLAMA_NUM_CTX`, `OLLAMA_NUM_BATCH` and
`OLLAMA_NUM_THREAD(S)` never existed; we report them as ignored and never write them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from velollm_desktop.core.ollama.version import version_tuple


class VarType(str, Enum):
    """How Ollama parses a variable."""

    UINT = "uint"
    BOOL = "bool"
    TRISTATE = "tristate"  # bool, but "unset" is a third state (auto)
    DURATION = "duration"
    STRING = "string"
    BYTES = "bytes"


@dataclass(frozen=True)
class ServerVar:
    """One environment variable the Ollama server reads."""

    name: str
    type: VarType
    default: str
    """Ollama's default, as text ("" = unset)."""
    meaning: str
    min_version: str = "0.0.0"
    max_version: str | None = None
    """First version where it no longer has an effect (exclusive), if any."""


CATALOGUE: tuple[ServerVar, ...] = (
    ServerVar(
        "OLLAMA_HOST",
        VarType.STRING,
        "127.0.0.1:11434",
        "Address the server binds to (and the client uses)",
    ),
    ServerVar("OLLAMA_ORIGINS", VarType.STRING, "", "Extra allowed CORS origins, comma-separated"),
    ServerVar("OLLAMA_MODELS", VarType.STRING, "~/.ollama/models", "Where models are stored"),
    ServerVar(
        "OLLAMA_KEEP_ALIVE",
        VarType.DURATION,
        "5m",
        "How long a model stays loaded after use (-1 = forever, 0 = unload at once)",
    ),
    ServerVar(
        "OLLAMA_LOAD_TIMEOUT",
        VarType.DURATION,
        "5m",
        "How long a model load may stall before giving up",
    ),
    ServerVar(
        "OLLAMA_NUM_PARALLEL",
        VarType.UINT,
        "1",
        "Parallel request slots per model; multiplies KV-cache memory",
    ),
    ServerVar(
        "OLLAMA_MAX_LOADED_MODELS",
        VarType.UINT,
        "0",
        "Models kept loaded at once (0 = auto: 3 × GPUs, 3 on CPU)",
    ),
    ServerVar("OLLAMA_MAX_QUEUE", VarType.UINT, "512", "Queued requests before HTTP 503"),
    ServerVar(
        "OLLAMA_FLASH_ATTENTION",
        VarType.TRISTATE,
        "",
        "Flash attention: unset = auto where every GPU supports it",
    ),
    ServerVar(
        "OLLAMA_KV_CACHE_TYPE",
        VarType.STRING,
        "",
        "KV cache type for every model: f16 (default), q8_0, q4_0; quantized needs flash attention",
    ),
    ServerVar(
        "OLLAMA_CONTEXT_LENGTH",
        VarType.UINT,
        "0",
        "Default num_ctx (0 = from total VRAM: <23 GiB 4096, <47 GiB 32768, else 262144)",
    ),
    ServerVar(
        "OLLAMA_GPU_OVERHEAD",
        VarType.BYTES,
        "0",
        "VRAM (bytes) to reserve per GPU; since 0.30 it no longer affects GGUF offload",
    ),
    ServerVar("OLLAMA_SCHED_SPREAD", VarType.BOOL, "false", "Always split a model across all GPUs"),
    ServerVar("OLLAMA_NOPRUNE", VarType.BOOL, "false", "Do not prune unused blobs at start"),
    ServerVar("OLLAMA_DEBUG", VarType.STRING, "0", "Log level: 0 INFO, 1 DEBUG, 2 TRACE"),
    ServerVar(
        "OLLAMA_LLM_LIBRARY", VarType.STRING, "", "Force a backend library (cuda_v13, vulkan, …)"
    ),
    ServerVar("OLLAMA_VULKAN", VarType.BOOL, "", "Vulkan backend (on by default since 0.30)"),
    ServerVar(
        "LLAMA_ARG_FIT_TARGET",
        VarType.UINT,
        "1024",
        "MiB llama.cpp's fit leaves free per GPU (Ollama ≥ 0.30)",
        min_version="0.30.0",
    ),
    ServerVar("OLLAMA_NEW_ENGINE", VarType.BOOL, "", "Forced the Go engine", max_version="0.30.0"),
    ServerVar(
        "OLLAMA_MULTIUSER_CACHE",
        VarType.BOOL,
        "",
        "Changed prompt-cache slot selection",
        max_version="0.30.0",
    ),
)
BY_NAME = {v.name: v for v in CATALOGUE}

NEVER_EXISTED = {
    "OLLAMA_NUM_GPU": "num_gpu",
    "OLLAMA_NUM_CTX": "num_ctx",
    "OLLAMA_NUM_BATCH": "num_batch",
    "OLLAMA_NUM_THREAD": "num_thread",
    "OLLAMA_NUM_THREADS": "num_thread",
}
"""Variables users (and VeloLLM's first versions) set that Ollama never read → the per-model option meant."""

PER_MODEL_OPTIONS = {
    "num_ctx": "Context window in tokens",
    "num_batch": "Prompt-processing batch size",
    "num_gpu": "Layers offloaded to the GPU (-1 auto, 0 CPU only)",
    "num_thread": "CPU threads for generation (0 auto)",
}
"""Per-model load options: Modelfile `PARAMETER name value` or request `options`."""

DESKTOP_APP_OVERRIDES = ("OLLAMA_HOST", "OLLAMA_ORIGINS", "OLLAMA_MODELS", "OLLAMA_CONTEXT_LENGTH")
"""The macOS/Windows desktop app sets these from its own settings when it starts the server."""


def applies(var: ServerVar, version: str | None) -> bool:
    """Whether `var` has an effect on Ollama `version` (unknown version: assume current)."""
    if not version:
        return var.max_version is None
    v = version_tuple(version)
    if v < version_tuple(var.min_version):
        return False
    return var.max_version is None or v < version_tuple(var.max_version)
