"""A small GGUF metadata reader (header + key/values; tensors are not read).

Enough to show a model (architecture, layers, quantization, vocabulary) and to check that a
draft model can speculate for a target (same tokenizer, vocabulary, BOS/EOS).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from velollm_desktop.core.failure import UserFacingError

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


class NotGGUF(UserFacingError, ValueError):
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


MAX_DEPTH = 3
"""Arrays nested deeper than this are refused (real files nest one level)."""
MAX_KEYS = 65_536
"""Metadata keys (real models have fewer than 100)."""
MAX_METADATA_BYTES = 256 * 1024 * 1024
"""Header + metadata read at most (a 256k-token vocabulary with merges is ~20 MB)."""
MAX_ITEMS = 2 * 1024 * 1024
"""Strings and arrays inside arrays, all arrays together (each is read one by one). Real
files have < 600k (Llama 3: 128k tokens + 280k merges; Gemma 3: 262k tokens); scalar
arrays are skipped by seek and not counted. A sparse file of zeros is 30 M empty strings
by the byte check alone: this cap, not the size, bounds the work."""


class _Reader:
    """Bounded reads: never past the file's end, the byte cap, the depth or the key count."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.limit = fh, min(size, MAX_METADATA_BYTES)
        self.items = 0

    def count(self, n: int) -> None:
        """Account for `n` items read one by one; refused past MAX_ITEMS."""
        self.items += n
        if self.items > MAX_ITEMS:
            raise NotGGUF(
                f"metadata arrays hold more than {MAX_ITEMS} strings or arrays: refused "
                "(no real model has a quarter of that)"
            )

    def left(self) -> int:
        return self.limit - self.fh.tell()

    def read(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self.fh.read(size) if self.left() >= size else b""
        if len(data) != size:
            raise NotGGUF(self._ends())
        return struct.unpack(fmt, data)[0]

    def _ends(self) -> str:
        if self.limit == MAX_METADATA_BYTES:
            return f"metadata larger than {MAX_METADATA_BYTES >> 20} MiB: refused"
        return "file ends in the middle of the metadata (truncated download?)"

    def string(self) -> str:
        n = self.read("<Q")
        if n > 1 << 24:
            raise NotGGUF("implausible string length in metadata")
        if n > self.left():
            raise NotGGUF(self._ends())
        return self.fh.read(n).decode("utf-8", "replace")

    def value(self, vtype: int, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            return self.read(_SCALARS[vtype])
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            return self.array(depth + 1)
        raise NotGGUF(f"unknown metadata value type {vtype}")

    def array(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise NotGGUF(f"metadata arrays nested deeper than {MAX_DEPTH}: refused")
        itype = self.read("<I")
        n = self.read("<Q")
        # the smallest an item can be: a scalar's size, a string's length (8), an array's
        # type + length (12); checked against the bytes left before any item is read
        least = struct.calcsize(_SCALARS[itype]) if itype in _SCALARS else (8, 12)[itype == ARRAY]
        if itype not in _SCALARS and itype not in (STRING, ARRAY):
            raise NotGGUF(f"unknown metadata array item type {itype}")
        if n * least > self.left():
            raise NotGGUF(f"an array declares {n} items, more than is left: {self._ends()}")
        if itype not in _SCALARS:
            self.count(n)  # before the loop: the work is bounded, not only the bytes
        keep = min(n, KEEP_ARRAY_ITEMS)
        if itype in _SCALARS:  # the kept items in one unpack, not one call each
            code = _SCALARS[itype][1]
            head = list(struct.unpack(f"<{keep}{code}", self.fh.read(keep * least)))
        else:
            head = [self.value(itype, depth) for _ in range(keep)]
        if n <= KEEP_ARRAY_ITEMS:
            return head
        if itype in _SCALARS:  # skip the rest without reading it item by item
            self.fh.seek((n - KEEP_ARRAY_ITEMS) * least, 1)
        elif itype == STRING:
            self.skip_strings(n - KEEP_ARRAY_ITEMS)
        else:
            for _ in range(n - KEEP_ARRAY_ITEMS):
                self.value(itype, depth)
        return ArrayInfo(n, tuple(head))

    def skip_strings(self, n: int) -> None:
        """Step over `n` strings reading 1 MiB blocks (a vocabulary's tail, not kept)."""
        pos, end = self.fh.tell(), self.limit
        block, base = b"", pos
        while n > 0:
            off = pos - base
            if off + 8 > len(block):
                self.fh.seek(pos)
                block, base, off = self.fh.read(min(1 << 20, max(end - pos, 0))), pos, 0
                if len(block) < 8:
                    raise NotGGUF(self._ends())
            (length,) = struct.unpack_from("<Q", block, off)
            if length > 1 << 24:
                raise NotGGUF("implausible string length in metadata")
            pos += 8 + length
            if pos > end:
                raise NotGGUF(self._ends())
            n -= 1
        self.fh.seek(pos)


def read_gguf(path: Path | str) -> GGUFInfo:
    """Read a GGUF file's metadata; raises NotGGUF with the reason (bounded time and memory)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            if fh.read(4) != MAGIC:
                raise NotGGUF(f"{path.name} is not a GGUF model file (wrong magic bytes)")
            r = _Reader(fh, path.stat().st_size)
            version = r.read("<I")
            if version not in (2, 3):
                raise NotGGUF(f"{path.name}: unsupported GGUF version {version}")
            tensors = r.read("<Q")
            kv_count = r.read("<Q")
            if kv_count > MAX_KEYS:
                raise NotGGUF(f"{path.name}: {kv_count} metadata keys (limit {MAX_KEYS}): refused")
            meta: dict[str, Any] = {}
            for _ in range(kv_count):
                key = r.string()
                meta[key] = r.value(r.read("<I"))
    except OSError as exc:
        raise NotGGUF(f"cannot read {path}: {exc}") from exc
    return GGUFInfo(path, version, tensors, meta, path.stat().st_size)
