"""Speculative decoding as Ollama ≥ 0.30 runs it (read from Ollama's source).

- `llm/llama_server.go`: a model has embedded MTP heads when `<arch>.nextn_predict_layers` > 0
  in its GGUF, or (qwen35 / qwen35moe) it has `mtp.*` tensors (`hasMTPDraft`). An attached
  draft (Modelfile `DRAFT <file>`, `parser/parser.go`) is `draft-dflash` when its architecture
  is `dflash`, otherwise `draft-mtp` (`externalDraftType`). `appendDraftArgs` then adds
  `--spec-type T --spec-draft-n-max <draft_num_predict>` (+ `--spec-draft-backend-sampling` for
  draft-mtp, + `--spec-draft-model <path>` for an attached draft) when draft_num_predict > 0.
- `server/routes.go`: draft_num_predict defaults to 4 (`api.DefaultOptions`), but a model
  without an attached draft gets 0 unless the request or its Modelfile sets it — so embedded
  MTP heads are never used by default (`docs/modelfile.mdx`).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velollm_desktop.core.llamacpp import gguf
from velollm_desktop.core.llamacpp.binaries import LlamaBinary

DEFAULT_DRAFT_NUM_PREDICT = 4
"""`api.DefaultOptions().DraftNumPredict`."""
MTP_MIN_VERSION = "0.30.0"
"""First Ollama that runs llama-server and passes draft flags (MTP heads, attached drafts)."""
DFLASH_MIN_VERSION = "0.32.8"
"""First Ollama that passes `--spec-type draft-dflash` for a DFlash draft."""
_LEGACY_MTP_ARCHS = ("qwen35", "qwen35moe")
MAX_TENSORS = 1 << 20


@dataclass(frozen=True)
class OllamaSpecInfo:
    """What decides whether (and how) Ollama speculates for one model."""

    model: str
    architecture: str | None
    nextn_predict_layers: int = 0
    mtp_tensors: int = 0
    draft_path: str | None = None
    """The attached draft (Modelfile `DRAFT`), as Ollama reports it."""
    draft_num_predict: int | None = None
    """Set in the model's Modelfile parameters; None = not set."""

    @property
    def has_mtp(self) -> bool:
        """Embedded MTP heads (`hasMTPDraft`)."""
        if self.nextn_predict_layers > 0:
            return True
        return self.architecture in _LEGACY_MTP_ARCHS and self.mtp_tensors > 0

    def effective_draft_num_predict(self, request_value: int | None = None) -> int:
        """The draft_num_predict Ollama runs with (`server/routes.go`)."""
        if request_value is not None:
            return request_value
        if self.draft_num_predict is not None:
            return self.draft_num_predict
        return DEFAULT_DRAFT_NUM_PREDICT if self.draft_path else 0


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _parameter(parameters: str, name: str) -> int | None:
    m = re.search(rf"(?m)^\s*{re.escape(name)}\s+(-?\d+)\s*$", parameters or "")
    return int(m.group(1)) if m else None


def info_from_show(model: str, show: Mapping[str, Any]) -> OllamaSpecInfo:
    """From a `POST /api/show` answer (verbose: model_info, tensors, modelfile, parameters)."""
    info = show.get("model_info")
    info = info if isinstance(info, Mapping) else {}
    arch = info.get("general.architecture")
    arch = str(arch) if arch else None
    tensors = show.get("tensors")
    tensors = tensors if isinstance(tensors, list) else []
    mtp = sum(
        1 for t in tensors if isinstance(t, Mapping) and str(t.get("name", "")).startswith("mtp.")
    )
    draft = re.search(r"(?m)^DRAFT\s+(.+?)\s*$", str(show.get("modelfile") or ""))
    return OllamaSpecInfo(
        model,
        arch,
        _int(info.get(f"{arch}.nextn_predict_layers")) if arch else 0,
        mtp,
        draft.group(1) if draft else None,
        _parameter(str(show.get("parameters") or ""), "draft_num_predict"),
    )


def tensor_names(path: Path, prefix: str = "") -> list[str]:
    """Names of the tensors in a GGUF file (starting with `prefix`); raises gguf.NotGGUF.

    Reads through gguf's bounded reader: never past the file's end or its byte cap."""
    path = Path(path)
    names = []
    try:
        with path.open("rb") as fh:
            if fh.read(4) != gguf.MAGIC:
                raise gguf.NotGGUF(f"{path.name} is not a GGUF model file")
            r = gguf._Reader(fh, path.stat().st_size)
            if r.read("<I") not in (2, 3):
                raise gguf.NotGGUF(f"{path.name}: unsupported GGUF version")
            count, kv_count = r.read("<Q"), r.read("<Q")
            if count > MAX_TENSORS or kv_count > gguf.MAX_KEYS:
                raise gguf.NotGGUF(f"implausible tensor count {count} or key count {kv_count}")
            for _ in range(kv_count):
                r.string()
                r.value(r.read("<I"))
            for _ in range(count):
                name = r.string()
                dims = r.read("<I")
                if dims > 8:
                    raise gguf.NotGGUF(f"implausible tensor rank {dims}")
                for _ in range(dims):
                    r.read("<Q")
                r.read("<I"), r.read("<Q")  # type, offset
                if name.startswith(prefix):
                    names.append(name)
    except OSError as exc:
        raise gguf.NotGGUF(f"cannot read {path}: {exc}") from exc
    return names


def info_from_gguf(path: Path, model: str | None = None) -> OllamaSpecInfo:
    """From a GGUF file (an Ollama blob or any model file)."""
    meta = gguf.read_gguf(path)
    return OllamaSpecInfo(
        model or meta.name,
        meta.architecture,
        _int(meta.arch("nextn_predict_layers", 0)),
        len(tensor_names(path, "mtp.")),
    )


def draft_type(info: OllamaSpecInfo, draft_architecture: str | None = None) -> str | None:
    """The `--spec-type` Ollama picks: an attached draft wins over embedded MTP heads."""
    if info.draft_path:
        return "draft-dflash" if draft_architecture == "dflash" else "draft-mtp"
    return "draft-mtp" if info.has_mtp else None


def ollama_draft_args(
    info: OllamaSpecInfo,
    draft_num_predict: int,
    draft_architecture: str | None = None,
) -> tuple[str, ...]:
    """The llama-server flags Ollama adds for this model (`appendDraftArgs`)."""
    kind = draft_type(info, draft_architecture)
    if kind is None or draft_num_predict <= 0:
        return ()
    args = ["--spec-type", kind, "--spec-draft-n-max", str(draft_num_predict)]
    if kind == "draft-mtp":
        args.append("--spec-draft-backend-sampling")
    if info.draft_path:
        args += ["--spec-draft-model", info.draft_path]
    return tuple(args)


@dataclass(frozen=True)
class ServerSupport:
    """What a llama-server build accepts (from its `--help`)."""

    spec_types: frozenset[str]
    flags: frozenset[str]

    def missing(self, args: tuple[str, ...]) -> list[str]:
        """Why this llama-server cannot run `args` (empty: it can)."""
        out = [
            f"{a} is not a flag of this llama-server"
            for a in args
            if a.startswith("--") and a not in self.flags
        ]
        if "--spec-type" in args:
            kind = args[args.index("--spec-type") + 1]
            if kind not in self.spec_types:
                out.append(f"this llama-server does not accept --spec-type {kind}")
        return out


def server_support(binary: LlamaBinary, timeout_s: float = 20) -> ServerSupport:
    """Parse `llama-server --help` for its flags and `--spec-type` values."""
    try:
        res = subprocess.run(
            [str(binary.path), "--help"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ServerSupport(frozenset(), frozenset())
    return parse_help(res.stdout + res.stderr)


def parse_help(text: str) -> ServerSupport:
    """Flags (`--name`) and the `--spec-type` choices listed in a llama.cpp `--help` text."""
    flags = frozenset(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    types: set[str] = set()
    m = re.search(r"--spec-type\s+\[?([a-z0-9|,\s-]+?)\]?\s{2,}", text)
    if m:
        types = {t.strip() for t in re.split(r"[|,]", m.group(1)) if t.strip()}
    return ServerSupport(frozenset(types), flags)


def mtp_advice(info: OllamaSpecInfo) -> list[str]:
    """What Ollama will do with this model's speculation, in words."""
    n = info.effective_draft_num_predict()
    if info.draft_path:
        state = f"drafts {n} tokens per step" if n > 0 else "has drafting off (draft_num_predict 0)"
        return [f"{info.model} has a draft attached ({Path(info.draft_path).name}): Ollama {state}"]
    if not info.has_mtp:
        return []
    heads = (
        f"{info.nextn_predict_layers} MTP layer(s) ({info.architecture}.nextn_predict_layers)"
        if info.nextn_predict_layers
        else f"{info.mtp_tensors} mtp.* tensors"
    )
    if info.draft_num_predict is None:
        return [
            f"{info.model} has embedded MTP heads ({heads}), but Ollama will not use them unless "
            f"draft_num_predict is set (Modelfile `PARAMETER draft_num_predict "
            f"{DEFAULT_DRAFT_NUM_PREDICT}` or a request's options; Ollama ≥ {MTP_MIN_VERSION})"
        ]
    if n <= 0:
        return [
            f"{info.model} has embedded MTP heads ({heads}); draft_num_predict 0 turns them off"
        ]
    return [f"{info.model} has embedded MTP heads ({heads}); Ollama drafts {n} tokens per step"]


def ollama_mode_args(
    target: Path,
    draft: Path | None,
    draft_num_predict: int | None,
    support: ServerSupport,
) -> tuple[tuple[str, ...] | None, list[str]]:
    """The llama-server flags Ollama would run `target` with (`draft` attached as `DRAFT`), or
    None with the reason when Ollama would not speculate or this llama-server cannot run it."""
    info = info_from_gguf(target, target.name)
    draft_arch = None
    if draft is not None:
        info = OllamaSpecInfo(
            info.model, info.architecture, info.nextn_predict_layers, info.mtp_tensors, str(draft)
        )
        draft_arch = gguf.read_gguf(draft).architecture
    notes = mtp_advice(info)
    if not info.has_mtp and draft is None:
        notes.append(
            f"as Ollama would run it: {info.model} has no MTP heads and no draft is attached, "
            "so Ollama does not speculate (give --draft to attach one)"
        )
        return None, notes
    n = draft_num_predict if draft_num_predict is not None else DEFAULT_DRAFT_NUM_PREDICT
    args = ollama_draft_args(info, n, draft_arch)
    if not args:
        notes.append("as Ollama would run it: draft_num_predict 0 turns drafting off")
        return None, notes
    missing = support.missing(args)
    if missing:
        notes.append(
            f"as Ollama would run it (`{' '.join(args)}`): not measured — "
            + "; ".join(missing)
            + "; Ollama bundles its own llama-server, which may accept it"
        )
        return None, notes
    return args, notes


def ollama_model_advice(url: str, model: str) -> tuple[OllamaSpecInfo, list[str]]:
    """Read an installed model's metadata (`/api/show`, verbose) and say what Ollama will do."""
    from velollm_desktop.core.ollama.client import OllamaClient  # noqa: PLC0415

    with OllamaClient(url) as client:
        info = info_from_show(model, client.show_json(model))
    return info, mtp_advice(info)
