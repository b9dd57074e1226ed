"""A small GGUF metadata reader (header + key/values; tensors are not read).

Enough to show a model (architecture, layers, quantization, vocabulary) and to check that a
draft model can speculate for a target (same tokenizer, vocabulary, BOS/EOS).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"GGUF"
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
STRING, ARRAY = 8, 9
KEEP_ARRAY_ITEMS = 256
"""Arrays longer than this keep their length and first items only (a vocabulary has ~50k–250k)."""
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    32: "BF16",
}


class NotGGUF(ValueError):
    """The file is not a GGUF model (or is truncated)."""


@dataclass(frozen=True)
class ArrayInfo:
    """A long array: its length and first items."""

    length: int
    head: tuple

    def __len__(self) -> int:
        return self.length


@dataclass(frozen=True)
class GGUFInfo:
    """Metadata of one GGUF file."""

    path: Path
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    file_size_bytes: int

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    def arch(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def quantization(self) -> str:
        ft = self.metadata.get("general.file_type")
        return FILE_TYPES.get(ft, f"type {ft}") if ft is not None else "unknown"

    @property
    def tokenizer_model(self) -> str | None:
        return self.metadata.get("tokenizer.ggml.model")

    @property
    def vocab_size(self) -> int | None:
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        if isinstance(tokens, ArrayInfo):
            return tokens.length
        if isinstance(tokens, (list, tuple)):
            return len(tokens)
        return self.arch("vocab_size")

    def token_head(self, n: int) -> tuple:
        """The first `n` token strings (for a cheap vocabulary comparison)."""
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        items = tokens.head if isinstance(tokens, ArrayInfo) else tuple(tokens or ())
        return tuple(items[:n])


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise NotGGUF("file ends in the middle of the metadata (truncated download?)")
    return struct.unpack(fmt, data)[0]


def _string(fh: BinaryIO) -> str:
    n = _read(fh, "<Q")
    if n > 1 << 24:
        raise NotGGUF("implausible string length in metadata")
    data = fh.read(n)
    if len(data) != n:
        raise NotGGUF("file ends in the middle of a string")
    return data.decode("utf-8", "replace")


def _value(fh: BinaryIO, vtype: int) -> Any:
    if vtype in _SCALARS:
        return _read(fh, _SCALARS[vtype])
    if vtype == STRING:
        return _string(fh)
    if vtype == ARRAY:
        itype = _read(fh, "<I")
        n = _read(fh, "<Q")
        if n > 1 << 28:
            raise NotGGUF("implausible array length in metadata")
        items = [_value(fh, itype) for _ in range(n)]
        return items if n <= KEEP_ARRAY_ITEMS else ArrayInfo(n, tuple(items[:KEEP_ARRAY_ITEMS]))
    raise NotGGUF(f"unknown metadata value type {vtype}")


def read_gguf(path: Path | str) -> GGUFInfo:
    """Read a GGUF file's metadata; raises NotGGUF with the reason."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            if fh.read(4) != MAGIC:
                raise NotGGUF(f"{path.name} is not a GGUF model file (wrong magic bytes)")
            version = _read(fh, "<I")
            if version not in (2, 3):
                raise NotGGUF(f"{path.name}: unsupported GGUF version {version}")
            tensors = _read(fh, "<Q")
            kv_count = _read(fh, "<Q")
            meta: dict[str, Any] = {}
            for _ in range(kv_count):
                key = _string(fh)
                meta[key] = _value(fh, _read(fh, "<I"))
    except OSError as exc:
        raise NotGGUF(f"cannot read {path}: {exc}") from exc
    return GGUFInfo(path, version, tensors, meta, path.stat().st_size)
