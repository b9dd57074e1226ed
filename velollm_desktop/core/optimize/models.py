"""Model profiles for the memory fit, built from Ollama's `/api/show` (or a saved copy of it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from velollm_desktop.core.failure import BadInput, UserFacingError
from velollm_desktop.core.jsonio import read_json_object
from velollm_desktop.core.optimize.footprint import ModelShape, shape_from_metadata


@dataclass(frozen=True)
class ModelProfile:
    """What the fit needs to know about one model. Sizes in bytes."""

    name: str
    weights_bytes: int
    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: tuple[int, ...]
    """Per layer (a single value is repeated for every layer)."""
    key_length: int
    value_length: int
    context_length: int
    """The context it was trained for (`<arch>.context_length`)."""
    vocab_size: int
    architecture: str = "llama"
    shape: ModelShape | None = None
    """Everything the corrected formula reads (sliding windows, experts, embeddings)."""
    model_path: Path | None = None
    """The GGUF on this machine, when known (llama.cpp's own projection needs it)."""

    @property
    def kv_bytes_per_token_f16(self) -> int:
        """K+V bytes for one token across all layers at f16 (2 bytes per element)."""
        return sum((self.key_length + self.value_length) * kv * 2 for kv in self.head_count_kv)


MAX_BLOCKS = 4096
"""More layers than any model has: a larger block_count is a broken or hostile file."""
SHAPE_RANGES: dict[str, tuple[int, int]] = {
    "block_count": (1, MAX_BLOCKS),
    "embedding_length": (1, 1 << 20),
    "attention.head_count": (1, 1 << 14),
    "attention.head_count_kv": (0, 1 << 14),
    "attention.key_length": (1, 1 << 16),
    "attention.value_length": (1, 1 << 16),
    "context_length": (1, 1 << 24),
    "vocab_size": (1, 1 << 24),
}
"""Every shape field the fit reads, with the values a real model can have (inclusive).
A field outside its range — negative, zero heads, a 2^40 width — makes the model unusable
for planning: it is reported and left out, never planned for (docs/RELIABILITY.md)."""


class BadModel(UserFacingError, ValueError):
    """A model's metadata cannot be planned for; the message names the model and the field."""


def _number(name: str, field: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or abs(v) > 2**62:
        raise BadModel(f"{name}: {field} = {str(v)[:40]!r} is not a number")
    if isinstance(v, float) and not v.is_integer():
        raise BadModel(f"{name}: {field} = {v!r} is not a whole number")
    low, high = SHAPE_RANGES[field]
    if not low <= int(v) <= high:
        raise BadModel(f"{name}: {field} = {int(v)} is not a real model's (allowed {low}…{high})")
    return int(v)


def shape_field(name: str, field: str, v: Any, default: int) -> int:
    """One metadata number, range-checked; a per-layer list gives its largest item."""
    if v is None:
        return default
    if isinstance(v, (list, tuple)):
        if not v or len(v) > MAX_BLOCKS:
            raise BadModel(f"{name}: {field} is a list of {len(v)} items")
        return max(_number(name, field, x) for x in v)
    return _number(name, field, v)


def profile_from_show(
    name: str, show: Mapping[str, Any], size_bytes: int | None = None
) -> ModelProfile:
    """Build a profile from an `/api/show` body (verbose, so per-layer arrays are present).

    `size_bytes` is the model's size from `/api/tags`; without it, parameters × bits per
    weight of the quantization is used. Every shape field is checked against SHAPE_RANGES;
    a missing, mistyped or impossible one raises BadModel (a ValueError) naming it.
    """
    info = show.get("model_info") if isinstance(show, Mapping) else None
    if not isinstance(info, Mapping):
        raise BadModel(f"{name}: no model_info object")
    arch = str(info.get("general.architecture") or "llama")[:64]

    def field(k: str, default: int) -> int:
        return shape_field(name, k, info.get(f"{arch}.{k}"), default)

    if info.get(f"{arch}.block_count") is None:
        raise BadModel(
            f"{name}: /api/show has no {arch}.block_count (was it saved with verbose: true?)"
        )
    blocks = field("block_count", 0)
    emb = field("embedding_length", 4096)
    heads = field("attention.head_count", 32)
    kv = _kv_per_layer(name, info.get(f"{arch}.attention.head_count_kv"), heads, blocks)
    head_dim = max(1, emb // heads)
    if size_bytes is not None and (
        isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes < 0
    ):
        raise BadModel(f"{name}: size {str(size_bytes)[:40]!r} is not a model's size in bytes")
    if size_bytes is None:
        params = info.get("general.parameter_count")
        params = params if isinstance(params, int) and 0 < params < 1 << 50 else 0
        size_bytes = int(params * 4.85 / 8)  # ~Q4_K_M bits per weight
    try:
        shape = shape_from_metadata(info, int(size_bytes), show.get("tensors"))
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError):
        shape = None
    tokens = info.get("tokenizer.ggml.tokens")
    n_tokens = len(tokens) if isinstance(tokens, (list, tuple)) else 0
    return ModelProfile(
        name=name,
        weights_bytes=int(size_bytes),
        block_count=blocks,
        embedding_length=emb,
        head_count=heads,
        head_count_kv=kv,
        key_length=field("attention.key_length", head_dim),
        value_length=field("attention.value_length", head_dim),
        context_length=field("context_length", 4096),
        vocab_size=field("vocab_size", min(n_tokens, 1 << 24) or 32000),
        architecture=arch,
        shape=shape,
    )


def _kv_per_layer(name: str, raw: Any, heads: int, blocks: int) -> tuple[int, ...]:
    """KV heads per layer (a single value repeated); at least one layer with KV heads."""
    field = "attention.head_count_kv"
    if isinstance(raw, (list, tuple)) and raw:
        kv = tuple(shape_field(name, field, x, heads) for x in raw[:MAX_BLOCKS])
        kv = kv if len(kv) == blocks else (max(kv),) * blocks
    else:
        kv = (shape_field(name, field, raw, heads),) * blocks
    if max(kv) <= 0:
        raise BadModel(f"{name}: {field} is 0 for every layer (no attention to size a cache for)")
    return kv


def load_model_info_file(spec: str) -> ModelProfile:
    """`NAME=FILE`: a local GGUF model (its header is read and its path kept, so llama.cpp's
    own projection can be used) or a saved /api/show response (optionally with "size")."""
    name, sep, path = spec.partition("=")
    if not sep:
        raise BadInput(f"--model-info expects NAME=FILE, got {spec!r}")
    try:
        with Path(path).open("rb") as fh:
            is_gguf = fh.read(4) == b"GGUF"
    except OSError:
        is_gguf = False  # read_json_object below says what is wrong with the path
    if is_gguf:
        return replace(load_model_file(Path(path)), name=name or Path(path).stem)
    data = read_json_object(Path(path), "--model-info")
    return profile_from_show(name, data, data.get("size"))


def load_model_file(path: Path) -> ModelProfile:
    """A profile from a model file the user picked: a GGUF file (its header is read) or a
    saved `/api/show` response (JSON). Raises ValueError with what is wrong."""
    from velollm_desktop.core.llamacpp.gguf import NotGGUF, read_gguf  # noqa: PLC0415
    from velollm_desktop.core.llamacpp.gguf_tensors import read_gguf_tensors  # noqa: PLC0415

    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise BadInput(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    size: object
    local: Path | None
    if magic == b"GGUF":
        try:
            info = read_gguf(path)
            tensors = read_gguf_tensors(path)
        except (NotGGUF, OSError) as exc:
            raise BadInput(f"{path.name} is not a readable GGUF model: {exc}") from exc
        show = {"model_info": info.metadata, "tensors": tensors}
        name, size, local = info.name, info.file_size_bytes, path
    else:
        try:
            show = read_json_object(path, "model file")
        except ValueError as exc:
            raise BadInput(
                f"{path.name} is neither a GGUF model nor a saved /api/show JSON response"
            ) from exc
        if not isinstance(show.get("model_info"), dict):
            raise BadInput(f"{path.name} is not a saved /api/show JSON response (no model_info)")
        name, size, local = path.stem, show.get("size"), None
        if isinstance(size, int) and size < 0:
            raise BadInput(f"{path.name}: a negative size ({size}) is not a model's size")
    try:
        profile = profile_from_show(name, show, size if isinstance(size, int) else None)
        return replace(profile, model_path=local)
    except (
        TypeError,
        ValueError,
        AttributeError,
        KeyError,
        OverflowError,
        ZeroDivisionError,
    ) as exc:
        raise BadInput(
            f"{path.name} does not describe a model VeloLLM can plan for: {exc}"
        ) from exc
