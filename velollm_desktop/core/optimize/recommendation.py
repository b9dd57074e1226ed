"""What a recommendation is: values, each with its reason, and how the models then fit.

Shared by the model-aware fit (recommend.py) and the VRAM-tier heuristic (heuristic.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

GIB = 1024**3


@dataclass(frozen=True)
class Reason:
    """Why one setting has its value."""

    setting: str
    value: str
    why: str


@dataclass(frozen=True)
class ModelFit:
    """How one model sits in memory with the recommended settings."""

    name: str
    num_ctx: int | None
    parallel: int
    fits_on_gpu: bool
    vram_bytes: int
    """Estimated total at the recommended setting (weights + KV + compute + overhead)."""
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    budget_bytes: int
    method: str = "formula"
    """What computed the bytes: "llama.cpp projection" or "formula"."""
    n_cpu_moe: int = 0
    """A MoE model too big for the GPU: layers whose experts stay in RAM (every layer on the GPU)."""
    host_bytes: int = 0
    """Weights in host memory with that placement (offloaded experts, token embeddings)."""

    @property
    def placement(self) -> str:
        """Where the model runs, in words (the Optimize page and `velollm optimize` show it)."""
        if self.n_cpu_moe:
            return (
                f"every layer on the GPU, the experts of {self.n_cpu_moe} layers in RAM "
                f"({self.host_bytes / GIB:.1f} GiB)"
            )
        if self.fits_on_gpu:
            return "entirely on GPU"
        return "in RAM (CPU)" if self.num_ctx else "does NOT fit: split CPU/GPU"


@dataclass(frozen=True)
class Recommendation:
    """A complete recommendation."""

    strategy: str
    env: dict[str, str]
    per_model: dict[str, dict[str, int]]
    fits: tuple[ModelFit, ...]
    reasons: tuple[Reason, ...]
    budget: str
    ollama_version: str | None = None
    warnings: tuple[str, ...] = field(default=())
