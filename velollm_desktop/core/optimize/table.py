"""The rows of "current vs recommended": the same for the Optimize page and `velollm optimize`.

Only the variables that matter get a row: those the recommendation sets, and the user's own
`OLLAMA_*` / `LLAMA_ARG_*` (shown as kept). Everything else in a unit file (`PATH`, `HOME`,
`CUDA_VISIBLE_DEVICES` …) is no business of this table (`sources.read_current` never reads it).
The source is a short name ("override.conf"), with the full origin for a tooltip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from velollm_desktop.core.failure import Fix, note_fix
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.optimize.effective import effective_default
from velollm_desktop.core.optimize.parse import exposure_warnings
from velollm_desktop.core.optimize.preview import current_text
from velollm_desktop.core.optimize.recommendation import Recommendation
from velollm_desktop.core.optimize.sources import CurrentConfig, short_source
from velollm_desktop.core.wording import sentence, sentences

if TYPE_CHECKING:
    from velollm_desktop.core.optimize.session import OptimizeState

KEPT = "kept"


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    name: str
    current: str
    """The value and its short source: "4096 (override.conf)", "0 → 4096 tokens on this GPU"."""
    source: str
    """Where the value comes from, in full (a file path, "the running server (pid 12)")."""
    recommended: str
    """The recommended value, or "kept" for the user's own variable we do not set."""
    why: str
    """The reason, a sentence (never empty)."""


def reasons_by_setting(rec: Recommendation) -> dict[str, str]:
    """Reason per variable name ("A / B" reasons apply to both)."""
    out: dict[str, str] = {}
    for r in rec.reasons:
        for name in (n.strip() for n in r.setting.split("/")):
            if name:
                out.setdefault(name, r.why)
    return out


def current_cell(name: str, current: CurrentConfig, hardware: HardwareSpec | None) -> str:
    """The Current column: value (short source), or the default and what it means here."""
    value = current.values.get(name)
    if value is not None:
        return f"{value.parsed.raw} ({short_source(value.source)})"
    text = current_text(name, current)
    effective = effective_default(name, hardware)
    if effective is None:
        return text
    bare = text.removesuffix(" (default)")
    return f"{bare} → {effective} (default)"


def rows(
    current: CurrentConfig, rec: Recommendation, hardware: HardwareSpec | None = None
) -> tuple[Row, ...]:
    """The table: recommended variables first (in the recommendation's order), then the
    user's own that we keep."""
    why = reasons_by_setting(rec)
    names = list(rec.env) + sorted(n for n in current.values if n not in rec.env)
    out = []
    for name in names:
        value = current.values.get(name)
        source = value.source if value is not None else "not set: Ollama's default"
        warning = value.parsed.warning if value is not None else None
        if name in rec.env:
            recommended = rec.env[name]
            reason = why.get(name) or warning or "part of this recommendation"
        else:
            recommended = KEPT
            reason = warning or "Set by you; VeloLLM leaves it as it is"
        out.append(
            Row(name, current_cell(name, current, hardware), source, recommended, sentence(reason))
        )
    return tuple(out)


def changes(current: CurrentConfig, rec: Recommendation) -> dict[str, str]:
    """The recommended variables whose value differs from what Ollama runs with."""
    return {
        k: v
        for k, v in rec.env.items()
        if not current.values.get(k) or current.values[k].parsed.raw != v
    }


def status_text(
    state: OptimizeState, after: str = "", fix_words: Callable[[Fix], str] = lambda _fix: ""
) -> str:
    """The Optimize page's status (and the CLI's notes): whole sentences, none twice, the
    exposure warnings first; a note that names a fix gets the face's `fix_words` for it."""
    rec, cur, runtime = state.recommendation, state.current, state.runtime
    raw = {k: v.parsed.raw for k, v in cur.values.items()}
    parts = [f"WARNING: {w}" for w in exposure_warnings(raw)]
    parts += [
        after,
        f"Budget: {rec.budget}",
        *rec.warnings,
        *worded(state.notes, fix_words),
        *cur.notes,
    ]
    parts.append(runtime.explanation if runtime else "")
    if rec.env and not changes(cur, rec):
        parts.append("Ollama already runs with the recommended settings: nothing to apply")
    return sentences(parts)


def worded(notes: Sequence[str], fix_words: Callable[[Fix], str]) -> list[str]:
    """Each note, with the face's words for the fix it names (none for plain text)."""
    return [n + fix_words(note_fix(n)) for n in notes]
