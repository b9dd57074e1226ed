"""`velollm exporter --install-service` / `--remove-service`: a systemd **user** unit.

Installing writes one file, `~/.config/systemd/user/velollm-exporter.service` (XDG_CONFIG_HOME
honoured), then runs `systemctl --user daemon-reload` and `systemctl --user enable --now`.
The journal in the app's data dir records the file (and its hash) BEFORE it is written, so a
crash is still undoable; removal only ever deletes a unit the journal says we wrote and that
nobody edited since. A unit of that name that we did not write is never replaced; a symlink
is never written through. Commands run as argv lists (no shell); the caller shows `plan()`
and asks first.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from velollm_desktop.core.exporter.listen import parse_listen, read_auth_file
from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fsutil import atomic_write_text
from velollm_desktop.core.settings import data_dir

UNIT_NAME = "velollm-exporter.service"
COMMAND_TIMEOUT_S = 30.0
Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


class ServiceError(UserFacingError, RuntimeError):
    """Installing or removing failed; the message says what state things are in."""


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )


def unit_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "systemd" / "user" / UNIT_NAME


def journal_path() -> Path:
    return data_dir() / "exporter-service-journal.json"


def exporter_argv(args: Sequence[str]) -> list[str]:
    """argv that runs `velollm exporter ARGS` the way this copy runs (bundle or Python)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "exporter", *args]
    return [sys.executable, "-m", "velollm_desktop.cli", "exporter", *args]


def service_args(
    listen: str, ollama_url: str, *, allow_remote: bool = False, auth_file: str | None = None
) -> list[str]:
    """`velollm exporter` arguments for the unit, checked as the command checks them (a unit is
    never written that would not start): ListenError with the reason otherwise."""
    parse_listen(listen, allow_remote=allow_remote)
    out = ["--listen", listen.strip(), "--url", ollama_url.strip()]
    if allow_remote:
        out.append("--allow-remote")
    if auth_file:
        path = Path(auth_file).expanduser().resolve()
        read_auth_file(path)
        out += ["--auth-file", str(path)]
    return out


def _exec_quote(arg: str) -> str:
    """One ExecStart word (systemd.service "Command lines"): quoted, `\\ " % $` escaped."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def unit_text(argv: Sequence[str]) -> str:
    if any(c in a for a in argv for c in "\n\r\x00"):
        raise ServiceError("an argument of the service holds a line break: refusing")
    return (
        "[Unit]\n"
        "Description=VeloLLM Prometheus exporter (Ollama, GPU, benchmarks)\n"
        "After=network.target\n\n"
        "[Service]\n"
        f"ExecStart={' '.join(_exec_quote(a) for a in argv)}\n"
        "Restart=on-failure\nRestartSec=5\n"
        "NoNewPrivileges=yes\n\n"
        "[Install]\nWantedBy=default.target\n"
    )


@dataclass(frozen=True)
class ServicePlan:
    """What installing (or removing) will do, shown before anything changes."""

    path: Path
    content: str | None
    """The unit's text (None: removal)."""
    commands: tuple[tuple[str, ...], ...]

    def describe(self) -> str:
        head = f"write {self.path}:" if self.content is not None else f"remove {self.path}"
        lines = [head]
        if self.content is not None:
            lines += ["    " + ln for ln in self.content.splitlines()]
        lines += ["run: " + " ".join(cmd) for cmd in self.commands]
        return "\n".join(lines)


def install_plan(args: Sequence[str], path: Path | None = None) -> ServicePlan:
    return ServicePlan(
        path or unit_path(),
        unit_text(exporter_argv(args)),
        (
            ("systemctl", "--user", "daemon-reload"),
            ("systemctl", "--user", "enable", "--now", UNIT_NAME),
        ),
    )


def remove_plan(path: Path | None = None) -> ServicePlan:
    return ServicePlan(
        path or unit_path(),
        None,
        (
            ("systemctl", "--user", "disable", "--now", UNIT_NAME),
            ("systemctl", "--user", "daemon-reload"),
        ),
    )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ServiceInstaller:
    """Applies an install or removal plan; `runner` runs commands (injectable for tests)."""

    def __init__(self, *, runner: Runner | None = None, journal: Path | None = None) -> None:
        self.runner = runner or run_command
        self.journal = journal or journal_path()

    def _entry(self) -> dict | None:
        if not self.journal.exists():
            return None
        try:
            data = json.loads(self.journal.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ServiceError(
                f"the journal {self.journal} is unreadable ({exc}); nothing was changed"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("target"), str):
            raise ServiceError(f"the journal {self.journal} is not ours; nothing was changed")
        return data

    def _ours(self, path: Path) -> bool:
        entry = self._entry()
        return entry is not None and entry["target"] == str(path)

    def _run(self, cmd: Sequence[str]) -> str | None:
        try:
            res = self.runner(cmd)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` did not finish within {COMMAND_TIMEOUT_S:g} s"
        except OSError as exc:
            return f"`{' '.join(cmd)}` could not run ({exc.strerror or exc})"
        if res.returncode != 0:
            return f"`{' '.join(cmd)}` failed ({res.returncode}): {(res.stderr or res.stdout or '').strip()[:300]}"
        return None

    def install(self, plan: ServicePlan) -> None:
        """Journal, write, reload and start; ServiceError (file removed again) on failure."""
        path = plan.path
        if plan.content is None:
            raise ServiceError("not an install plan")
        for p in (path, path.parent):
            if p.is_symlink():
                raise ServiceError(f"{p} is a symbolic link: refusing to write through it")
        if path.exists() and not self._ours(path):
            raise ServiceError(
                f"{path} exists and VeloLLM did not write it: nothing was changed (remove it yourself first)"
            )
        atomic_write_text(
            self.journal, json.dumps({"target": str(path), "sha256": _sha(plan.content)})
        )
        atomic_write_text(path, plan.content, mode=0o644)
        for cmd in plan.commands:
            if failure := self._run(cmd):
                path.unlink(missing_ok=True)
                self._run(("systemctl", "--user", "daemon-reload"))
                self.journal.unlink(missing_ok=True)
                raise ServiceError(f"{failure} — the unit was removed again, nothing is installed")

    def remove(self, plan: ServicePlan, *, force: bool = False) -> None:
        """Stop, disable and delete the unit we wrote; ServiceError when it is not ours."""
        path = plan.path
        entry = self._entry()
        if entry is None or entry["target"] != str(path):
            raise ServiceError(f"VeloLLM has not installed {path}: nothing to remove")
        if path.is_symlink():
            raise ServiceError(f"{path} is a symbolic link now: refusing to remove it")
        if path.exists() and not force:
            if _sha(path.read_text(encoding="utf-8", errors="replace")) != entry.get("sha256"):
                raise ServiceError(f"{path} was edited since VeloLLM wrote it: nothing was changed")
        failure = self._run(plan.commands[0])
        path.unlink(missing_ok=True)
        self._run(plan.commands[1])
        self.journal.unlink(missing_ok=True)
        if failure:
            raise ServiceError(f"{failure}; the unit file was removed (it will not start again)")

    def installed(self, path: Path | None = None) -> bool:
        path = path or unit_path()
        try:
            return path.exists() and self._ours(path)
        except ServiceError:
            return False
