"""Derived Ollama models: VeloLLM's settings saved as a new model, the user's model untouched.

`create_derived` makes `<model><suffix>` with `POST /api/create` (`from` + Modelfile
`parameters`, and `draft_files` for an attached draft); it refuses a name that exists and
that VeloLLM did not create (never overwrites a user's model). Every creation is journalled
in the data dir *before* the request, so `delete_derived` (undo) can remove exactly what we
made — and nothing else. Ollama's source: `server/create.go`, `api/types.go` `CreateRequest`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velollm_desktop.core.fsutil import UnreadableFile, atomic_write_text, move_aside, read_own_json
from velollm_desktop.core.http.errors import OllamaNotRunning, ServerError, from_transport
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.names import valid_model_name
from velollm_desktop.core.ollama.version import version_tuple
from velollm_desktop.core.settings import data_dir

log = logging.getLogger(__name__)
_BLOB_NAME = re.compile(r"^sha256-([0-9a-f]{64})$")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]+")


class DerivedModelError(ServerError):
    """A derived model cannot be created or removed; the message says why."""


def derived_name(model: str, suffix: str) -> str:
    """ "llama3.2:1b" + "-spec" → "llama3.2-spec:1b", built from allowed characters only:
    anything else becomes `-`, and `.`/`..`/empty path parts are dropped, so whatever name a
    server lists, the name we send to `/api/create` is a plain valid one (or DerivedModelError)."""
    base, _, tag = str(model).partition(":")
    parts = [_NOT_ALLOWED.sub("-", p).strip("-._") for p in base.split("/")]
    parts = [p for p in parts if p][-3:]
    tag = _NOT_ALLOWED.sub("-", tag).strip("-._")[:80]
    if not parts:
        raise DerivedModelError(f"{model!r} has no usable name to derive a model name from")
    parts[-1] = f"{parts[-1][: 80 - len(suffix)]}{suffix}"
    name = "/".join(parts) + (f":{tag}" if tag else "")
    if not valid_model_name(name):
        raise DerivedModelError(f"cannot build a valid model name from {model!r}")
    return name


def _canon(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


@dataclass
class DerivedJournal:
    """The derived models VeloLLM created (name → base), in the data dir."""

    path: Path | None = None

    def __post_init__(self) -> None:
        self.path = self.path or data_dir() / "ollama-derived.json"

    @property
    def file(self) -> Path:
        return self.path or data_dir() / "ollama-derived.json"

    def load(self) -> dict[str, dict[str, Any]]:
        try:
            data = read_own_json(self.file)
        except FileNotFoundError:
            return {}
        except UnreadableFile as exc:
            log.warning("derived-model record unreadable, moved aside: %s", exc)
            move_aside(self.file)
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: Mapping[str, Any]) -> None:
        atomic_write_text(self.file, json.dumps(data, indent=1, sort_keys=True))

    def record(self, name: str, entry: Mapping[str, Any]) -> None:
        self._save({**self.load(), _canon(name): dict(entry)})

    def forget(self, name: str) -> None:
        data = self.load()
        data.pop(_canon(name), None)
        self._save(data)

    def ours(self, name: str) -> bool:
        return _canon(name) in self.load()


def require_version(client: OllamaClient, minimum: str, what: str) -> str:
    """`GET /api/version`; raises DerivedModelError when older than `minimum`."""
    version = client.version()
    if version_tuple(version) < version_tuple(minimum):
        raise DerivedModelError(
            f"Ollama {version or '(unknown version)'} does not support {what}: "
            f"it needs Ollama ≥ {minimum}; nothing was created"
        )
    return version


def blob_digest(path: Path) -> str:
    """`sha256:<hex>` of a file (taken from an Ollama blob's name when it is one)."""
    m = _BLOB_NAME.match(path.name)
    if m:
        return f"sha256:{m.group(1)}"
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def _has_blob(url: str, digest: str) -> bool:
    """`HEAD /api/blobs/<digest>`: whether Ollama already stores this file."""
    import httpx  # noqa: PLC0415 - only when a draft is attached

    try:
        resp = httpx.head(f"{url.rstrip('/')}/api/blobs/{digest}", timeout=10, trust_env=False)
    except httpx.HTTPError as exc:
        raise from_transport(exc, "Ollama", url, OllamaClient.START_HINT, OllamaNotRunning) from exc
    return resp.status_code == 200


def _push_blob(url: str, digest: str, path: Path) -> None:
    """`POST /api/blobs/<digest>` the file, streamed (Ollama checks the digest)."""
    import httpx  # noqa: PLC0415

    try:
        with path.open("rb") as fh:
            resp = httpx.post(
                f"{url.rstrip('/')}/api/blobs/{digest}",
                content=iter(lambda: fh.read(1 << 20), b""),
                timeout=httpx.Timeout(None, connect=2.0),
                trust_env=False,
            )
    except httpx.HTTPError as exc:
        raise from_transport(exc, "Ollama", url, OllamaClient.START_HINT, OllamaNotRunning) from exc
    if resp.status_code >= 400:
        raise DerivedModelError(
            f"Ollama refused the draft file {path.name}: HTTP {resp.status_code} {resp.text[:200]}"
        )


def create_derived(
    url: str,
    name: str,
    base: str,
    parameters: Mapping[str, Any],
    *,
    draft: Path | None = None,
    journal: DerivedJournal | None = None,
) -> None:
    """Create `name` from `base` with `parameters` (and `draft` attached); journalled first."""
    journal = journal or DerivedJournal()
    if not valid_model_name(name):
        raise DerivedModelError(
            f"{name!r} is not a valid Ollama model name (letters, digits, '.', '_', '-' per "
            "part; no '..'); nothing was created"
        )
    with OllamaClient(url) as client:
        installed = {_canon(m.name) for m in client.installed_models()}
        if _canon(name) in installed and not journal.ours(name):
            raise DerivedModelError(
                f"a model named {name} already exists and VeloLLM did not create it: "
                "it is left untouched (delete or rename it first)"
            )
        draft_files = None
        if draft is not None:
            digest = blob_digest(draft)
            if not _has_blob(url, digest):
                _push_blob(url, digest, draft)
            draft_files = {draft.name if draft.suffix == ".gguf" else "draft.gguf": digest}
        journal.record(name, {"base": base, "parameters": dict(parameters), "draft": str(draft)})
        try:
            client.create(name, base, parameters, draft_files=draft_files)
        except ServerError:
            if _canon(name) not in installed:
                journal.forget(name)
            raise


def delete_derived(url: str, name: str, journal: DerivedJournal | None = None) -> None:
    """Undo: delete `name` — only a model VeloLLM created."""
    journal = journal or DerivedJournal()
    if not journal.ours(name):
        raise DerivedModelError(f"{name} was not created by VeloLLM: not deleting it")
    with OllamaClient(url) as client:
        client.delete(name)
    journal.forget(name)
