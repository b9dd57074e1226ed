"""The Speculative page: pick a target and a compatible draft (or an n-gram mode), run with
progress and Cancel, and see tok/s per mode with error bars, acceptance and the verdict."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.llamacpp.builtin import builtin_model_path
from velollm_desktop.core.ollama import store as ollama_store
from velollm_desktop.core.settings import ollama_url_from_env
from velollm_desktop.core.speculative.compare import (
    NGRAM_DESCRIPTIONS,
    NGRAM_TYPES,
    CompareResult,
    SpecMode,
    draft_mode,
    ngram_mode,
)
from velollm_desktop.core.speculative.drafts import compatible_drafts, spec_noise_notes
from velollm_desktop.core.speculative.flow import compare_and_save
from velollm_desktop.ui.charts import BarChart
from velollm_desktop.ui.job_controls import JobControls
from velollm_desktop.ui.speculative_ollama import OllamaSpecControls
from velollm_desktop.workers.task import TaskWorker, start_task

FILTER_DELAY_MS = 300


PICK_TARGET = "Pick a target model (any .gguf, or one Ollama downloaded)."
NO_DRAFT_TEXT = (
    "No compatible draft among the other {n} local model(s): a draft must use the target's "
    "tokenizer (the same vocabulary, as llama.cpp requires). Add one with “Add .gguf…”, or "
    "use an n-gram mode, which needs no draft."
)

INTRO = (
    "Speculative decoding: a small draft model (or a look-up of repeated text, the n-gram "
    "modes) guesses the next few tokens and the target model checks them all in one pass. "
    "The text is exactly what the target alone would write; it is only faster when most "
    "guesses are accepted: a draft of the same family, ten or more times smaller, on "
    "predictable text (code, edits, summaries). Otherwise it can be slower, so measure it here."
)


def models_folder() -> Path:
    """The app's models folder (where the built-in model goes), else the home folder."""
    folder = builtin_model_path().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Path.home()
    return folder


class SpeculativePage(QWidget):
    """Signals:
    finished(str): the verdict when a comparison ends.
    """

    finished = Signal(str)
    mode_finished = Signal(object)
    """A mode's `ModeResult`, as soon as it is measured (emitted from the job's thread)."""

    def __init__(
        self, history=None, parent: QWidget | None = None, ollama_url_provider=None
    ) -> None:
        super().__init__(parent)
        self._partial: list = []
        self.mode_finished.connect(self._on_mode_finished)
        self.history = history
        self.result: CompareResult | None = None
        self._build_model_inputs()
        form = self._build_form()
        buttons = self._build_controls(form, ollama_url_provider)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.chart = BarChart("Decode speed per mode (mean ± stddev)", "tokens/s")
        self.intro = QLabel(INTRO)
        self.intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.verdict)
        self.refresh_models()

    def _build_model_inputs(self) -> None:
        """Target and draft lists (drafts filtered in a worker once typing pauses), Add .gguf."""
        self.target = QComboBox()
        self.target.setEditable(True)
        self.draft = QComboBox()
        self.draft.setEditable(True)
        self.models: list[str] = []
        """The unfiltered master list; the draft list is always filtered from it."""
        self._filter_worker: TaskWorker | None = None
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(lambda: self._filter_drafts())
        # Typing only restarts the timer: headers are read in a worker once typing pauses.
        self.target.currentTextChanged.connect(lambda: self._on_inputs_changed())
        self.draft.currentTextChanged.connect(lambda: self._update_run_enabled())
        browse = self.browse_button = QPushButton("Add .gguf…")
        browse.clicked.connect(lambda: self._browse())

    def _build_form(self) -> QFormLayout:
        """Target, draft, n-gram mode, runs, tokens per run."""
        self.ngram = QComboBox()
        self.ngram.addItem("(none)", None)
        # the descriptions are long: the box never widens the page beyond 800 px
        self.ngram.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.ngram.setMinimumContentsLength(24)
        for t in NGRAM_TYPES:  # the name llama.cpp uses, and what it does
            self.ngram.addItem(f"{t}: {NGRAM_DESCRIPTIONS[t]}", t)
            self.ngram.setItemData(
                self.ngram.count() - 1,
                f"llama-server --spec-type {t}: {NGRAM_DESCRIPTIONS[t]}. No draft model: the "
                "guesses come from text that already appeared.",
                Qt.ItemDataRole.ToolTipRole,
            )
        self.ngram.setCurrentIndex(1)
        self.use_draft = QCheckBox("use")
        self.use_draft.setToolTip("Compare with a draft model (unchecked: n-gram mode only)")
        self.use_draft.setChecked(True)
        self.runs = QSpinBox()
        self.runs.setRange(1, 20)
        self.runs.setValue(3)
        self.n_predict = QSpinBox()
        self.n_predict.setRange(16, 2048)
        self.n_predict.setValue(128)
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.target, 1)
        row.addWidget(self.browse_button)
        form.addRow("Target model", row)
        drow = QHBoxLayout()
        drow.addWidget(self.use_draft)
        drow.addWidget(self.draft, 1)
        form.addRow("Draft model", drow)
        form.addRow("N-gram mode", self.ngram)
        form.addRow("Runs per prompt", self.runs)
        form.addRow("Tokens per run", self.n_predict)
        return form

    def _build_controls(self, form: QFormLayout, ollama_url_provider) -> QHBoxLayout:
        """Compare / Cancel and the Ollama mode (a row of `form`)."""
        self.jobs = JobControls(self, "Compare", PICK_TARGET)
        self._hinting = True
        """The status shows the next-step hint (until a comparison starts)."""
        self.draft_note = ""
        self.run_button, self.cancel_button = self.jobs.run_button, self.jobs.cancel_button
        self.progress, self.status = self.jobs.progress, self.jobs.status
        self.run_button.clicked.connect(lambda: self.start())
        self.use_draft.toggled.connect(lambda: self._update_run_enabled())
        self.ngram.currentIndexChanged.connect(lambda: self._update_run_enabled())
        self.ollama = OllamaSpecControls(self.jobs, ollama_url_provider or ollama_url_from_env)
        self.ollama.as_ollama.toggled.connect(lambda: self._update_run_enabled())
        form.addRow("Ollama", self.ollama)
        return self.jobs.row()

    # -- model lists ----------------------------------------------------------------------
    def refresh_models(self, extra: list[str] | None = None) -> None:
        """Offer Ollama's downloaded models (as ollama:NAME), the app's own built-in model
        and added files; the draft list is then filtered for the target."""
        own = builtin_model_path()
        added = [m for m in self.models if not m.startswith("ollama:") and m != str(own)]
        names = [f"ollama:{n}" for n in ollama_store.list_models()]
        names += [str(own)] if own.exists() else []
        names += [m for m in [*added, *(extra or [])] if m not in names]
        self.models = list(dict.fromkeys(names))
        current = self.target.currentText()
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItems(self.models)
        self.target.setCurrentText(current)
        self.target.blockSignals(False)
        self._on_inputs_changed()

    def showEvent(self, event) -> None:
        """Re-read the local model stores when the page is shown (a model may have arrived)."""
        super().showEvent(event)
        self.refresh_models()

    def _on_inputs_changed(self) -> None:
        self._update_run_enabled()
        self._filter_timer.start()

    def _update_run_enabled(self) -> None:
        """Compare needs a target file and a draft, an n-gram mode or the Ollama mode, and no
        job running."""
        target = self.target.currentText().strip()
        draft = self.use_draft.isChecked() and bool(self.draft.currentText().strip())
        other = self.ngram.currentData() is not None or self.ollama.as_ollama.isChecked()
        ready = bool(target) and (draft or other)
        self.run_button.setEnabled(ready and not self.jobs.busy)
        self.run_button.setToolTip(
            "" if ready else "Choose a target model and a draft, an n-gram mode or the Ollama mode"
        )
        if not self.jobs.busy and self.result is None and self._hinting:
            self.status.setText(self._hint(target, ready))

    def _hint(self, target: str, ready: bool) -> str:
        """What to do next, as the inputs are now (shown until a comparison runs)."""
        if not target:
            return PICK_TARGET
        text = f"Target: {Path(target).name}. "
        if self.draft_note:
            text += self.draft_note + " "
        return text + ("Press Compare." if ready else "Now choose a draft model or an n-gram mode.")

    def _browse(self) -> None:
        folder = models_folder()
        path, _ = QFileDialog.getOpenFileName(
            self, "GGUF model", str(folder), "GGUF (*.gguf);;All files (*)"
        )
        if path:
            self.refresh_models([path])
            self.target.setCurrentText(path)

    @staticmethod
    def resolve(spec: str) -> Path:
        """A path from a .gguf path or an `ollama:NAME` entry."""
        return ollama_store.model_path(spec)

    def _filter_drafts(self) -> None:
        """Fill the draft list (in a worker) with the master list's compatible models."""
        if self._filter_worker is not None:
            self._filter_timer.start()  # one at a time: try again when this one is done
            return
        target = self.target.currentText().strip()
        self._filter_for = target
        self._filter_worker = TaskWorker(
            compatible_drafts, target, list(self.models), pass_control=False
        )
        self._filter_worker.result.connect(self._on_drafts)
        self._filter_worker.finished.connect(self._on_filter_finished)
        start_task(self, self._filter_worker)

    def _on_filter_finished(self) -> None:
        self._filter_worker = None

    def _on_drafts(self, keep: list[str]) -> None:
        if self._filter_for != self.target.currentText().strip():
            return  # the target changed meanwhile: the timer filters again
        chosen = self.draft.currentText()
        self.draft.clear()
        self.draft.addItems(keep)
        if chosen in keep:
            self.draft.setCurrentText(chosen)
        self.draft_note = (
            ""
            if keep or not self._filter_for
            else NO_DRAFT_TEXT.format(n=max(0, len(self.models) - 1))
        )
        self.draft.lineEdit().setPlaceholderText(
            "no compatible draft found" if self.draft_note else ""
        )
        self._update_run_enabled()

    # -- running --------------------------------------------------------------------------
    def modes(self) -> tuple[list[SpecMode], Path | None]:
        """Vanilla, then the draft and/or n-gram mode chosen."""
        modes = [SpecMode("vanilla")]
        draft = None
        if self.use_draft.isChecked() and self.draft.currentText():
            draft = self.resolve(self.draft.currentText())
            modes.append(draft_mode(draft))
        if self.ngram.currentData():
            modes.append(ngram_mode(self.ngram.currentData()))
        return modes, draft

    @property
    def worker(self):
        """The running job's worker, or None."""
        return self.jobs.worker

    def start(self) -> None:
        """Run the comparison in a worker (each mode's llama-server is always stopped)."""
        if self.jobs.busy:
            return
        try:
            target = self.resolve(self.target.currentText().strip())
            modes, draft = self.modes()
        except (LookupError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        if not target.is_file():
            self.status.setText(f"Model file not found: {target}. Pick a model from the list.")
            return
        extra, notes = self.ollama.mode(target, draft)
        modes += extra
        if len(modes) < 2:
            self.status.setText(
                " ".join(notes) or "Choose a draft model or an n-gram mode to compare with vanilla."
            )
            return
        self._hinting = False
        self._partial: list = []
        self.chart.set_data([], [])  # the previous chart goes: this run's modes appear one by one
        self.jobs.run(
            partial(
                compare_and_save,
                target,
                modes,
                draft=draft,
                runs=self.runs.value(),
                n_predict=self.n_predict.value(),
                history=self.history,
                notes=notes,
                on_mode=self.mode_finished.emit,  # from the job's thread: queued to this one
            ),
            lambda run: self.show_result(run.result),
            failed_prefix="Comparison stopped",
            on_done=self._update_run_enabled,
        )

    def cancel(self) -> None:
        """Stop at once: the running llama-server is ended."""
        self.jobs.cancel()

    def join(self, timeout_s: float) -> bool:
        return self.jobs.join(timeout_s)

    def _on_mode_finished(self, mode) -> None:
        """Draw each mode as soon as it is measured (a comparison can take minutes)."""
        if self.jobs.busy:
            self._partial.append(mode)
            self._chart_modes(self._partial)

    def _chart_modes(self, modes) -> None:
        self.chart.set_data(
            [m.mode for m in modes],
            [
                (
                    "decode tok/s",
                    [m.decode_tokens_per_s.mean if m.decode_tokens_per_s else None for m in modes],
                    [
                        m.decode_tokens_per_s.stddev if m.decode_tokens_per_s else None
                        for m in modes
                    ],
                )
            ],
        )

    def show_result(self, result: CompareResult) -> None:
        """Chart tok/s per mode and show acceptance and the advisor's verdict."""
        self.result = result
        self._chart_modes(result.modes)
        parts = []
        for m in result.modes:
            acc = f", {m.acceptance:.0%} accepted" if m.acceptance is not None else ""
            sp = f"{m.speedup:.2f}×" if m.speedup is not None else "n/a"
            parts.append(f"{m.mode}: {sp}{acc}")
        self.status.setText("Done. " + "; ".join(parts))
        verdict = list(result.advice) or ["No verdict."]
        verdict += [f"⚠ {note}" for note in spec_noise_notes(result)]
        self.verdict.setText("\n".join(verdict))
        draft = self.resolve(self.draft.currentText()) if result.draft else None
        self.ollama.offer(result, self.target.currentText(), draft)
        self.finished.emit(result.advice[0] if result.advice else "comparison done")
