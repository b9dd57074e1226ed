"""Typed Ollama API responses. Units in the names: `_ns` nanoseconds, `_bytes` bytes.

Ollama's metric fields are `omitempty`: a zero is missing from the JSON. Missing fields are
`None` here, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class InstalledModel:
    """One entry of `GET /api/tags`."""

    name: str
    size_bytes: int | None
    digest: str | None
    family: str | None
    parameter_size: str | None
    quantization_level: str | None
    modified_at: str | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> InstalledModel:
        det = d.get("details") or {}
        return cls(
            name=str(d.get("name") or d.get("model") or "?"),
            size_bytes=_int(d, "size"),
            digest=d.get("digest"),
            family=det.get("family"),
            parameter_size=det.get("parameter_size"),
            quantization_level=det.get("quantization_level"),
            modified_at=d.get("modified_at"),
        )


@dataclass(frozen=True)
class LoadedModel:
    """One entry of `GET /api/ps`: a model currently in memory."""

    name: str
    size_bytes: int
    """Total bytes (weights + KV cache + compute buffers)."""
    size_vram_bytes: int
    """The part on the GPU; the rest is in system RAM."""
    context_length: int | None
    """Per-slot num_ctx actually used (not multiplied by num_parallel)."""
    expires_at: str | None
    digest: str | None = None

    @property
    def gpu_fraction(self) -> float:
        """Share of the model on the GPU, 0.0–1.0."""
        return self.size_vram_bytes / self.size_bytes if self.size_bytes else 0.0

    @property
    def placement(self) -> str:
        """ "on GPU", "on CPU" or "41 % CPU / 59 % GPU" (`ollama ps` writes "100% CPU", which
        reads like a CPU load)."""
        gpu = round(self.gpu_fraction * 100)
        if gpu >= 100:
            return "on GPU"
        if gpu <= 0:
            return "on CPU"
        return f"{100 - gpu} % CPU / {gpu} % GPU"

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LoadedModel:
        return cls(
            name=str(d.get("name") or d.get("model") or "?"),
            size_bytes=_int(d, "size") or 0,
            size_vram_bytes=_int(d, "size_vram") or 0,
            context_length=_int(d, "context_length"),
            expires_at=d.get("expires_at"),
            digest=d.get("digest"),
        )


@dataclass(frozen=True)
class GenerateChunk:
    """One NDJSON line of `/api/generate` or `/api/chat`; metrics only on the final one."""

    text: str
    done: bool
    done_reason: str | None = None
    total_duration_ns: int | None = None
    load_duration_ns: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration_ns: int | None = None
    eval_count: int | None = None
    eval_duration_ns: int | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GenerateChunk:
        msg = d.get("message")
        text = d.get("response")
        if text is None and isinstance(msg, Mapping):
            text = msg.get("content")
        return cls(
            text=str(text or ""),
            done=bool(d.get("done")),
            done_reason=d.get("done_reason"),
            total_duration_ns=_int(d, "total_duration"),
            load_duration_ns=_int(d, "load_duration"),
            prompt_eval_count=_int(d, "prompt_eval_count"),
            prompt_eval_duration_ns=_int(d, "prompt_eval_duration"),
            eval_count=_int(d, "eval_count"),
            eval_duration_ns=_int(d, "eval_duration"),
        )


@dataclass(frozen=True)
class ModelShow:
    """`POST /api/show`: the model's GGUF metadata and Modelfile parameters."""

    name: str
    model_info: Mapping[str, Any] = field(default_factory=dict)
    parameters: str = ""
    capabilities: tuple[str, ...] = ()
    parameter_size: str | None = None
    quantization_level: str | None = None

    @property
    def architecture(self) -> str | None:
        """`general.architecture` (llama, qwen2, gemma3, …)."""
        arch = self.model_info.get("general.architecture")
        return str(arch) if arch else None

    def arch_value(self, key: str) -> Any:
        """`<arch>.<key>` from model_info, or `None`."""
        return self.model_info.get(f"{self.architecture}.{key}") if self.architecture else None

    @classmethod
    def from_json(cls, name: str, d: Mapping[str, Any]) -> ModelShow:
        det = d.get("details") or {}
        return cls(
            name=name,
            model_info=dict(d.get("model_info") or {}),
            parameters=str(d.get("parameters") or ""),
            capabilities=tuple(d.get("capabilities") or ()),
            parameter_size=det.get("parameter_size"),
            quantization_level=det.get("quantization_level"),
        )
