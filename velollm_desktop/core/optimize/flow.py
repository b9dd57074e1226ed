"""Apply and Undo of the optimizer's recommendation: the one flow the GUI and the CLI share.

The Optimize page (`ui/optimize_page.py`, in a light job) and `velollm optimize --apply/--undo`
(`commands/optimize.py`) only ask for consent and render what comes back:

    preview_or_reason(state, applier) -> Planned | str      what Apply would do, or why not
    apply_recommendation(applier, plan, wait_url=...) -> ApplyOutcome
    undo_consent(applier) -> str                            what Undo will do, in words
    undo(applier, force=..., wait_url=...) -> UndoOutcome

After a restart both wait (bounded, `RESTART_WAIT_S`) until Ollama answers again, so what is
read next (the page's new recommendation, `--verify`) is the restarted server, not a race with
it. Expected failures are the project's own (`ApplyError`) and the system's (`OSError`); any
other exception is a bug and reaches the caller (the job runner logs its traceback).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.optimize.apply import Applier, Plan, UserEdited
from velollm_desktop.core.optimize.journal import ApplyError
from velollm_desktop.core.optimize.preview import RESTART_CONSEQUENCE, ApplyPreview, build_preview
from velollm_desktop.core.optimize.service import RuntimeInfo
from velollm_desktop.core.optimize.session import OptimizeState

RESTART_WAIT_S = 30.0
"""Longest wait for Ollama to answer after `systemctl restart` (it answers in ~1 s)."""
POLL_S = 0.25


class ApplyKind(Enum):
    APPLIED = "applied"
    FAILED = "failed"


class UndoKind(Enum):
    UNDONE = "undone"
    EDITED = "edited"
    """The file changed since we wrote it: ask the user, then `undo(force=True)`."""
    FAILED = "failed"


@dataclass(frozen=True)
class Planned:
    plan: Plan
    preview: ApplyPreview


@dataclass(frozen=True)
class ApplyOutcome:
    kind: ApplyKind
    text: str
    """One sentence: what was done (or why not), as both front ends show it."""
    backup: Path | None = None
    answering: bool | None = None
    """After a restart: whether Ollama answered again within the wait (None: not waited)."""
    error: str = ""
    """FAILED: the failure's own sentence (the CLI prints it alone)."""
    late: str = ""
    """The sentence saying Ollama did not answer again in time ("" when it did or not waited)."""


@dataclass(frozen=True)
class UndoOutcome:
    kind: UndoKind
    text: str
    answering: bool | None = None
    error: str = ""


def preview_or_reason(state: OptimizeState, applier: Applier) -> Planned | str:
    """The plan Apply would carry out and its preview, or the sentence saying why nothing can
    be applied here (how Ollama runs, a missing pkexec/sudo, a value that cannot be written)."""
    runtime: RuntimeInfo | None = state.runtime
    if runtime is not None and not runtime.can_apply:
        return runtime.explanation
    env = state.recommendation.env
    try:
        plan = applier.plan(env)
    except (PermissionError, ValueError) as exc:  # no pkexec/sudo; writers.UnsafeValue
        return str(exc)
    return Planned(plan, build_preview(plan, env, state.current))


def wait_until_answers(
    url: str, deadline_s: float = RESTART_WAIT_S, *, answers: Callable[[str], bool] | None = None
) -> bool:
    """Poll Ollama's `/api/version` until it answers or `deadline_s` passed (monotonic)."""
    probe = answers or _answers
    end = time.monotonic() + deadline_s
    while True:
        if probe(url):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(min(POLL_S, max(0.0, end - time.monotonic())))


def _answers(url: str) -> bool:
    from velollm_desktop.core.ollama.client import OllamaClient  # noqa: PLC0415 - httpx-free, lazy

    try:
        OllamaClient(url, read_timeout_s=2.0).version()
    except ServerError:
        return False
    return True


def apply_recommendation(
    applier: Applier, plan: Plan, *, wait_url: str | None = None, wait_s: float = RESTART_WAIT_S
) -> ApplyOutcome:
    """Carry out exactly `plan` (shown to and accepted by the user); with `wait_url`, wait
    until Ollama answers again when the plan restarted it."""
    try:
        backup = applier.apply(plan)
    except (ApplyError, OSError) as exc:
        return ApplyOutcome(ApplyKind.FAILED, f"Not applied: {exc}", error=str(exc))
    text = f"Applied to {plan.target}" + (f" (backup {backup})" if backup else "")
    answering, late = _wait(wait_url if plan.restarts else None, wait_s)
    return ApplyOutcome(
        ApplyKind.APPLIED, text + (f"; {late}" if late else ""), backup, answering, late=late
    )


def _wait(url: str | None, wait_s: float) -> tuple[bool | None, str]:
    if not url:
        return None, ""
    if wait_until_answers(url, wait_s):
        return True, ""
    return False, f"Ollama did not answer at {url} within {wait_s:g} s of the restart"


def undo_consent(applier: Applier) -> str:
    """What Undo will do, as the confirmation says it: the file, the environment values that
    go back (applied → before) or, for an entry of an earlier version, what stays set."""
    restarts = applier.restarts_on_undo()
    parts = [
        "Undo restores Ollama's configuration file from before the last Apply"
        + (" and restarts Ollama." if restarts else ".")
    ]
    env = applier.env_on_undo()
    if env:
        parts.append(
            "It sets the environment back (now → after undo):\n"
            + "\n".join(f"  {v.shown()}" for v in env)
        )
    elif env is None and applier.target.unrecorded_env_note and applier.can_undo():
        note = applier.target.unrecorded_env_note
        parts.append(f"Note: {note[:1].upper()}{note[1:]}.")
    return "\n\n".join(parts + ([RESTART_CONSEQUENCE] if restarts else []))


def undo(
    applier: Applier,
    *,
    force: bool = False,
    wait_url: str | None = None,
    wait_s: float = RESTART_WAIT_S,
) -> UndoOutcome:
    """Restore the configuration from before the last apply (EDITED: ask, then `force`)."""
    restarts = applier.restarts_on_undo() and applier.can_undo()
    try:
        text = applier.undo(force=force)
    except UserEdited as exc:
        return UndoOutcome(UndoKind.EDITED, str(exc))
    except (ApplyError, OSError) as exc:
        return UndoOutcome(UndoKind.FAILED, f"Undo failed: {exc}", error=str(exc))
    answering, late = _wait(wait_url if restarts else None, wait_s)
    return UndoOutcome(UndoKind.UNDONE, text + (f"; {late}" if late else ""), answering)
