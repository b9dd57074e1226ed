""" "Use in Ollama": a measured speculative gain saved as `<model>-spec`, measured again there.

The derived model carries `draft_num_predict` (and, for a separate-draft pair, the draft as
Modelfile `DRAFT`, sent as `draft_files`); the user's model is never changed. The version gate
comes from Ollama's source: draft flags since 0.30.0, DFlash drafts since 0.32.8. Undo deletes
the derived model. Before/after are measured through Ollama's own API (`/api/generate`), the
same way the tuning apply re-measures.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from velollm_desktop.core.bench.stats import ratio_ci95
from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.kinds import Objective
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.derived import (
    DerivedJournal,
    DerivedModelError,
    create_derived,
    delete_derived,
    derived_name,
    require_version,
)
from velollm_desktop.core.ollama.spec_info import (
    DEFAULT_DRAFT_NUM_PREDICT,
    DFLASH_MIN_VERSION,
    MTP_MIN_VERSION,
)
from velollm_desktop.core.progress import Phase, ProgressFn, RunCounter
from velollm_desktop.core.tune.common import Measured, TuneSettings
from velollm_desktop.core.tune.ollama import OllamaCandidate, measure_ollama_candidate

SPEC_SUFFIX = "-spec"


@dataclass(frozen=True)
class SpecPlan:
    """What "Use in Ollama" will create."""

    model: str
    name: str
    draft_num_predict: int
    draft: Path | None = None
    draft_architecture: str | None = None

    @property
    def parameters(self) -> dict[str, int]:
        return {"draft_num_predict": self.draft_num_predict}

    @property
    def min_version(self) -> str:
        return DFLASH_MIN_VERSION if self.draft_architecture == "dflash" else MTP_MIN_VERSION

    def describe(self) -> str:
        what = f"with the draft {self.draft.name}" if self.draft else "with its own MTP heads"
        return (
            f"create the Ollama model {self.name} from {self.model} {what}, drafting "
            f"{self.draft_num_predict} tokens per step (PARAMETER draft_num_predict "
            f"{self.draft_num_predict}); {self.model} itself is not changed; undo deletes it"
        )


def spec_plan(
    model: str,
    draft: Path | None = None,
    draft_num_predict: int | None = None,
    draft_architecture: str | None = None,
) -> SpecPlan:
    n = DEFAULT_DRAFT_NUM_PREDICT if draft_num_predict is None else draft_num_predict
    if n <= 0:
        raise BadInput("draft_num_predict must be at least 1 (0 turns drafting off)")
    return SpecPlan(model, derived_name(model, SPEC_SUFFIX), n, draft, draft_architecture)


@dataclass(frozen=True)
class SpecApplied:
    """The derived model and, if measured, the before/after through Ollama's API."""

    plan: SpecPlan
    ollama_version: str
    before: Measured | None = None
    after: Measured | None = None

    @property
    def speedup(self) -> tuple[float, float, float] | None:
        """(after/before, 95 % low, high) of decode tokens/s."""
        if self.before is None or self.after is None:
            return None
        if self.before.score is None or self.after.score is None:
            return None
        return ratio_ci95(self.after.score, self.before.score)


def use_in_ollama(
    url: str,
    plan: SpecPlan,
    *,
    journal: DerivedJournal | None = None,
    measure: bool = True,
    budget_s: float = 40.0,
    n_predict: int = 64,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> SpecApplied:
    """Version gate, create `plan.name`, then measure the original and it (before/after)."""
    cancel = cancel or threading.Event()
    count = RunCounter(3, progress)
    with OllamaClient(url) as client:
        version = require_version(
            client, plan.min_version, "speculative decoding (draft_num_predict)"
        )
    count.say(f"creating {plan.name}", Phase.STARTING, pace=False)
    create_derived(url, plan.name, plan.model, plan.parameters, draft=plan.draft, journal=journal)
    if not measure:
        return SpecApplied(plan, version)
    out = []
    for n, model in enumerate((plan.model, plan.name)):
        text = f"measuring {'before' if n == 0 else 'after'}: {model} through Ollama"
        count.say(text, pace=False, run_done=True)
        try:
            out.append(
                measure_ollama_candidate(
                    url,
                    model,
                    OllamaCandidate(model),
                    TuneSettings(Objective.DECODE, 1, n_predict=n_predict),
                    deadline=time.monotonic() + budget_s / 2,
                    cancel=cancel,
                )
            )
        except ServerError as exc:  # Ollama cannot run it (or the user cancelled): undo
            delete_derived(url, plan.name, journal)
            raise DerivedModelError(
                f"{plan.name} was created, but measuring {model} through Ollama failed ({exc}); "
                f"{plan.name} was deleted again, nothing else changed"
            ) from exc
    count.say("done", Phase.DONE, pace=False, run_done=True)
    return SpecApplied(plan, version, out[0], out[1])


def undo_use_in_ollama(url: str, name: str, journal: DerivedJournal | None = None) -> None:
    """Delete the `<model>-spec` model made by `use_in_ollama`."""
    delete_derived(url, name, journal)
