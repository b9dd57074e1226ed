"""What applying a recommendation will do, in words: the one text the GUI's confirmation
dialog and `velollm optimize --apply` both show before anything changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from velollm_desktop.core.optimize.catalogue import BY_NAME, VarType
from velollm_desktop.core.optimize.sources import CurrentConfig
from velollm_desktop.core.optimize.targets_steps import Plan

RESTART_CONSEQUENCE = (
    "Restarting Ollama unloads every loaded model and interrupts generations that are "
    "running; clients get errors until it is back (usually a few seconds), and the next "
    "request loads its model again."
)
REOPEN_CONSEQUENCE = (
    "Nothing restarts now. The values take effect when you quit and reopen Ollama, which "
    "unloads its loaded models and interrupts running generations."
)


def current_text(name: str, current: CurrentConfig) -> str:
    """The effective value of `name`, or Ollama's default named as such ("5m (default)")."""
    value = current.values.get(name)
    if value is not None:
        return value.parsed.raw
    var = BY_NAME.get(name)
    if var is not None and var.default:
        return f"{var.default} (default)"
    return (
        "auto (default)" if var is not None and var.type is VarType.TRISTATE else "unset (default)"
    )


def current_with_source(name: str, current: CurrentConfig) -> str:
    """`current_text` plus where it comes from, for the Current column of the table."""
    value = current.values.get(name)
    text = current_text(name, current)
    return f"{text} ({value.source})" if value is not None else text


@dataclass(frozen=True)
class Change:
    """One variable: what Ollama runs with now and what it will run with."""

    name: str
    current: str
    new: str


N_CPU_MOE_NOTE = (
    "Note: LLAMA_ARG_N_CPU_MOE applies to every mixture-of-experts model this Ollama loads "
    "(llama.cpp ignores it for dense models) and turns llama.cpp's own layer fitting off for "
    "them; it needs Ollama ≥ 0.30 (older versions ignore it)."
)


@dataclass(frozen=True)
class ApplyPreview:
    """Everything the user must see before saying yes."""

    changes: tuple[Change, ...]
    unchanged: tuple[str, ...]
    target: str
    commands: tuple[str, ...]
    consequence: str
    notes: tuple[str, ...]
    accept_label: str
    restarts: bool = False
    """Whether accepting restarts Ollama (the plan has a restart step)."""

    def text(self) -> str:
        """The whole preview as plain text (dialog body and CLI output)."""
        lines = ["Changes (current → new):"]
        lines += [f"  {c.name}: {c.current} → {c.new}" for c in self.changes] or ["  (none)"]
        if self.unchanged:
            lines.append("Already set: " + ", ".join(self.unchanged))
        lines += ["", f"File written: {self.target}", "Commands run:"]
        lines += [f"  {c}" for c in self.commands] or ["  (none)"]
        lines += ["", self.consequence, *self.notes]
        return "\n".join(lines)


def build_preview(plan: Plan, env: Mapping[str, str], current: CurrentConfig) -> ApplyPreview:
    """The preview of `plan` (made from `env`) against what Ollama runs with now."""
    changes, unchanged = [], []
    for name in sorted(env):
        now = current_text(name, current)
        if current.values.get(name) is not None and now == env[name]:
            unchanged.append(f"{name}={env[name]}")
        else:
            changes.append(Change(name, now, env[name]))
    commands = plan.command_lines()
    restarts = plan.restarts
    target = str(plan.target) + (" (as administrator)" if plan.privileged else "")
    return ApplyPreview(
        tuple(changes),
        tuple(unchanged),
        target,
        commands,
        RESTART_CONSEQUENCE if restarts else REOPEN_CONSEQUENCE,
        plan.notes + ((N_CPU_MOE_NOTE,) if "LLAMA_ARG_N_CPU_MOE" in env else ()),
        "Apply and restart Ollama" if restarts else "Apply",
        restarts,
    )
