"""Find bundled resources whether running from source, installed, or frozen by PyInstaller."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_path(name: str) -> Path | None:
    """Return the path of `resources/<name>`, or `None` if it is not shipped here."""
    candidates = []
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidates.append(Path(frozen_root) / "resources" / name)
    here = Path(__file__).resolve()
    candidates.append(here.parents[2] / "resources" / name)  # source tree / editable install
    candidates.append(here.parents[1] / "resources" / name)  # packaged inside velollm_desktop
    for path in candidates:
        if path.exists():
            return path
    return None
