"""The one place where result dataclasses become JSON (and plain data back)."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from pathlib import Path
from typing import Any

from velollm_desktop.core.failure import BadInput


def to_plain(value: Any) -> Any:
    """Return `value` as JSON-ready plain data (dicts, lists, str, numbers, None).

    Dataclasses become dicts of their fields, enums their value, paths strings, and
    non-finite floats `None` (JSON has no NaN).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """Serialise a dataclass (or plain data) to a JSON string."""
    return json.dumps(to_plain(value), indent=indent, ensure_ascii=False)


MAX_JSON_FILE_BYTES = 16 * 1024 * 1024
"""Largest JSON file we read from a path the user names (a detect report is ~5 KB)."""


def read_json_object(path: Path, what: str, max_bytes: int = MAX_JSON_FILE_BYTES) -> dict:
    """A JSON object from `path`, bounded: at most `max_bytes` read (so /dev/zero or a FIFO
    costs nothing), NaN / Infinity refused, anything but an object refused. Every failure is
    one ValueError naming `what` and the reason."""

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def finite(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{text[:20]} is out of range")
        return value

    try:
        with Path(path).open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise BadInput(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None
    if len(raw) > max_bytes:
        raise BadInput(f"{what} {path}: larger than {max_bytes >> 20} MiB, not a JSON report")
    try:
        data = json.loads(raw, parse_constant=no_constant, parse_float=finite)
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"{what} {path}: not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{what} {path}: a JSON {type(data).__name__}, not an object")
    return data
