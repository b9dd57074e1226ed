"""Ollama version strings as comparable tuples (used by the catalogue, derived models, the optimizer)."""

from __future__ import annotations


def version_tuple(version: str | None) -> tuple[int, int, int]:
    """ "0.33.0-rc2" → (0, 33, 0); unknown → (0, 0, 0)."""
    parts = []
    for piece in (version or "").split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    major, minor, patch = (parts + [0, 0, 0])[:3]
    return (major, minor, patch)
