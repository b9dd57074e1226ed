"""The one place where result dataclasses become JSON (and plain data back)."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from pathlib import Path
from typing import Any


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
