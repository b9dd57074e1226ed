"""The Speculative page: pick a target and a compatible draft (or an n-gram mode), run with
progress and Cancel, and see tok/s per mode with error bars, acceptance and the verdict."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal
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

from velollm_desktop.core.llamacpp import ollama_store
from velollm_desktop.core.llamacpp.gguf import NotGGUF, read_gguf
from velollm_desktop.core.settings import ollama_url_from_env
from velollm_desktop.core.spec.compare import (
    NGRAM_TYPES,
    CompareResult,
    SpecMode,
    compatibility_problems,
    draft_mode,
    ngram_mode,
    run_compare,
)
from velollm_desktop.ui.charts import BarChart
from velollm_desktop.ui.job_controls import JobControls
from velollm_desktop.ui.spec_ollama import OllamaSpecControls


class SpeculativePage(QWidget):
    """Signals:
    finished(str): the verdict when a comparison ends.
    """

    finished = Signal(str)

    def __init__(
        self, history=None, parent: QWidget | None = None, ollama_url_provider=None
    ) -> None:
        super().__init__(parent)
        self.history = history
        self.result: CompareResult | None = None
        self._all_models: list[str] = []
        self.target = QComboBox()
        self.target.setEditable(True)
        self.draft = QComboBox()
        self.draft.setEditable(True)
        self.target.currentTextChanged.connect(self._filter_drafts)
        browse = QPushButton("Add .gguf…")
        browse.clicked.connect(self._browse)
        self.ngram = QComboBox()
        self.ngram.addItem("(none)", None)
        for t in NGRAM_TYPES:
            self.ngram.addItem(t, t)
        self.ngram.setCurrentIndex(1)
        self.use_draft = QCheckBox("Draft model")
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
        row.addWidget(browse)
        form.addRow("Target model", row)
        drow = QHBoxLayout()
        drow.addWidget(self.use_draft)
        drow.addWidget(self.draft, 1)
        form.addRow("Draft", drow)
        form.addRow("N-gram mode", self.ngram)
        form.addRow("Runs per prompt", self.runs)
        form.addRow("Tokens per run", self.n_predict)
        self.jobs = JobControls(
            self, "Compare", "Pick a target model (any .gguf, or one Ollama downloaded)."
        )
        self.run_button, self.cancel_button = self.jobs.run_button, self.jobs.cancel_button
        self.progress, self.status = self.jobs.progress, self.jobs.status
        self.run_button.clicked.connect(self.start)
        self.ollama = OllamaSpecControls(self.jobs, ollama_url_provider or ollama_url_from_env)
        form.addRow("Ollama", self.ollama)
        buttons = self.jobs.row()
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.chart = BarChart("Decode speed per mode (mean ± stddev)", "tokens/s")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.verdict)
        self.refresh_models()

    # -- model lists ----------------------------------------------------------------------
    def refresh_models(self, extra: list[str] | None = None) -> None:
        """Offer Ollama's downloaded models (as ollama:NAME) plus added files."""
        names = [f"ollama:{n}" for n in ollama_store.list_models()] + list(extra or [])
        self._all_models = names
        for combo in (self.target, self.draft):
            current = combo.currentText()
            combo.clear()
            combo.addItems(names)
            if current:
                combo.setCurrentText(current)
        self._filter_drafts()  # also for the first target, which emits no change

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "GGUF model", str(Path.home()), "GGUF (*.gguf);;All files (*)"
        )
        if path:
            self.refresh_models([path])
            self.target.setCurrentText(path)

    @staticmethod
    def resolve(spec: str) -> Path:
        """A path from a .gguf path or an `ollama:NAME` entry."""
        return ollama_store.resolve(spec) if spec.startswith("ollama:") else Path(spec).expanduser()

    def _filter_drafts(self) -> None:
        """Keep only drafts whose tokenizer matches the target (llama.cpp's own rule)."""
        try:
            target = read_gguf(self.resolve(self.target.currentText()))
        except (NotGGUF, LookupError, OSError):
            return
        keep = []
        for spec in self._all_models:
            try:
                if spec != self.target.currentText() and not compatibility_problems(
                    target, read_gguf(self.resolve(spec))
                ):
                    keep.append(spec)
            except (NotGGUF, LookupError, OSError):
                continue
        self.draft.clear()
        self.draft.addItems(keep)

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
            target = self.resolve(self.target.currentText())
            modes, draft = self.modes()
        except (LookupError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        extra, notes = self.ollama.mode(target, draft)
        modes += extra
        if len(modes) < 2:
            self.status.setText(
                " ".join(notes) or "Choose a draft model or an n-gram mode to compare with vanilla."
            )
            return
        self.jobs.run(
            partial(
                run_compare,
                target,
                modes,
                draft=draft,
                runs=self.runs.value(),
                n_predict=self.n_predict.value(),
                notes=notes,
            ),
            self.show_result,
            failed_prefix="Comparison stopped",
        )

    def cancel(self) -> None:
        """Stop at once: the running llama-server is ended."""
        self.jobs.cancel()

    def join(self, timeout_s: float) -> bool:
        return self.jobs.join(timeout_s)

    def show_result(self, result: CompareResult) -> None:
        """Chart tok/s per mode and show acceptance and the advisor's verdict."""
        self.result = result
        names = [m.mode for m in result.modes]
        self.chart.set_data(
            names,
            [
                (
                    "decode tok/s",
                    [
                        m.decode_tokens_per_s.mean if m.decode_tokens_per_s else None
                        for m in result.modes
                    ],
                    [
                        m.decode_tokens_per_s.stddev if m.decode_tokens_per_s else None
                        for m in result.modes
                    ],
                )
            ],
        )
        parts = []
        for m in result.modes:
            acc = f", {m.acceptance:.0%} accepted" if m.acceptance is not None else ""
            sp = f"{m.speedup:.2f}×" if m.speedup is not None else "n/a"
            parts.append(f"{m.mode}: {sp}{acc}")
        self.status.setText("Done. " + "; ".join(parts))
        self.verdict.setText("\n".join(result.advice) or "No verdict.")
        draft = self.resolve(self.draft.currentText()) if result.draft else None
        self.ollama.offer(result, self.target.currentText(), draft)
        if self.history is not None and not self.history.closed:
            self.history.add_comparison(result)
        self.finished.emit(result.advice[0] if result.advice else "comparison done")
