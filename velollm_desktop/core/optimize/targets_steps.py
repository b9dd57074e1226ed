"""What an apply will do, as data: a plan is a tuple of typed steps, shown to the user before
anything changes and carried out in order by the `Applier`.

- `WriteFile`: the one file of the target (first in every plan); with `elevate` it is written by
  `install(1)` through pkexec/sudo from a staged copy whose path is filled in when it runs;
- `Run`: a command (`launchctl setenv`, the PowerShell script, `systemctl daemon-reload`);
- `Restart`: the command that restarts Ollama (`systemctl restart ollama`) — the preview's
  "restarts" and the flow's wait for the server come from its presence, not from its words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from velollm_desktop.core.optimize.writers import display_quote

STAGED_SHOWN = "<staged file>"
"""How the preview names the temp copy an elevated write installs (never part of an argv)."""


@dataclass(frozen=True)
class WriteFile:
    path: Path
    content: str
    mode: int = 0o644
    """The new file's mode; a file that exists keeps its own."""
    elevate: tuple[str, ...] | None = None
    """None: written by us; else the administrator prefix (`("pkexec",)`) `install` runs under."""
    staged: Path | None = None
    """The temp copy `install` reads; set by the writer when the step runs."""

    @property
    def privileged(self) -> bool:
        return self.elevate is not None

    def argv(self) -> tuple[str, ...]:
        """The administrator's command (install writes a temp file beside the target and renames
        it: atomic); only for an elevated step whose staged copy exists."""
        if self.elevate is None or self.staged is None:
            raise ValueError(f"writing {self.path} is not an elevated step with a staged copy")
        return self._install(str(self.staged))

    def shown(self) -> str | None:
        """The command line the user reads (None: we write the file ourselves, no command)."""
        if self.elevate is None:
            return None
        return _line(self._install(str(self.staged) if self.staged else STAGED_SHOWN))

    def _install(self, source: str) -> tuple[str, ...]:
        prefix = self.elevate or ()
        return (*prefix, "install", "-D", "-m", f"{self.mode:04o}", source, str(self.path))


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    what: str = ""
    """What it does, in words (for a reader of the plan; the preview shows the command)."""

    def shown(self) -> str:
        return _line(self.argv)


@dataclass(frozen=True)
class Restart(Run):
    """The command that restarts Ollama (a plan that has one unloads every model)."""

    what: str = "restarts Ollama"


Step = WriteFile | Run


def _line(argv: tuple[str, ...]) -> str:
    return " ".join(display_quote(a) for a in argv)


@dataclass(frozen=True)
class Plan:
    """What applying will do, shown to the user before anything changes."""

    steps: tuple[Step, ...]
    """The target's `WriteFile` first, then the commands in the order they run."""
    notes: tuple[str, ...] = field(default=())
    base_sha256: str | None = ""
    """The target's hash when the plan was made (None: it did not exist; "": not recorded):
    apply refuses when the file changed since (another apply ran in between)."""
    env: tuple[tuple[str, str], ...] | None = None
    """(name, value) the commands set outside the file (`launchctl setenv`, the Windows user
    environment): apply records each one's value before, undo sets it back. None for a
    target whose variables are in its file (systemd: the restart reads the restored file)."""

    def __post_init__(self) -> None:
        writes = [s for s in self.steps if isinstance(s, WriteFile)]
        if len(writes) != 1 or self.steps[0] is not writes[0]:
            raise ValueError("a plan writes exactly one file, as its first step")

    @property
    def write(self) -> WriteFile:
        step = self.steps[0]
        assert isinstance(step, WriteFile)  # __post_init__
        return step

    @property
    def target(self) -> Path:
        return self.write.path

    @property
    def content(self) -> str:
        return self.write.content

    @property
    def privileged(self) -> bool:
        return self.write.privileged

    @property
    def restarts(self) -> bool:
        """Whether the plan restarts Ollama (it has a `Restart` step)."""
        return any(isinstance(s, Restart) for s in self.steps)

    def command_lines(self) -> tuple[str, ...]:
        """Each command as the user reads it (the preview and `describe`)."""
        return tuple(line for s in self.steps if (line := s.shown()) is not None)

    def describe(self) -> str:
        """Human-readable: the file and the exact commands."""
        lines = [f"write {self.target}" + (" (as administrator)" if self.privileged else "")]
        lines += ["run: " + c for c in self.command_lines()]
        return "\n".join(lines + list(self.notes))
