"""Parse environment values exactly as Ollama's envconfig does."""

from __future__ import annotations

import re
from dataclasses import dataclass

from velollm_desktop.core.optimize.catalogue import BY_NAME, NEVER_EXISTED, VarType

_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_DURATION_RE = re.compile(r"^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$")
_UNIT_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


@dataclass(frozen=True)
class Parsed:
    """A value as Ollama would see it."""

    name: str
    raw: str
    value: object
    """int, bool, None (unset / auto), float seconds (durations) or str."""
    warning: str | None = None


_GO_SPACE = "".join(
    chr(c) for c in range(0x3001) if chr(c).isspace() and c not in range(0x1C, 0x20)
)
"""Go's `unicode.IsSpace` (Python's `isspace` also counts the separators U+001C–U+001F)."""


def clean(raw: str) -> str:
    """Ollama's `Var()`: `strings.TrimSpace`, then surrounding quotes."""
    return raw.strip(_GO_SPACE).strip("\"'")


def parse_go_duration_s(text: str) -> float | None:
    """Seconds from a Go duration ("5m", "1h30m", "-1s") or a plain integer of seconds."""
    if re.fullmatch(r"[+-]?\d+", text):
        return float(int(text))
    if not _DURATION_RE.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text):
        total += float(number) * _UNIT_NS[unit]
    return sign * total / 1e9


def parse_value(name: str, raw: str) -> Parsed:
    """Interpret `raw` for variable `name` as Ollama does (bad values → default + warning)."""
    text = clean(raw)
    if name in NEVER_EXISTED:
        return Parsed(
            name,
            raw,
            None,
            f"{name} is not read by Ollama (it never existed); "
            f"use the per-model option {NEVER_EXISTED[name]} in a Modelfile instead",
        )
    var = BY_NAME.get(name)
    if var is None or text == "":
        return Parsed(name, raw, text or None)
    if var.type in (VarType.UINT, VarType.BYTES):
        if re.fullmatch(r"\d+", text):
            return Parsed(name, raw, int(text))
        return Parsed(
            name,
            raw,
            int(var.default or 0),
            f"{name}={text!r} is not an unsigned integer: Ollama logs a warning and uses {var.default}",
        )
    if var.type in (VarType.BOOL, VarType.TRISTATE):
        if text in _GO_TRUE:
            return Parsed(name, raw, True)
        if text in _GO_FALSE:
            return Parsed(name, raw, False)
        return Parsed(
            name,
            raw,
            True,
            f"{name}={text!r} is not a Go boolean: Ollama treats a non-empty value as true",
        )
    if var.type is VarType.DURATION:
        seconds = parse_go_duration_s(text)
        if seconds is None:
            return Parsed(
                name,
                raw,
                parse_go_duration_s(var.default),
                f"{name}={text!r} is not a duration (5m, 1h, -1): Ollama uses {var.default}",
            )
        return Parsed(name, raw, seconds)
    return Parsed(name, raw, text)
