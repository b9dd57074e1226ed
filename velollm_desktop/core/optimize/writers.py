"""Render a recommendation for each place Ollama's configuration lives.

Every value is validated, then quoted for its target format, so a value holding quotes,
`$()`, backticks or a newline can neither execute nor break the file:
- shell: single quotes (a `'` inside becomes `'\\''`); names must be [A-Z_][A-Z0-9_]*;
- systemd: `Environment="NAME=value"` with `\\`, `"` escaped and `%` doubled; newlines rejected;
- launchd: a plist (XML-escaped by plistlib) whose program is launchctl itself: no shell;
- Windows: PowerShell single-quoted strings (`'` doubled);
- Modelfile: numbers only.
"""

from __future__ import annotations

import plistlib
import re
from collections.abc import Mapping

from velollm_desktop.core.optimize.catalogue import NEVER_EXISTED

NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
LAUNCH_AGENT_LABEL = "io.velollm.ollama-env"
MANAGED_MARK = "# Managed by VeloLLM Desktop"


class UnsafeValue(ValueError):
    """A name or value that cannot be written safely (the message says which and why)."""


def validate(env: Mapping[str, str]) -> dict[str, str]:
    """Check names and values; refuse variables Ollama does not read and control characters."""
    out = {}
    for name, value in env.items():
        if not NAME_RE.match(name):
            raise UnsafeValue(f"{name!r} is not a valid environment variable name")
        if name in NEVER_EXISTED:
            raise UnsafeValue(
                f"{name} is not read by Ollama; use the per-model option {NEVER_EXISTED[name]}"
            )
        value = str(value)
        if any(ch in value for ch in "\n\r\0"):
            raise UnsafeValue(
                f"the value of {name} contains a line break or NUL, which no target format can hold"
            )
        if len(value) > 4096:
            raise UnsafeValue(f"the value of {name} is {len(value)} characters long (limit 4096)")
        out[name] = value
    return out


def shell_quote(value: str) -> str:
    """POSIX single-quoting: nothing inside is expanded."""
    return "'" + value.replace("'", "'\\''") + "'"


def render_shell(env: Mapping[str, str]) -> str:
    """`export NAME='value'` lines (`velollm optimize -o config.sh`): for a manual `ollama serve`."""
    env = validate(env)
    lines = [
        "#!/bin/sh",
        "# shellcheck disable=SC2016  # values are single-quoted on purpose: nothing in them expands",
        f"{MANAGED_MARK}: source this before a manual `ollama serve`.",
        "# A systemd service or the desktop app does not read it (see docs/guides/CONFIG_GUIDE.md).",
    ]
    lines += [f"export {k}={shell_quote(v)}" for k, v in sorted(env.items())]
    return "\n".join(lines) + "\n"


def systemd_quote(name: str, value: str) -> str:
    """One `Environment=` assignment, quoted per systemd.syntax(7)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'Environment="{name}={escaped}"'


def render_systemd(env: Mapping[str, str], existing: str = "") -> str:
    """A drop-in for ollama.service, merged with an existing one.

    Lines of `existing` that are not ours are kept, except `Environment=` assignments of the
    variables we set (which ours replace).
    """
    env = validate(env)
    kept: list[str] = []
    section = None
    for line in existing.splitlines():
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            section = s
        if s == MANAGED_MARK:
            continue
        if section == "[Service]" and s.startswith("Environment="):
            body = s[len("Environment=") :].strip().strip('"')
            if body.split("=", 1)[0] in env:
                continue
        kept.append(line)
    if not any(line.strip() == "[Service]" for line in kept):
        kept += ([""] if kept else []) + ["[Service]"]
    idx = max(i for i, line in enumerate(kept) if line.strip() == "[Service]")
    ours = [MANAGED_MARK] + [systemd_quote(k, v) for k, v in sorted(env.items())]
    merged = kept[: idx + 1] + ours + kept[idx + 1 :]
    return "\n".join(merged).rstrip("\n") + "\n"


def render_launchd(env: Mapping[str, str]) -> str:
    """A LaunchAgent that runs `launchctl setenv` at every login (plain setenv is lost on reboot)."""
    env = validate(env)
    args = ["/bin/launchctl", "setenv"]
    for k, v in sorted(env.items()):
        args += [k, v]
    plist = {"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": args, "RunAtLoad": True}
    return plistlib.dumps(plist).decode()


def powershell_quote(value: str) -> str:
    """PowerShell single-quoted string: nothing inside is expanded."""
    return "'" + value.replace("'", "''") + "'"


def render_windows(env: Mapping[str, str]) -> str:
    """PowerShell that sets the user environment variables (what the Ollama tray app reads)."""
    env = validate(env)
    lines = [f"{MANAGED_MARK}. Quit Ollama from the taskbar first; start it again afterwards."]
    lines += [
        f"[Environment]::SetEnvironmentVariable({powershell_quote(k)}, {powershell_quote(v)}, 'User')"
        for k, v in sorted(env.items())
    ]
    return "\n".join(lines) + "\n"


def render_modelfile(model: str, options: Mapping[str, int]) -> str:
    """A Modelfile deriving from `model` with per-model PARAMETERs (create with `ollama create`)."""
    if not re.fullmatch(r"[A-Za-z0-9._:/-]+", model):
        raise UnsafeValue(f"{model!r} is not a valid Ollama model name")
    lines = [f"FROM {model}"]
    for k, v in sorted(options.items()):
        if k not in ("num_ctx", "num_batch", "num_gpu", "num_thread"):
            raise UnsafeValue(f"{k} is not a per-model load option")
        lines.append(f"PARAMETER {k} {int(v)}")
    return "\n".join(lines) + "\n"
