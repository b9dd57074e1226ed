"""Ollama model names and blob digests, checked where they enter (docs/RELIABILITY.md).

A name reaches Ollama's manifest paths (`manifests/<host>/<namespace>/<model>/<tag>`) and
`/api/create`; a manifest's digest becomes a file name under `blobs/`. Both are checked
against the forms Ollama itself produces (ollama `types/model/name.go`: parts of letters,
digits, `.`, `_`, `-`; a digest is `sha256:` + 64 hex digits, stored as `sha256-<hex>`),
so neither can name a path outside the models folder.
"""

from __future__ import annotations

import re

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_DIGEST = re.compile(r"^sha256[-:]([0-9a-f]{64})$")
MAX_NAME_CHARS = 256


def valid_model_name(name: object) -> bool:
    """`[host/][namespace/]model[:tag]`: each part letters, digits, `.`, `_`, `-` (80 at
    most, starting with a letter or digit), so no empty, `.` or `..` part."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS:
        return False
    repo, sep, tag = name.partition(":")
    if sep and not _PART.match(tag):
        return False
    parts = repo.split("/")
    return len(parts) <= 3 and all(_PART.match(p) and p not in (".", "..") for p in parts)


def blob_file_name(digest: object) -> str | None:
    """`sha256:<64 hex>` (or `sha256-<64 hex>`) → `sha256-<hex>`, the blob's file name;
    `None` for anything else (`../../etc/passwd`, upper case, a short hash)."""
    m = _DIGEST.match(digest) if isinstance(digest, str) else None
    return f"sha256-{m.group(1)}" if m else None
