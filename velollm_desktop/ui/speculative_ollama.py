"""The Speculative page's Ollama part: the mode "as Ollama would run it", its verdict, and
"Use in Ollama" (create `<model>-spec` after the user agrees; Undo deletes it)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QWidget

from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.llamacpp.binaries import BinaryNotFound, find_program
from velollm_desktop.core.llamacpp.gguf import NotGGUF, read_gguf
from velollm_desktop.core.ollama.spec_info import ollama_mode_args, server_support
from velollm_desktop.core.speculative.compare import (
    OLLAMA_MODE,
    CompareResult,
    SpecMode,
    significant_gain,
)
from velollm_desktop.core.speculative.ollama_apply import (
    SpecApplied,
    SpecPlan,
    spec_plan,
    undo_use_in_ollama,
    use_in_ollama,
)
from velollm_desktop.ui.confirm import confirm
from velollm_desktop.ui.job_controls import JobControls
from velollm_desktop.workers.errors import say


class OllamaSpecControls(QWidget):
    """A checkbox for the fourth mode, the verdict line, Use in Ollama… and Undo."""

    def __init__(self, jobs: JobControls, url_provider: Callable[[], str], parent=None) -> None:
        super().__init__(parent)
        self.jobs, self.url_provider = jobs, url_provider
        self.plan: SpecPlan | None = None
        self.created: str | None = None
        self.as_ollama = QCheckBox("As Ollama would run it")
        self.as_ollama.setToolTip(
            "Ollama ≥ 0.30 speculates with the model's MTP heads, or with a draft attached as "
            "DRAFT, using its own llama-server flags; this mode measures exactly those"
        )
        self.use_button = QPushButton("Use in Ollama…")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(lambda: self._use())
        self.undo_button = QPushButton("Undo")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(lambda: self._undo())
        self.label = QLabel()
        self.label.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.as_ollama, self.use_button, self.undo_button):
            row.addWidget(w)
        row.addWidget(self.label, 1)

    def mode(self, target: Path, draft: Path | None) -> tuple[list[SpecMode], list[str]]:
        """The Ollama mode to measure (if ticked and possible) and what to say about it."""
        if not self.as_ollama.isChecked():
            return [], []
        try:
            support = server_support(find_program("llama-server"))
            flags, notes = ollama_mode_args(target, draft, None, support)
        except (NotGGUF, BinaryNotFound, OSError) as exc:
            return [], [f"as Ollama would run it: {say(exc)}"]
        return ([SpecMode(OLLAMA_MODE, flags)] if flags else []), notes

    def offer(self, result: CompareResult, target_spec: str, draft: Path | None) -> None:
        """After a comparison: the Ollama mode's verdict; offer Use in Ollama on a clear gain."""
        self.plan = None
        self.use_button.setEnabled(False)
        mode = next((m for m in result.modes if m.mode == OLLAMA_MODE), None)
        if mode is None:
            said = [a for a in result.advice if a.startswith("as Ollama would run it")]
            self.label.setText(said[0] if said else "")
            return
        gain = f"{mode.speedup or 0:.2f}×"
        if not significant_gain(mode):
            self.label.setText(f"As Ollama would run it: {gain}, not a clear gain.")
            return
        if not target_spec.startswith("ollama:"):
            self.label.setText(f"As Ollama would run it: {gain}. Pick an ollama: target to use it.")
            return
        n = int(mode.args[mode.args.index("--spec-draft-n-max") + 1])
        arch = read_gguf(draft).architecture if draft else None
        self.plan = spec_plan(target_spec.removeprefix("ollama:"), draft, n, arch)
        self.use_button.setEnabled(True)
        self.label.setText(
            f"As Ollama would run it: {gain}. Use in Ollama creates {self.plan.name}."
        )

    def _use(self) -> None:
        plan = self.plan
        if plan is None or self.jobs.busy:
            return
        if not confirm(self, "Create a model in Ollama?", plan.describe() + ".", "Create model"):
            self.label.setText("Nothing was created.")
            return
        self.use_button.setEnabled(False)
        self.jobs.run(
            partial(use_in_ollama, self.url_provider(), plan),
            self._applied,
            failed_prefix="Use in Ollama failed",
        )

    def _applied(self, applied: SpecApplied) -> None:
        self.created = applied.plan.name
        self.undo_button.setEnabled(True)
        text = f"Created {self.created} in Ollama {applied.ollama_version}."
        if applied.speedup and applied.before and applied.after:
            ratio, lo, hi = applied.speedup
            text += (
                f" Through Ollama: {applied.before.score.mean:.1f} → "
                f"{applied.after.score.mean:.1f} tok/s, {ratio:.2f}× ({lo:.2f}–{hi:.2f}, 95 %)."
            )
        self.label.setText(text)

    def _undo(self) -> None:
        if self.created is None:
            return
        text = f"Delete {self.created} from Ollama? Only this model, which VeloLLM created, goes."
        if not confirm(self, "Delete the model?", text, "Delete"):
            self.label.setText("Nothing was deleted.")
            return
        try:
            undo_use_in_ollama(self.url_provider(), self.created)
        except ServerError as exc:
            self.label.setText(f"Undo failed: {say(exc)}")
            return
        self.label.setText(f"Deleted {self.created}.")
        self.created = None
        self.undo_button.setEnabled(False)
