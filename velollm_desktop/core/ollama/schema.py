"""Type checks on every Ollama reply, before a dataclass is built from it (the one choke point).

A field of the wrong type (a string or a negative number where Ollama sends a count or a
duration, a string where it sends an object, an object where it sends a list) is a
`BadResponse` that names the field, never a TypeError deep in a page. Missing fields stay
allowed: Ollama omits zero values (`omitempty`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from velollm_desktop.core.http.errors import BadResponse
from velollm_desktop.core.http.transport import printable

MAX_COUNT = 2**53
"""Largest count / size / nanosecond value accepted (beyond it a float loses integers)."""


def _where(base_url: str) -> str:
    return base_url if base_url.startswith("Ollama") else f"Ollama at {base_url}"


def obj(value: Any, what: str, field: str = "reply") -> dict:
    """`value` as a JSON object, else BadResponse."""
    if not isinstance(value, dict):
        raise BadResponse(f"{what} sent a {type(value).__name__} for {field}, not an object")
    return value


def _check(
    d: dict,
    what: str,
    counts: Iterable[str] = (),
    texts: Iterable[str] = (),
    objects: Iterable[str] = (),
    lists: Iterable[str] = (),
) -> dict:
    for key in counts:
        v = d.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise BadResponse(f"{what} sent {key}={str(v)[:40]!r}, not a number")
        if not 0 <= v <= MAX_COUNT:
            raise BadResponse(f"{what} sent {key}={v:g}, which is impossible (negative or absurd)")
    for key in texts:
        if d.get(key) is not None and not isinstance(d[key], str):
            raise BadResponse(f"{what} sent a {type(d[key]).__name__} for {key}, not text")
    for key in objects:
        if d.get(key) is not None:
            obj(d[key], what, key)
    for key in lists:
        if d.get(key) is not None and not isinstance(d[key], list):
            raise BadResponse(f"{what} sent a {type(d[key]).__name__} for {key}, not a list")
    return d


def chunk(value: Any, what: str) -> dict:
    """One `/api/generate` or `/api/chat` object (stream line or whole answer)."""
    d = _check(
        obj(value, what),
        what,
        counts=(
            "total_duration",
            "load_duration",
            "prompt_eval_count",
            "prompt_eval_duration",
            "eval_count",
            "eval_duration",
        ),
        texts=("response", "done_reason"),
        objects=("message",),
    )
    if d.get("message") is not None:
        _check(d["message"], what, texts=("content",))
    return d


def _models(value: Any, base_url: str, counts: tuple[str, ...]) -> list[dict]:
    what = _where(base_url)
    d = _check(obj(value, what), what, lists=("models",))
    out = []
    for m in d.get("models") or []:
        m = _check(
            obj(m, what, "a model"),
            what,
            counts=counts,
            texts=("name", "model", "digest", "modified_at", "expires_at"),
            objects=("details",),
        )
        if m.get("details") is not None:
            _check(m["details"], what, texts=("family", "parameter_size", "quantization_level"))
        for key in ("name", "model"):  # shown in tables and labels: no escape sequences
            if m.get(key) is not None:
                m[key] = printable(m[key])[:300]
        out.append(m)
    return out


def tags(value: Any, base_url: str) -> list[dict]:
    """`GET /api/tags` → its models, each checked."""
    return _models(value, base_url, ("size",))


def ps(value: Any, base_url: str) -> list[dict]:
    """`GET /api/ps` → its models, each checked."""
    return _models(value, base_url, ("size", "size_vram", "context_length"))


def show(value: Any, base_url: str) -> dict:
    """`POST /api/show`."""
    what = _where(base_url)
    d = _check(
        obj(value, what),
        what,
        texts=("parameters",),
        objects=("model_info", "details"),
        lists=("capabilities",),
    )
    if d.get("details") is not None:
        _check(d["details"], what, texts=("parameter_size", "quantization_level"))
    return d


def version(value: Any, base_url: str) -> str:
    """`GET /api/version` → "0.33.0"."""
    what = _where(base_url)
    d = _check(obj(value, what), what, texts=("version",))
    return str(d.get("version") or "")
