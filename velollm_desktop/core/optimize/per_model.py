"""Per-model options reach Ollama: one derived model `<model>-velollm` per installed model.

`num_ctx`, `num_thread`, `num_gpu` and `num_batch` are load options Ollama reads only per model
(Modelfile `PARAMETER`, `api/types.go` `Runner`), never from the environment. Applying them
creates `<model>-velollm` (`/api/create` with `from` + `parameters`) next to the user's model,
which is never changed; a name that exists and that VeloLLM did not create is left alone.
Undo deletes what was created (core/ollama/derived.py keeps the journal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.ollama.derived import (
    DerivedJournal,
    create_derived,
    delete_derived,
    derived_name,
)
from velollm_desktop.core.optimize.catalogue import PER_MODEL_OPTIONS
from velollm_desktop.core.optimize.recommend import Recommendation

PER_MODEL_SUFFIX = "-velollm"


@dataclass(frozen=True)
class PerModelPlan:
    """One derived model to create, and why it has these options."""

    model: str
    name: str
    options: dict[str, int]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class PerModelApplied:
    """What happened to one plan: created, or the error (nothing made for it)."""

    plan: PerModelPlan
    created: bool
    error: str | None = None


def per_model_plans(rec: Recommendation) -> list[PerModelPlan]:
    """A plan per model that has per-model options, with the reasons that name them."""
    plans = []
    for model, options in sorted(rec.per_model.items()):
        if model.partition(":")[0].endswith(PER_MODEL_SUFFIX):
            continue  # one of ours: its base model gets the plan
        opts = {k: int(v) for k, v in options.items() if k in PER_MODEL_OPTIONS}
        if not opts:
            continue
        reasons = tuple(
            f"{r.value}: {r.why}"
            if r.setting.startswith(f"{model}:")
            else f"{r.setting} = {r.value}: {r.why}"
            for r in rec.reasons
            if r.setting.startswith(f"{model}:")
            or r.setting in ("num_thread (per model)", "per-model options")
        )
        plans.append(PerModelPlan(model, derived_name(model, PER_MODEL_SUFFIX), opts, reasons))
    return plans


def describe(plans: Sequence[PerModelPlan]) -> str:
    """What applying will create, one line per model."""
    if not plans:
        return "No per-model options are recommended: no model is created."
    lines = ["Create these Ollama models (your models are not changed; undo deletes them):"]
    for p in plans:
        opts = " ".join(f"{k}={v}" for k, v in sorted(p.options.items()))
        lines.append(f"- {p.name} from {p.model}: {opts}")
    return "\n".join(lines)


def apply_per_model(
    url: str, plans: Sequence[PerModelPlan], journal: DerivedJournal | None = None
) -> list[PerModelApplied]:
    """Create each derived model; one that cannot be made does not stop the others."""
    out = []
    for p in plans:
        try:
            create_derived(url, p.name, p.model, p.options, journal=journal)
        except ServerError as exc:
            out.append(PerModelApplied(p, False, str(exc)))
            continue
        out.append(PerModelApplied(p, True))
    return out


def undo_per_model(
    url: str, applied: Sequence[PerModelApplied], journal: DerivedJournal | None = None
) -> list[str]:
    """Delete the derived models that were created; returns their names."""
    gone = []
    for a in applied:
        if a.created:
            delete_derived(url, a.plan.name, journal)
            gone.append(a.plan.name)
    return gone


def undo_all_per_model(url: str, journal: DerivedJournal | None = None) -> list[str]:
    """Delete every `<model>-velollm` VeloLLM created (recorded in the journal)."""
    journal = journal or DerivedJournal()
    gone = []
    for name in sorted(journal.load()):
        if name.partition(":")[0].endswith(PER_MODEL_SUFFIX):
            delete_derived(url, name, journal)
            gone.append(name)
    return gone
