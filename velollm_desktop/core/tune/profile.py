"""The tuned llama-server profile: where it lives and how the winner is saved."""

from __future__ import annotations

import json
from pathlib import Path

from velollm_desktop.core.fsutil import atomic_write_text
from velollm_desktop.core.settings import config_dir
from velollm_desktop.core.tune.common import TuneResult


def profile_path() -> Path:
    """Where the applied llama-server profile is saved."""
    return config_dir() / "llama-server-profile.json"


def apply_winner(result: TuneResult, model: Path, path: Path | None = None) -> Path:
    """Save the winner as the llama-server profile (atomic, with a backup of the previous one)."""
    path = path or profile_path()
    c = result.winner.candidate
    data = {
        "model": str(model),
        "threads": c.threads,
        "ctx_size": c.ctx_per_slot * c.parallel,
        "args": c.args(),
        "objective": result.objective,
        "measured_tokens_per_s": result.winner.score.mean if result.winner.score else None,
    }
    atomic_write_text(path, json.dumps(data, indent=2) + "\n", backup=path.exists())
    return path
