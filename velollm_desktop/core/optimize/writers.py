"""Render a recommendation for each place Ollama's configuration lives.

Every value is validated, then quoted for its target format, so a value holding quotes,
`$()`, backticks or a newline can neither execute nor break the file:
- shell: single quotes (a `'` inside becomes `'\\''`); names must be [A-Z_][A-Z0-9_]*;
- systemd: `Environment="NAME=value"` with `\\`, `"` escaped and `%` doubled; newlines rejected;
- launchd: a plist (XML-escaped by plistlib) whose program is launchctl itself: no shell;
- Windows: PowerShell single-quoted strings (`'` and the ‘ ’ ‚ ‛ PowerShell also reads as one doubled);
- Modelfile: numbers only.
"""

from __future__ import annotations

import plistlib
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.optimize.catalogue import NEVER_EXISTED
from velollm_desktop.core.optimize.parse import environment_assignments, unit_lines

NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
LAUNCH_AGENT_LABEL = "io.velollm.ollama-env"
MANAGED_MARK = "# Managed by VeloLLM Desktop"


class UnsafeValue(UserFacingError, ValueError):
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


def check_output_path(path: Path) -> None:
    """`-o FILE` must be a regular file or a new one in an existing directory.

    Refused with UnsafeValue: devices (/dev/null, /dev/full), directories, FIFOs, sockets,
    symbolic links (we never write through one) and a missing parent directory (we do not
    create directories the user did not ask for).
    """
    path = Path(path)
    if path.is_symlink():
        raise UnsafeValue(f"{path} is a symbolic link: write to the real file instead")
    if path.exists():
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise UnsafeValue(f"{path} is {kind}: -o needs a regular file (or a new one)")
    elif not path.parent.is_dir():
        raise UnsafeValue(f"the directory {path.parent} does not exist: create it first")


def shell_quote(value: str) -> str:
    """POSIX single-quoting: nothing inside is expanded."""
    return "'" + value.replace("'", "'\\''") + "'"


def display_quote(arg: str) -> str:
    """An argument as shown to the user: quoted only where a shell would split or expand it."""
    return shell_quote(arg) if any(c in arg for c in " '\"$`\\;&|<>*?") else arg


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
    """A drop-in for ollama.service: `existing` merged losslessly with `env`, ours winning.

    Parsed with systemd's rules (`parse.unit_lines`): every line of `existing` is kept byte
    for byte, except our previous block (the managed mark and the lines after it that each
    assign only one of our variables) and lines whose every assignment is one of ours.
    Lines assigning our variables next to other ones stay (the user's other variables are
    never lost); ours come after every other line, in the last `[Service]` section, so they
    win (later wins) and no `Environment=` reset follows them.
    """
    env = validate(env)
    lines = existing.split("\n")
    drop: set[int] = set()
    for ul in unit_lines(existing):
        if ul.section == "Service" and ul.key == "Environment" and ul.value:
            names = [n for n, _ in environment_assignments(ul.value)]
            if names and all(n in env for n in names):
                drop.update(range(ul.first, ul.last + 1))
    drop.update(i for i, line in enumerate(lines) if line.strip() == MANAGED_MARK)
    kept = [line for i, line in enumerate(lines) if i not in drop]
    while kept and not kept[-1].strip():
        kept.pop()
    logical = unit_lines("\n".join(kept))
    headers = [ul for ul in logical if ul.key is None]
    ours = [MANAGED_MARK] + [systemd_quote(k, v) for k, v in sorted(env.items())]
    if kept and kept[-1].rstrip().endswith("\\"):
        kept.append("")  # ends a dangling continuation before ours
    if not headers or headers[-1].section != "Service":
        ours = ([""] if kept else []) + ["[Service]"] + ours
    return "\n".join(kept + ours) + "\n"


def render_launchd(env: Mapping[str, str]) -> str:
    """A LaunchAgent that runs `launchctl setenv` at every login (plain setenv is lost on reboot)."""
    env = validate(env)
    args = ["/bin/launchctl", "setenv"]
    for k, v in sorted(env.items()):
        args += [k, v]
    plist = {"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": args, "RunAtLoad": True}
    return plistlib.dumps(plist).decode()


POWERSHELL_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
"""What PowerShell's tokenizer takes for a single quote: ASCII ' and the typographic ‘ ’ ‚ ‛."""


def powershell_quote(value: str) -> str:
    """PowerShell single-quoted string: nothing inside is expanded. Every character PowerShell
    reads as a single quote (also ‘ ’ ‚ ‛, which would otherwise end the string) is doubled."""
    return "'" + re.sub(f"[{POWERSHELL_SINGLE_QUOTES}]", lambda m: m.group() * 2, value) + "'"


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


def shell_with_permanent(env: Mapping[str, str], preview_text: str | None) -> str:
    """The exports, then (when Apply is possible here) what Apply would do, as comments: the
    text "Copy commands" puts on the clipboard."""
    text = render_shell(env)
    if preview_text is not None:
        text += "\n# To make it permanent (what Apply does):\n" + "\n".join(
            f"# {line}" for line in preview_text.splitlines()
        )
    return text
