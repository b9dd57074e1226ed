"""Sentences from parts: each part a whole sentence (capital, full stop), none repeated, and
text shortened only at a sentence or word boundary. The GUI and the CLI say the same."""

from __future__ import annotations

from collections.abc import Iterable


def sentence(text: str) -> str:
    """`text` with a capital first letter and a full stop (kept when it ends a sentence)."""
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[:1].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


def sentences(parts: Iterable[str | None]) -> str:
    """The parts as sentences, in order, each once."""
    out: list[str] = []
    for part in parts:
        s = sentence(part or "")
        if s and s not in out:
            out.append(s)
    return " ".join(out)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters: whole sentences when they fit, else cut at a word with "…"
    (never in the middle of a word)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if end >= limit // 3:
        return head[: end + 1]
    cut = head.rfind(" ")
    return (head[:cut] if cut > 0 else head).rstrip(" ,;:—-") + "…"
