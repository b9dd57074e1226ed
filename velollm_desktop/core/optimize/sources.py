"""Read Ollama's configuration from where it really lives, and say where each value came from.

Sources, lowest to highest precedence:
1. this process's environment — only a manual `ollama serve` from this shell sees it;
2. the service manager: systemd `ollama.service` + drop-ins (Linux), `launchctl getenv`
   (macOS), the user environment in the registry (Windows);
3. the running server's own environment (`/proc/<pid>/environ`), when readable — the truth.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from velollm_desktop.core.optimize.catalogue import BY_NAME, NEVER_EXISTED
from velollm_desktop.core.optimize.parse import Parsed, parse_value, unit_environment
from velollm_desktop.core.probe import run_tool

SYSTEMD_DIRS = (
    Path("/etc/systemd/system"),
    Path("/usr/lib/systemd/system"),
    Path("/lib/systemd/system"),
)
UNIT = "ollama.service"
INTERESTING_PREFIXES = ("OLLAMA_", "LLAMA_ARG_")


@dataclass(frozen=True)
class ConfigValue:
    """One variable's effective value and its origin."""

    name: str
    parsed: Parsed
    source: str
    """e.g. "systemd drop-in /etc/systemd/system/ollama.service.d/override.conf"."""


@dataclass(frozen=True)
class CurrentConfig:
    """What Ollama runs with (as far as can be read here)."""

    values: dict[str, ConfigValue]
    sources_read: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    server_pid: int | None = None
    notes: tuple[str, ...] = field(default=())

    def get(self, name: str) -> object:
        """The parsed value, or `None` when unset."""
        v = self.values.get(name)
        return v.parsed.value if v else None


def _interesting(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(INTERESTING_PREFIXES)}


def parse_environment_lines(text: str) -> dict[str, str]:
    """`Environment=` of one unit file with systemd's rules (see `parse.unit_environment`)."""
    return unit_environment(text)


def systemd_files(unit: str = UNIT, dirs: tuple[Path, ...] = SYSTEMD_DIRS) -> list[Path]:
    """The unit file and its drop-ins, in the order systemd applies them."""
    files: list[Path] = []
    for d in dirs:
        if (d / unit).exists():
            files.append(d / unit)
            break
    dropins: dict[str, Path] = {}
    for d in reversed(dirs):  # /etc overrides /usr/lib for a drop-in of the same name
        ddir = d / f"{unit}.d"
        if ddir.is_dir():
            for f in ddir.glob("*.conf"):
                dropins[f.name] = f
    files += [dropins[name] for name in sorted(dropins)]
    return files


def read_systemd(dirs: tuple[Path, ...] = SYSTEMD_DIRS) -> dict[str, tuple[str, str]]:
    """{var: (raw, source file)} from ollama.service and its drop-ins: only Ollama's and
    llama.cpp's variables (the installer's `Environment="PATH=…"` is not Ollama's setting)."""
    out: dict[str, tuple[str, str]] = {}
    for f in systemd_files(dirs=dirs):
        try:
            env = parse_environment_lines(f.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        for k, v in _interesting(env).items():
            out[k] = (v, f"systemd {f}")
    return out


def short_source(source: str) -> str:
    """A `ConfigValue.source` as a short name for a table cell ("override.conf", "this shell",
    "running server"); the full text belongs in a tooltip."""
    if source.startswith("systemd "):
        return Path(source.removeprefix("systemd ")).name
    for start, short in (
        ("this shell", "this shell"),
        ("the running server", "running server"),
        ("launchctl", "launchctl"),
        ("Windows user environment", "user environment"),
    ):
        if source.startswith(start):
            return short
    return source[:24]


def read_launchctl(names: list[str]) -> dict[str, tuple[str, str]]:
    """{var: (raw, "launchctl")} for the names launchd has a value for (macOS)."""
    out = {}
    for name in names:
        value = run_tool(["launchctl", "getenv", name])
        if value and value.strip():
            out[name] = (value.strip(), "launchctl setenv (lost at reboot unless re-applied)")
    return out


def read_windows_user_env() -> dict[str, tuple[str, str]]:  # pragma: no cover - Windows only
    """{var: (raw, "HKCU\\Environment")}."""
    import winreg  # noqa: PLC0415 - called from the GUI thread or the CLI

    out = {}
    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, "Environment") as key:
        i = 0
        while True:
            try:
                name, value, _ = winreg.EnumValue(key, i)
            except OSError:
                break
            if name.upper().startswith(INTERESTING_PREFIXES):
                out[name.upper()] = (str(value), "Windows user environment (HKCU\\Environment)")
            i += 1
    return out


def find_server_process() -> psutil.Process | None:
    """The running `ollama serve` (or `ollama runner`'s parent), if any."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = proc.info["cmdline"] or []
            if proc.info["name"] in ("ollama", "ollama.exe") and "serve" in cmd:
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def read_current(
    *,
    environ: Mapping[str, str] | None = None,
    systemd_dirs: tuple[Path, ...] = SYSTEMD_DIRS,
    server_environ: Mapping[str, str] | None = None,
    platform: str | None = None,
) -> CurrentConfig:
    """Merge every source (see module doc). Arguments are injectable for tests."""
    platform = platform or sys.platform
    layers: list[tuple[str, dict[str, tuple[str, str]]]] = []
    env = _interesting(environ if environ is not None else os.environ)
    layers.append(
        (
            "environment of this shell",
            {
                k: (v, "this shell's environment (manual `ollama serve` only)")
                for k, v in env.items()
            },
        )
    )
    notes: list[str] = []
    if platform.startswith("linux"):
        layers.append(("systemd", read_systemd(systemd_dirs)))
    elif platform == "darwin":
        layers.append(("launchctl", read_launchctl(list(BY_NAME) + list(NEVER_EXISTED))))
    elif platform == "win32":  # pragma: no cover
        layers.append(("registry", read_windows_user_env()))
    pid = None
    if server_environ is None:
        proc = find_server_process()
        if proc is not None:
            pid = proc.pid
            try:
                server_environ = proc.environ()
            except (psutil.AccessDenied, psutil.NoSuchProcess):
                notes.append(
                    f"the running Ollama server (pid {proc.pid}) belongs to another user: its environment "
                    "is not readable here, so the service configuration is shown instead"
                )
    if server_environ is not None:
        layers.append(
            (
                "running server",
                {
                    k: (v, f"the running server's environment{f' (pid {pid})' if pid else ''}")
                    for k, v in _interesting(server_environ).items()
                },
            )
        )
    merged: dict[str, ConfigValue] = {}
    for _label, layer in layers:
        for name, (raw, source) in layer.items():
            merged[name] = ConfigValue(name, parse_value(name, raw), source)
    warnings = tuple(v.parsed.warning for v in merged.values() if v.parsed.warning)
    return CurrentConfig(merged, tuple(label for label, _ in layers), warnings, pid, tuple(notes))
