"""Writing a target's file and putting the previous one back: the part every target shares.

A `WriteFile` step is written by us (the backup copied whole under a name no other run holds,
never through a symlink, atomically with `fsutil.atomic_write_text`, mode and owner kept) or,
when it carries an administrator prefix, by `cp -p` and `install` through pkexec/sudo from a
staged copy. Restoring is the same two ways: the backup byte for byte with its mode and owner,
or removing a file that did not exist before.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from velollm_desktop.core.fsutil import atomic_write_bytes, atomic_write_text
from velollm_desktop.core.optimize.journal import ApplyError, EnvValue, JournalEntry
from velollm_desktop.core.optimize.safe_files import (
    chown_back,
    elevate_prefix,
    exclusive_copy,
    refuse_symlinks,
    writable,
)
from velollm_desktop.core.optimize.targets_steps import Run, WriteFile

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


class FileTarget:
    """A target that is one file, written and restored (by us, or by the administrator's
    commands, which `runner` runs); each OS's target adds its plan and its restart.

    The environment it changes is its file's (systemd: the restart reads the restored file):
    nothing outside it to record or give back; launchd and Windows override the three below."""

    unrecorded_env_note = ""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def read_env(self, names: Sequence[str]) -> dict[str, str | None]:
        if names:
            raise ValueError(f"{type(self).__name__} sets no variable outside its file")
        return {}

    def give_back_env(self, values: tuple[EnvValue, ...]) -> tuple[Run, ...]:
        return ()

    def write(self, step: WriteFile, backup: Path | None, st: os.stat_result | None) -> None:
        """Carry out `step`; `backup` (None: the file is new) receives the previous file first."""
        if step.elevate is not None:
            self._write_elevated(step, backup)
            return
        if backup is not None:
            exclusive_copy(step.path, backup)
        if not step.path.parent.exists():
            step.path.parent.mkdir(parents=True)
            refuse_symlinks(step.path)
        atomic_write_text(step.path, step.content, mode=st.st_mode & 0o777 if st else step.mode)
        if st is not None:
            chown_back(step.path, st.st_uid, st.st_gid)

    def _write_elevated(self, step: WriteFile, backup: Path | None) -> None:
        elevate = step.elevate or ()
        if backup is not None:
            self._check([*elevate, "cp", "-p", str(step.path), str(backup)])
        with tempfile.NamedTemporaryFile("w", delete=False, suffix=".conf", encoding="utf-8") as fh:
            fh.write(step.content)
        try:
            self._check(replace(step, staged=Path(fh.name)).argv())
        finally:
            os.unlink(fh.name)

    def restore(self, entry: JournalEntry) -> str:
        """Put back what `entry` replaced (its backup, or no file); returns what was done."""
        target, backup = entry.target, entry.backup
        elevate = elevate_prefix() if not writable(target) else None
        if backup is not None:
            if elevate is not None:
                self._check([*elevate, "cp", "-p", str(backup), str(target)])
            else:
                mode = entry.mode if entry.mode is not None else 0o644
                atomic_write_bytes(target, backup.read_bytes(), mode=mode)
                if entry.uid is not None and entry.gid is not None:
                    chown_back(target, entry.uid, entry.gid)
            return f"restored {target} from {backup}"
        if elevate is not None:
            self._check([*elevate, "rm", "-f", str(target)])
        else:
            target.unlink(missing_ok=True)
        return f"removed {target} (it did not exist before)"

    def _check(self, argv: Sequence[str]) -> None:
        res = self.runner(argv)
        if res.returncode != 0:
            raise ApplyError(f"{' '.join(res.args)} failed: {(res.stderr or '').strip()[:300]}")
