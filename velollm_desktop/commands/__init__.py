"""CLI sub-commands beyond `detect`, one module per capability; each exposes `register(sub)`."""

from __future__ import annotations

REGISTRARS: list = []
