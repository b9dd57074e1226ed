"""Atomic writes with backups: nothing we write is ever left half-written.

`atomic_write_text` writes a temp file in the target's directory, fsyncs it, then renames
it over the target (atomic on POSIX and on Windows with `os.replace`). A crash at any point
leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path


def atomic_write_text(
    path: Path, text: str, *, backup: bool = False, mode: int | None = None
) -> Path | None:
    """Replace `path` with `text` atomically; return the backup's path if one was made.

    With `backup=True` and an existing file, a timestamped copy `NAME.bak-YYYYmmdd-HHMMSS`
    is kept next to it first. `mode` sets the new file's permission bits (else the old
    file's, else 0o644).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    backup_path = None
    if backup and path.exists():
        backup_path = unique_backup_path(path)
        shutil.copy2(path, backup_path)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)
    return backup_path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Byte-exact atomic replace (temp file in the same folder, fsync, rename) — undo's restore."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unique_backup_path(path: Path) -> Path:
    """A not-yet-existing `NAME.bak-<timestamp>-<pid>-<µs>[-n]` path next to `path`.

    The process id and the microseconds keep two processes backing up the same file in the
    same second apart (`velollm optimize --apply` twice at once once picked one name).
    """
    now = time.time()
    stamp = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{os.getpid()}-{int(now * 1e6) % 1_000_000:06d}"
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{n}")
        n += 1
    return candidate


def move_aside(path: Path, reason: str = "corrupt") -> Path | None:
    """Rename a damaged file to `NAME.<reason>-<timestamp>` so a fresh one can be made."""
    if not path.exists():
        return None
    target = path.with_name(f"{path.name}.{reason}-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, target)
    return target


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
