"""Write tiny GGUF files (metadata only) for tests of the reader and the compatibility check."""

from __future__ import annotations

import struct
from pathlib import Path


def _s(text: str) -> bytes:
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path: Path, meta: dict) -> Path:
    """Strings, ints (uint32), and lists of strings are enough here."""
    body = b""
    for key, value in meta.items():
        body += _s(key)
        if isinstance(value, str):
            body += struct.pack("<I", 8) + _s(value)
        elif isinstance(value, int):
            body += struct.pack("<I", 4) + struct.pack("<I", value)
        elif isinstance(value, list):
            body += struct.pack("<I", 9) + struct.pack("<I", 8) + struct.pack("<Q", len(value))
            body += b"".join(_s(v) for v in value)
        else:
            raise TypeError(type(value))
    path.write_bytes(
        b"GGUF" + struct.pack("<I", 3) + struct.pack("<Q", 0) + struct.pack("<Q", len(meta)) + body
    )
    return path
