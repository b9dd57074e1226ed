"""Find the GGUF files Ollama already downloaded: `ollama:NAME[:TAG]` → blobs/sha256-<hex>.

$OLLAMA_MODELS (default ~/.ollama/models; the Linux service uses /usr/share/ollama/.ollama/models)
→ manifests/registry.ollama.ai/library/NAME/TAG (a JSON manifest) → the layer whose mediaType
is application/vnd.ollama.image.model → blobs/sha256-<hex>.
"""

from __future__ import annotations

import os
from pathlib import Path

from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fsutil import read_own_json
from velollm_desktop.core.ollama.names import blob_file_name, valid_model_name

MODEL_MEDIA_TYPE = "application/vnd.ollama.image.model"
REGISTRY = "registry.ollama.ai"
MAX_MANIFEST_BYTES = 1024 * 1024
"""A manifest is < 2 KB."""
PREFIX = "ollama:"
"""How the GUI and CLI name a model Ollama downloaded, beside plain .gguf paths."""


class OllamaModelNotFound(UserFacingError, LookupError):
    """The name does not resolve to a downloaded model file; the message says where we looked."""


def is_ollama_spec(spec: str) -> bool:
    """Whether `spec` names an Ollama model (`ollama:NAME[:TAG]`) rather than a file."""
    return spec.strip().startswith(PREFIX)


def ollama_name(spec: str) -> str:
    """`ollama:NAME[:TAG]` or a bare NAME → NAME[:TAG] (what Ollama's API takes)."""
    return spec.strip().removeprefix(PREFIX)


def model_path(spec: str, dirs: list[Path] | None = None) -> Path:
    """The one resolution of a model choice: a .gguf path, or `ollama:NAME[:TAG]` → its blob.

    Raises `OllamaModelNotFound` (a LookupError) for an Ollama name that is not downloaded.
    Whether a plain path exists is the caller's check (it words the error for its user).
    """
    spec = spec.strip()
    return resolve(spec, dirs) if is_ollama_spec(spec) else Path(spec).expanduser()


def model_dirs() -> list[Path]:
    """Where Ollama keeps models, most likely first."""
    dirs = []
    if os.environ.get("OLLAMA_MODELS"):
        dirs.append(Path(os.environ["OLLAMA_MODELS"]).expanduser())
    dirs += [Path.home() / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]
    return dirs


def resolve(name: str, dirs: list[Path] | None = None) -> Path:
    """The GGUF blob of `name` ("llama3.2", "llama3.2:1b", "user/model:tag", optionally "ollama:" prefixed)."""
    name = name.removeprefix(PREFIX)
    repo, _, tag = name.partition(":")
    tag = tag or "latest"
    if "/" not in repo:
        repo = f"library/{repo}"
    if not valid_model_name(f"{repo}:{tag}"):
        raise OllamaModelNotFound(f"invalid model name {name!r}")
    tried = []
    for base in dirs or model_dirs():
        manifest = base / "manifests" / REGISTRY / repo / tag
        tried.append(str(manifest))
        try:
            data = read_own_json(manifest, max_bytes=MAX_MANIFEST_BYTES, max_depth=8)
        except (OSError, ValueError):  # missing, or UnreadableFile: not a manifest we can use
            continue
        layers = data.get("layers") if isinstance(data, dict) else None
        for layer in layers if isinstance(layers, list) else []:
            if isinstance(layer, dict) and layer.get("mediaType") == MODEL_MEDIA_TYPE:
                digest = blob_file_name(layer.get("digest"))
                if digest is None:
                    raise OllamaModelNotFound(
                        f"{name}: its manifest {manifest} names the blob "
                        f"{str(layer.get('digest'))[:80]!r}, which is not a sha256 digest; "
                        "not following it (pull the model again)"
                    )
                blob = base / "blobs" / digest
                if blob.exists():
                    return blob
                raise OllamaModelNotFound(
                    f"{name}: the manifest points to {blob}, which is missing"
                )
    raise OllamaModelNotFound(
        f"{name} is not downloaded (looked for {', '.join(tried)}); run `ollama pull {name}`"
    )


def list_models(dirs: list[Path] | None = None) -> list[str]:
    """Names of the models with a manifest ("llama3.2:1b", "user/model:tag")."""
    names = []
    for base in dirs or model_dirs():
        root = base / "manifests" / REGISTRY
        if not root.is_dir():
            continue
        for manifest in root.glob("*/*/*"):
            if manifest.is_file():
                ns, repo, tag = manifest.parts[-3:]
                names.append(f"{repo}:{tag}" if ns == "library" else f"{ns}/{repo}:{tag}")
    return sorted(set(names))
