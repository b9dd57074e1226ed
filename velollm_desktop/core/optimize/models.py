"""Model profiles for the memory fit, built from Ollama's `/api/show` (or a saved copy of it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

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


def _first_int(v: Any, default: int) -> int:
    if isinstance(v, list):
        return int(max(v)) if v else default
    return int(v) if isinstance(v, (int, float)) else default


def profile_from_show(
    name: str, show: Mapping[str, Any], size_bytes: int | None = None
) -> ModelProfile:
    """Build a profile from an `/api/show` body (verbose, so per-layer arrays are present).

    `size_bytes` is the model's size from `/api/tags`; without it, parameters × bits per
    weight of the quantization is used.
    """
    info = show.get("model_info") or {}
    arch = str(info.get("general.architecture") or "llama")

    def key(k: str, default: Any = None) -> Any:
        return info.get(f"{arch}.{k}", default)

    blocks = _first_int(key("block_count"), 0)
    if blocks <= 0:
        raise ValueError(
            f"{name}: /api/show has no {arch}.block_count (was it saved with verbose: true?)"
        )
    if blocks > MAX_BLOCKS:  # the largest models have a few hundred layers
        raise ValueError(f"{name}: {arch}.block_count = {blocks} is not a real model's layer count")
    emb = _first_int(key("embedding_length"), 4096)
    heads = _first_int(key("attention.head_count"), 32)
    kv_raw = key("attention.head_count_kv", heads)
    kv = (
        tuple(int(x) for x in kv_raw)
        if isinstance(kv_raw, list) and kv_raw
        else (int(kv_raw),) * blocks
    )
    head_dim = emb // heads if heads else 128
    if size_bytes is None:
        params = int(info.get("general.parameter_count") or 0)
        size_bytes = int(params * 4.85 / 8) if params else 0  # ~Q4_K_M bits per weight
    try:
        shape = shape_from_metadata(info, int(size_bytes), show.get("tensors"))
    except ValueError:
        shape = None
    return ModelProfile(
        name=name,
        weights_bytes=int(size_bytes),
        block_count=blocks,
        embedding_length=emb,
        head_count=heads,
        head_count_kv=kv if len(kv) == blocks else (max(kv),) * blocks,
        key_length=_first_int(key("attention.key_length"), head_dim),
        value_length=_first_int(key("attention.value_length"), head_dim),
        context_length=_first_int(key("context_length"), 4096),
        vocab_size=_first_int(
            key("vocab_size"), len(info.get("tokenizer.ggml.tokens") or []) or 32000
        ),
        architecture=arch,
        shape=shape,
    )


def load_model_info_file(spec: str) -> ModelProfile:
    """`NAME=FILE`: a local GGUF model (its header is read and its path kept, so llama.cpp's
    own projection can be used) or a saved /api/show response (optionally with "size")."""
    name, sep, path = spec.partition("=")
    if not sep:
        raise ValueError(f"--model-info expects NAME=FILE, got {spec!r}")
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
        raise ValueError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    size: object
    local: Path | None
    if magic == b"GGUF":
        try:
            info = read_gguf(path)
            tensors = read_gguf_tensors(path)
        except (NotGGUF, OSError) as exc:
            raise ValueError(f"{path.name} is not a readable GGUF model: {exc}") from exc
        show = {"model_info": info.metadata, "tensors": tensors}
        name, size, local = info.name, info.file_size_bytes, path
    else:
        try:
            show = read_json_object(path, "model file")
        except ValueError as exc:
            raise ValueError(
                f"{path.name} is neither a GGUF model nor a saved /api/show JSON response"
            ) from exc
        if not isinstance(show.get("model_info"), dict):
            raise ValueError(f"{path.name} is not a saved /api/show JSON response (no model_info)")
        name, size, local = path.stem, show.get("size"), None
        if isinstance(size, int) and size < 0:
            raise ValueError(f"{path.name}: a negative size ({size}) is not a model's size")
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
        raise ValueError(
            f"{path.name} does not describe a model VeloLLM can plan for: {exc}"
        ) from exc
