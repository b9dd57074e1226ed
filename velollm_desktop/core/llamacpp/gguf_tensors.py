"""A GGUF file's tensor list (name, ggml type, shape), read after its metadata.

The same shape as the `tensors` of Ollama's `/api/show` (verbose), so the memory fit reads a
local file and an Ollama model alike: exact token-embedding and MoE expert bytes. Bounded like
gguf.py: at most MAX_TENSORS entries, four dimensions each, names ≤ 64 KiB, never past the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from velollm_desktop.core.llamacpp.gguf import MAGIC, MAX_KEYS, NotGGUF, _Reader

MAX_TENSORS = 1 << 16
"""More tensors than any model has (a 671B MoE has ~1100)."""
MAX_DIMS = 4
"""GGML_MAX_DIMS in ggml/include/ggml.h."""
# ggml/include/ggml.h enum ggml_type (the ids that occur in model files)
GGML_TYPE_NAMES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
    10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
    17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
    23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
    30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}  # fmt: skip


def read_gguf_tensors(path: Path | str) -> list[dict[str, Any]]:
    """[{name, type, shape}] of every tensor; raises NotGGUF with the reason."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            if fh.read(4) != MAGIC:
                raise NotGGUF(f"{path.name} is not a GGUF model file (wrong magic bytes)")
            r = _Reader(fh, path.stat().st_size)
            if r.read("<I") not in (2, 3):
                raise NotGGUF(f"{path.name}: unsupported GGUF version")
            n_tensors, n_keys = r.read("<Q"), r.read("<Q")
            if n_tensors > MAX_TENSORS or n_keys > MAX_KEYS:
                raise NotGGUF(f"{path.name}: {n_tensors} tensors / {n_keys} keys: refused")
            for _ in range(n_keys):
                r.string()
                r.value(r.read("<I"))
            return [_tensor(r, path.name) for _ in range(n_tensors)]
    except OSError as exc:
        raise NotGGUF(f"cannot read {path}: {exc}") from exc


def _tensor(r: _Reader, file_name: str) -> dict[str, Any]:
    name = r.string()
    if len(name) > 1 << 16:
        raise NotGGUF(f"{file_name}: implausible tensor name length")
    n_dims = r.read("<I")
    if not 1 <= n_dims <= MAX_DIMS:
        raise NotGGUF(f"{file_name}: tensor {name[:80]!r} has {n_dims} dimensions")
    dims = [r.read("<Q") for _ in range(n_dims)]
    ttype = r.read("<I")
    r.read("<Q")  # offset in the data region
    return {"name": name, "type": GGML_TYPE_NAMES.get(ttype, f"type{ttype}"), "shape": dims}
