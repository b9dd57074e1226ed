"""The file primitives the applier writes the user's system with (no policy here).

Hashes, the symlink refusal, the administrator prefix, a backup copied whole or not at all under a name no other run
holds, giving a file back its owner, whether we may write a path, SIGTERM deferred while an
apply runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from velollm_desktop.core.optimize.journal import ApplyError


def sha256_file(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def refuse_symlinks(target: Path) -> None:
    """Never write through a symlinked file or a symlinked directory it sits in (`.d`)."""
    for p in (target, target.parent):
        if p.is_symlink():
            raise ApplyError(
                f"{p} is a symbolic link: refusing to write through it into another place; "
                "replace it with a real file or directory first"
            )


@contextlib.contextmanager
def sigterm_deferred() -> Iterator[None]:
    """SIGTERM during an apply is delivered once it finished (or rolled back): a service
    manager's stop never leaves a half-applied change. Main thread only (Python's rule);
    elsewhere an interrupted apply is repaired by the next undo."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if received:
            signal.raise_signal(signal.SIGTERM)


def exclusive_copy(source: Path, backup: Path) -> None:
    """Copy `source` to `backup` whole or not at all, never over an existing file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{backup.name}.", dir=backup.parent)
    os.close(fd)
    try:
        shutil.copy2(source, tmp)
        os.link(tmp, backup)  # fails when the name exists: two runs never share a backup
    except FileExistsError:
        raise ApplyError(f"the backup name {backup} is taken; nothing was changed") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def chown_back(path: Path, uid: int, gid: int) -> None:
    """Give `path` back its owner (only root can; others keep their own files anyway)."""
    with contextlib.suppress(PermissionError, AttributeError):
        os.chown(path, uid, gid)


def writable(path: Path) -> bool:
    d = path.parent
    while not d.exists() and d != d.parent:
        d = d.parent
    return os.access(d, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def elevate_prefix() -> list[str]:
    """`[]` as root, else `[pkexec]` or `[sudo]`; PermissionError (one sentence) without either."""
    if os.geteuid() == 0 if hasattr(os, "geteuid") else False:
        return []
    for tool in ("pkexec", "sudo"):
        if shutil.which(tool):
            return [tool]
    raise PermissionError(
        "writing the systemd drop-in needs administrator rights: install pkexec or sudo, "
        "or use `velollm optimize --format systemd` and apply it yourself"
    )
