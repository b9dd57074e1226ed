"""GGUF files with the exact metadata and tensor list of real models, without their weights.

`write_shape(SHAPES["llama31-8b"], path)` writes the header (metadata, a SentencePiece-style
vocabulary of the model's size, every tensor's name / shape / type / offset) and then either
leaves the data region unallocated (`fill="sparse"`: `truncate`, so a 16 GiB model costs a few
MiB of disk) or writes it as zeros (`fill="zeros"`, for a GPU run where the weights are really
loaded). llama.cpp loads either: memory and speed depend on shapes and types, not on values.

Shapes follow the published configs (Hugging Face config.json → GGUF keys as llama.cpp's
`convert_hf_to_gguf.py` writes them); tensor lists follow each architecture's
`load_arch_tensors` in llama.cpp's `src/models/<arch>.cpp`. Quantization mixes approximate
llama.cpp's `src/llama-quant.cpp` (Q4_K_M: Q6_K for the output, and for attn_v / ffn_down on
the "more bits" layers; Q4_K elsewhere; norms F32).

Run as a script to write shapes: `python tests/gguf_shapes.py OUTDIR [names…] [--zeros]`.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

ALIGNMENT = 32
# ggml type: (id, elements per block, bytes per block) — ggml/src/ggml.c type_traits
GGML_TYPES = {
    "F32": (0, 1, 4),
    "F16": (1, 1, 2),
    "Q4_0": (2, 32, 18),
    "Q8_0": (8, 32, 34),
    "Q4_K": (12, 256, 144),
    "Q6_K": (14, 256, 210),
    "BF16": (30, 1, 2),
    "MXFP4": (39, 32, 17),
}
FILE_TYPE = {"F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_M": 15, "MXFP4": 38}


@dataclass(frozen=True)
class Shape:
    """One model's architecture hyper-parameters (as GGUF keys) and layout."""

    name: str
    arch: str
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_vocab: int
    n_ctx_train: int
    head_dim: int
    tied_output: bool = False
    qkv_bias: bool = False
    qk_norm: bool = False
    post_norms: bool = False
    """Gemma 2/3: post-attention and post-FFN norms."""
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_exp: int = 0
    sliding_window: int = 0
    extra: dict = field(default_factory=dict)
    """Further GGUF keys (without the `<arch>.` prefix when they start with '.')."""


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("llama31-8b", "llama", 32, 4096, 32, 8, 14336, 128256, 131072, 128),
        Shape("qwen25-14b", "qwen2", 48, 5120, 40, 8, 13824, 152064, 32768, 128, qkv_bias=True),
        Shape(
            "gemma3-27b",
            "gemma3",
            62,
            5376,
            32,
            16,
            21504,
            262144,
            131072,
            128,
            tied_output=True,
            qk_norm=True,
            post_norms=True,
            sliding_window=1024,
        ),
        Shape(
            "gemma3-12b",
            "gemma3",
            48,
            3840,
            16,
            8,
            15360,
            262144,
            131072,
            256,
            tied_output=True,
            qk_norm=True,
            post_norms=True,
            sliding_window=1024,
        ),
        Shape(
            "qwen3-30b-a3b",
            "qwen3moe",
            48,
            2048,
            32,
            4,
            6144,
            151936,
            40960,
            128,
            qk_norm=True,
            n_expert=128,
            n_expert_used=8,
            n_ff_exp=768,
        ),
        Shape(
            "gpt-oss-20b",
            "gpt-oss",
            24,
            2880,
            64,
            8,
            2880,
            201088,
            131072,
            64,
            qkv_bias=True,
            n_expert=32,
            n_expert_used=4,
            n_ff_exp=2880,
            sliding_window=128,
        ),
        Shape("tiny-llama", "llama", 4, 256, 4, 2, 512, 2048, 4096, 64),
        Shape(
            "tiny-gemma3",
            "gemma3",
            6,
            256,
            4,
            2,
            512,
            2048,
            8192,
            64,
            tied_output=True,
            qk_norm=True,
            post_norms=True,
            sliding_window=128,
        ),
    )
}
DEFAULT_QUANT = {"gpt-oss": "MXFP4"}


def _more_bits(i: int, n: int) -> bool:
    """llama-quant.cpp's use_more_bits: first/last eighth and every third layer between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _type_for(name: str, quant: str, layer: int, n_layer: int) -> str:
    if name.endswith("norm.weight") or name.endswith(".bias") or "sinks" in name:
        return "F32"
    if name.endswith("ffn_gate_inp.weight") or name == "rope_freqs.weight":
        return "F32"
    if quant == "MXFP4":
        return "MXFP4" if "_exps." in name else "Q8_0"
    if quant != "Q4_K_M":
        return quant
    if name == "output.weight":
        return "Q6_K"
    if ("attn_v." in name or "ffn_down" in name) and _more_bits(layer, n_layer):
        return "Q6_K"
    return "Q4_K"


def tensor_list(s: Shape, quant: str) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, dims in ggml order, type) for every tensor the architecture's loader expects."""
    q_dim, kv_dim = s.n_head * s.head_dim, s.n_head_kv * s.head_dim
    out: list[tuple[str, tuple[int, ...], int]] = [
        ("token_embd.weight", (s.n_embd, s.n_vocab), -1),
        ("output_norm.weight", (s.n_embd,), -1),
    ]
    if not s.tied_output:
        out.append(("output.weight", (s.n_embd, s.n_vocab), -1))
    if s.arch == "llama":
        out.append(("rope_freqs.weight", (s.head_dim // 2,), -1))
    for i in range(s.n_layer):
        b = f"blk.{i}."
        layer = [
            (b + "attn_norm.weight", (s.n_embd,)),
            (b + "attn_q.weight", (s.n_embd, q_dim)),
            (b + "attn_k.weight", (s.n_embd, kv_dim)),
            (b + "attn_v.weight", (s.n_embd, kv_dim)),
            (b + "attn_output.weight", (q_dim, s.n_embd)),
        ]
        if s.qkv_bias:
            layer += [(b + "attn_q.bias", (q_dim,)), (b + "attn_k.bias", (kv_dim,))]
            layer += [(b + "attn_v.bias", (kv_dim,))]
        if s.qk_norm:
            layer += [(b + "attn_q_norm.weight", (s.head_dim,))]
            layer += [(b + "attn_k_norm.weight", (s.head_dim,))]
        if s.post_norms or s.arch == "gpt-oss":
            layer.append((b + "post_attention_norm.weight", (s.n_embd,)))
        if s.arch != "gpt-oss":
            layer.append((b + "ffn_norm.weight", (s.n_embd,)))
        if s.post_norms:
            layer.append((b + "post_ffw_norm.weight", (s.n_embd,)))
        layer += _ffn(s, b)
        out += [(name, dims, i) for name, dims in layer]
    return [(n, d, _fit_type(_type_for(n, quant, i, s.n_layer), d)) for n, d, i in out]


def _ffn(s: Shape, b: str) -> list[tuple[str, tuple[int, ...]]]:
    if not s.n_expert:
        return [
            (b + "ffn_gate.weight", (s.n_embd, s.n_ff)),
            (b + "ffn_up.weight", (s.n_embd, s.n_ff)),
            (b + "ffn_down.weight", (s.n_ff, s.n_embd)),
        ]
    e, f = s.n_expert, s.n_ff_exp
    t = [
        (b + "ffn_gate_inp.weight", (s.n_embd, e)),
        (b + "ffn_gate_exps.weight", (s.n_embd, f, e)),
        (b + "ffn_up_exps.weight", (s.n_embd, f, e)),
        (b + "ffn_down_exps.weight", (f, s.n_embd, e)),
    ]
    if s.arch == "gpt-oss":
        t += [(b + "attn_sinks.weight", (s.n_head,)), (b + "attn_output.bias", (s.n_embd,))]
        t += [(b + "ffn_gate_inp.bias", (e,)), (b + "ffn_gate_exps.bias", (f, e))]
        t += [(b + "ffn_up_exps.bias", (f, e)), (b + "ffn_down_exps.bias", (s.n_embd, e))]
    return t


def _fit_type(ttype: str, dims: tuple[int, ...]) -> str:
    """A block type needs rows divisible by its block size: fall back like llama-quant does."""
    for t in (ttype, "Q8_0", "F16"):
        if dims[0] % GGML_TYPES[t][1] == 0:
            return t
    return "F32"


def tensor_bytes(dims: tuple[int, ...], ttype: str) -> int:
    _, block, size = GGML_TYPES[ttype]
    n = 1
    for d in dims:
        n *= d
    return n // block * size


def metadata(s: Shape, quant: str) -> dict:
    a = s.arch
    meta: dict = {
        "general.architecture": a,
        "general.name": s.name,
        "general.file_type": FILE_TYPE[quant],
        "general.alignment": ALIGNMENT,
        f"{a}.context_length": s.n_ctx_train,
        f"{a}.embedding_length": s.n_embd,
        f"{a}.block_count": s.n_layer,
        f"{a}.feed_forward_length": s.n_ff,
        f"{a}.attention.head_count": s.n_head,
        f"{a}.attention.head_count_kv": s.n_head_kv,
        f"{a}.attention.key_length": s.head_dim,
        f"{a}.attention.value_length": s.head_dim,
        f"{a}.rope.dimension_count": s.head_dim,
        f"{a}.rope.freq_base": 1000000.0 if a != "llama" else 500000.0,
        f"{a}.attention.layer_norm_rms_epsilon": 1e-6,
        f"{a}.vocab_size": s.n_vocab,
    }
    if s.n_expert:
        meta[f"{a}.expert_count"] = s.n_expert
        meta[f"{a}.expert_used_count"] = s.n_expert_used
        meta[f"{a}.expert_feed_forward_length"] = s.n_ff_exp
    if s.sliding_window:
        meta[f"{a}.attention.sliding_window"] = s.sliding_window
    meta.update({(a + k if k.startswith(".") else k): v for k, v in s.extra.items()})
    meta.update(_vocab(s.n_vocab))
    return meta


def _vocab(n: int) -> dict:
    """A SentencePiece vocabulary of n tokens: <unk> <s> </s>, 256 byte tokens, filler pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens += letters + ["▁" + c for c in letters]
    types += [1] * 52
    tokens += [f"▁t{i}" for i in range(n - len(tokens))]
    types += [1] * (n - len(types))
    return {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens[:n],
        "tokenizer.ggml.scores": [-float(i) for i in range(n)],
        "tokenizer.ggml.token_type": types[:n],
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
    }


def _s(text: str) -> bytes:
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def _kv(key: str, v: object) -> bytes:
    if isinstance(v, bool):
        return _s(key) + struct.pack("<IB", 7, v)
    if isinstance(v, int):
        return _s(key) + struct.pack("<II", 4, v)
    if isinstance(v, float):
        return _s(key) + struct.pack("<If", 6, v)
    if isinstance(v, str):
        return _s(key) + struct.pack("<I", 8) + _s(v)
    if isinstance(v, list):
        head = _s(key) + struct.pack("<I", 9)
        if all(isinstance(x, str) for x in v):
            return head + struct.pack("<IQ", 8, len(v)) + b"".join(_s(x) for x in v)
        if all(isinstance(x, float) for x in v):
            return head + struct.pack("<IQ", 6, len(v)) + struct.pack(f"<{len(v)}f", *v)
        return head + struct.pack("<IQ", 5, len(v)) + struct.pack(f"<{len(v)}i", *v)
    raise TypeError(f"{key}: {type(v)}")


def _pad(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


@dataclass(frozen=True)
class Written:
    path: Path
    header_bytes: int
    data_bytes: int
    tensors: list[tuple[str, tuple[int, ...], str]]

    def bytes_of(self, name: str) -> int:
        return sum(tensor_bytes(d, t) for n, d, t in self.tensors if n == name)


def write_shape(s: Shape, path: Path, quant: str | None = None, fill: str = "sparse") -> Written:
    """Write `s` to `path`; `fill` is "sparse" (data region unallocated) or "zeros"."""
    quant = quant or DEFAULT_QUANT.get(s.arch, "Q4_K_M")
    tensors = tensor_list(s, quant)
    meta = metadata(s, quant)
    infos, offset = [], 0
    for name, dims, ttype in tensors:
        infos.append(
            _s(name)
            + struct.pack("<I", len(dims))
            + struct.pack(f"<{len(dims)}Q", *dims)
            + struct.pack("<IQ", GGML_TYPES[ttype][0], offset)
        )
        offset = _pad(offset + tensor_bytes(dims, ttype))
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    header += b"".join(_kv(k, v) for k, v in meta.items()) + b"".join(infos)
    header += b"\0" * (_pad(len(header)) - len(header))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(header)
        if fill == "zeros":
            chunk = b"\0" * (64 << 20)
            left = offset
            while left > 0:
                left -= fh.write(chunk[: min(left, len(chunk))])
        else:
            fh.truncate(len(header) + offset)
    return Written(path, len(header), offset, tensors)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    out, names = Path(argv[0]), [a for a in argv[1:] if not a.startswith("--")]
    fill = "zeros" if "--zeros" in argv else "sparse"
    for name in names or list(SHAPES):
        w = write_shape(SHAPES[name], out / f"{name}.gguf", fill=fill)
        print(f"{w.path}: {w.header_bytes + w.data_bytes} bytes ({fill})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
