"""Atomic writes with backups: nothing we write is ever left half-written.

`atomic_write_bytes` (and `atomic_write_text`, its UTF-8 form) writes a temp file in the
target's directory, fsyncs it, then renames it over the target (atomic on POSIX and on
Windows with `os.replace`). A crash at any point leaves either the old file or the new one,
never a mix.

`read_own_json` is the one reader of the app's own JSON files (settings, the undo journal,
the derived-model record, caches): bounded in size and depth, regular files only.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from velollm_desktop.core.failure import UserFacingError


def atomic_write_text(
    path: Path, text: str, *, backup: bool = False, mode: int | None = None
) -> Path | None:
    """`atomic_write_bytes` of `text` in UTF-8 (newlines as given)."""
    return atomic_write_bytes(path, text.encode("utf-8"), backup=backup, mode=mode)


def atomic_write_bytes(
    path: Path, data: bytes, *, backup: bool = False, mode: int | None = None
) -> Path | None:
    """Replace `path` with `data` atomically; return the backup's path if one was made — the
    one atomic writer (settings, caches, the undo journal, the optimizer's targets and undo).

    A temp file in the same folder gets the bytes, an fsync and its mode, then is renamed over
    `path` (a symlink at `path` is replaced, never written through), and the folder is
    fsynced. With `backup=True` and an existing file, a copy `NAME.bak-<timestamp>…` is kept
    next to it first. `mode` sets the new file's permission bits (else the old file's, else
    0o644). On any failure the temp file is removed and `path` is left as it was.
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
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return backup_path


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
    if not path.exists() and not path.is_symlink():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{reason}-{stamp}")
    n = 1
    while target.exists() or target.is_symlink():  # never over an earlier one kept aside
        target = path.with_name(f"{path.name}.{reason}-{stamp}-{n}")
        n += 1
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


class UnreadableFile(UserFacingError, ValueError):
    """One of the app's own files cannot be used; the message is one sentence saying why."""


OWN_FILE_MAX_BYTES = 4 * 1024 * 1024
"""Default size cap of the app's own JSON files (settings are < 1 KB, a journal a few KB)."""
OWN_FILE_MAX_DEPTH = 32
"""Default nesting cap (settings nest 1 level, a journal 3)."""
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth(raw: bytes, stop_above: int | None = None) -> int:
    """The deepest `[`/`{` nesting of JSON text, strings skipped (linear, no recursion);
    the scan stops as soon as the depth passes `stop_above`."""
    depth = deepest = 0
    for m in _JSON_TOKENS.finditer(raw):
        c = m.group()[:1]
        if c in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                break
        elif c in (b"]", b"}"):
            depth -= 1
    return deepest


def read_own_json(
    path: Path, *, max_bytes: int = OWN_FILE_MAX_BYTES, max_depth: int = OWN_FILE_MAX_DEPTH
) -> Any:
    """The JSON value in one of the app's own files, bounded in every way a hand-edited or
    hostile file can hurt: regular files only (a FIFO, /dev/zero or a directory is refused
    without reading: the open never blocks), at most `max_bytes` read, nesting at most
    `max_depth` (checked before parsing: no RecursionError), NaN/Infinity refused.

    Raises FileNotFoundError when there is no file, UnreadableFile (a sentence) otherwise."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(f"{path} cannot be read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile(f"{path} is not a regular file (a device, FIFO or directory)")
        if st.st_size > max_bytes:
            raise UnreadableFile(
                f"{path} is {st.st_size} bytes, larger than the {max_bytes} bytes it may have"
            )
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UnreadableFile(f"{path} cannot be read ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > max_bytes:
        raise UnreadableFile(f"{path} grew past {max_bytes} bytes while it was read")
    if json_depth(raw, max_depth) > max_depth:
        raise UnreadableFile(f"{path} nests deeper than {max_depth} levels: not ours")
    return _loads_finite(raw, path)


def _loads_finite(raw: bytes, path: Path) -> Any:
    def refuse(text: str) -> Any:
        raise ValueError(f"{text[:20]} is not a finite number")

    def finite(text: str) -> float:
        value = float(text)
        return value if math.isfinite(value) else refuse(text)

    try:
        return json.loads(raw, parse_constant=refuse, parse_float=finite)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise UnreadableFile(f"{path} is not valid JSON ({str(exc)[:120]})") from None
