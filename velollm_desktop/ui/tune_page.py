"""The Tune page: target, objective and budget, Start/Cancel, the candidates as they are measured,
Apply winner, then a before/after chart with error bars from a fresh measurement. Targets: a
llama-server the app starts itself (one per candidate), or the running Ollama (per-request
options; server settings only after the user confirms, and always restored)."""

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
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.kinds import BackendKind, Objective
from velollm_desktop.core.llamacpp.builtin import builtin_model_path
from velollm_desktop.core.ollama import store as ollama_store
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.service import dropin_path, list_processes, system_root
from velollm_desktop.core.progress import ProgressEvent
from velollm_desktop.core.settings import DEFAULT_OLLAMA_URL
from velollm_desktop.core.tune.common import (
    OBJECTIVES,
    Measured,
    TuneResult,
    outcome_text,
    verdict_text,
)
from velollm_desktop.core.tune.energy import score_unit
from velollm_desktop.core.tune.ollama import ServiceSettings, tuned_name
from velollm_desktop.core.tune.ollama_service import (
    SERVER_CHANGES_TITLE,
    ServerChangesRefused,
    ServerSettings,
    server_changes_for,
)
from velollm_desktop.core.tune.target import (
    TuneSettings,
    TuneTarget,
    apply_and_remeasure,
    target_for,
)
from velollm_desktop.ui.background import BackgroundCall
from velollm_desktop.ui.confirm import confirm
from velollm_desktop.ui.job_controls import JobControls
from velollm_desktop.ui.tune_results import TuneResults
from velollm_desktop.workers.bench_jobs import list_models

TARGETS = {
    BackendKind.LLAMACPP: "llama-server (started by the app)",
    BackendKind.OLLAMA: "Ollama (the running server)",
}


class TunePage(QWidget):
    """Tunes a llama-server that the app starts itself, or the running Ollama.

    Signals:
        finished(str): a tune ended with a result (its verdict, for a tray notification).
    """

    finished = Signal(str)

    def __init__(
        self,
        hardware_provider,
        ollama_url_provider=lambda: DEFAULT_OLLAMA_URL,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.hardware_provider = hardware_provider
        self.ollama_url_provider = ollama_url_provider
        self.result: TuneResult | None = None
        self.system_root = system_root()
        """Where systemd's files are looked for (a sandbox in tests)."""
        self.processes = list_processes
        self.service_factory = lambda url: ServiceSettings(
            url, Applier(dropin=dropin_path(self.system_root))
        )
        """Builds the server-settings writer from the URL (the optimizer's; replaced in tests)."""
        form = self._build_form()
        buttons = self._build_buttons()
        self._build_results()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 2)
        self._on_target()

    def _build_form(self) -> QFormLayout:
        """Target, model, context, server changes, objective, concurrency, time budget."""
        self.target = QComboBox()
        for key, label in TARGETS.items():
            self.target.addItem(label, key.value)
        self.target.currentIndexChanged.connect(lambda: self._on_target())
        self.server_changes = QCheckBox(
            "Also try server settings (restarts Ollama; restored afterwards)"
        )
        self.server_changes.setToolTip(
            "Also try flash attention, KV cache type and parallel slots: rewrites Ollama's "
            "service configuration and restarts it; the original is restored afterwards"
        )
        self.ctx = QSpinBox()
        self.ctx.setRange(0, 1048576)
        self.ctx.setSingleStep(1024)
        self.ctx.setSpecialValueText("as configured")
        self.model = QComboBox()
        self.model.setEditable(True)
        self._local = [f"ollama:{n}" for n in ollama_store.list_models()]
        self._lister = BackgroundCall(
            self,
            self._on_ollama_models,
            lambda m: self.status.setText(f"Ollama's model list is not available: {m}"),
        )
        self.model.addItems(self._local)
        self.model.currentTextChanged.connect(lambda: self._update_start_enabled())
        self.browse_button = browse = QPushButton("Add .gguf…")
        browse.setToolTip("A GGUF file for llama-server (Ollama tunes the models it serves)")
        browse.clicked.connect(lambda: self._browse())
        self.objective = QComboBox()
        self.objective.addItems(OBJECTIVES)
        self.concurrency = QSpinBox()
        self.concurrency.setRange(1, 64)
        self.concurrency.setValue(4)
        self.budget = QSpinBox()
        self.budget.setRange(10, 3600)
        self.budget.setValue(180)
        self.budget.setSuffix(" s")
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(browse)
        form.addRow("Target", self.target)
        form.addRow("Model", row)
        form.addRow("Required context (tokens)", self.ctx)
        form.addRow("", self.server_changes)
        form.addRow("Objective", self.objective)
        form.addRow("Concurrent clients (throughput)", self.concurrency)
        form.addRow("Time budget", self.budget)
        return form

    def _build_buttons(self) -> QHBoxLayout:
        """Start / Cancel (job controls) and Apply winner."""
        self.jobs = JobControls(
            self,
            "Start",
            "Each candidate runs its own llama-server; nothing changes until you Apply.",
        )
        self.start_button, self.cancel_button = self.jobs.run_button, self.jobs.cancel_button
        self.progress, self.status = self.jobs.progress, self.jobs.status
        self.start_button.clicked.connect(lambda: self.start())
        self.apply_button = QPushButton("Apply winner…")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(lambda: self.apply())
        return self.jobs.row(self.apply_button)

    def _build_results(self) -> None:
        """The candidates table and the before/after chart (one composed panel)."""
        self.results = TuneResults(self)
        self.table, self.chart = self.results.table, self.results.chart

    @property
    def target_key(self) -> BackendKind:
        return BackendKind(self.target.currentData())

    def choose_target(self, kind: BackendKind) -> None:
        """Select what to tune (the tray's "Tune Ollama…"); nothing starts."""
        self.target.setCurrentIndex(self.target.findData(kind.value))

    def _local_files(self) -> list[str]:
        """What llama-server can load here: Ollama's downloaded models (their GGUF blobs) and
        the app's own built-in model once it is downloaded."""
        own = builtin_model_path()
        return self._local + ([str(own)] if own.is_file() else [])

    def _add_local_files(self) -> None:
        known = {self.model.itemText(i) for i in range(self.model.count())}
        self.model.addItems([m for m in self._local_files() if m not in known])
        if not self.model.currentText() and self.model.count():
            self.model.setCurrentIndex(0)

    def _on_target(self) -> None:
        ollama = self.target_key is BackendKind.OLLAMA
        self.server_changes.setEnabled(ollama)
        self.browse_button.setVisible(not ollama)  # a file is for llama-server only
        if not ollama:
            self._add_local_files()
        self.ctx.setSpecialValueText("as configured" if ollama else "2048 per slot")
        self.status.setText(
            "Each candidate's options are sent with the requests (Ollama reloads the model; load time "
            "is measured apart). Nothing changes until you Apply."
            if ollama
            else "Each candidate runs its own llama-server; nothing changes until you Apply."
        )
        if ollama and self.isVisible():
            self._list_ollama_models()
        self._update_start_enabled()

    def showEvent(self, event) -> None:
        """With Ollama as the target, fill the model list from the server in the background."""
        super().showEvent(event)
        if self.target_key is BackendKind.OLLAMA:
            self._list_ollama_models()
        else:  # the built-in model may have been downloaded meanwhile
            self._add_local_files()

    def _list_ollama_models(self) -> None:
        self._lister.start(list_models, BackendKind.OLLAMA, self.ollama_url_provider())

    def _on_ollama_models(self, names: list[str]) -> None:
        typed = self.model.currentText()
        known = {self.model.itemText(i) for i in range(self.model.count())}
        self.model.addItems([f"ollama:{n}" for n in names if f"ollama:{n}" not in known])
        if not typed and names:
            self.model.setCurrentText(f"ollama:{names[0]}")
        self._update_start_enabled()

    def _update_start_enabled(self) -> None:
        """Start needs a model and no job running."""
        ready = bool(self.model.currentText().strip())
        self.start_button.setEnabled(ready and not self.jobs.busy)
        self.start_button.setToolTip("" if ready else "Choose a model first")

    def ollama_model(self) -> str:
        """The Ollama model name (the list shows `ollama:NAME`)."""
        return ollama_store.ollama_name(self.model.currentText())

    def confirm(self, text: str) -> bool:
        """Asks the user to allow server changes during the tune."""
        return confirm(self, SERVER_CHANGES_TITLE, text, "Allow and start")

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "GGUF model", str(Path.home()), "GGUF (*.gguf)")
        if path:
            self.model.addItem(path)
            self.model.setCurrentText(path)

    def model_path(self) -> Path:
        return ollama_store.model_path(self.model.currentText())

    @property
    def worker(self):
        """The running job's worker, or None."""
        return self.jobs.worker

    def _run(self, fn, on_result) -> None:
        if self.jobs.run(fn, on_result, failed_prefix="Stopped", on_done=self._on_done):
            self.apply_button.setEnabled(False)
            self.jobs.worker.event.connect(self._on_progress)

    def settings(self) -> TuneSettings:
        """The form's choices (one `TuneSettings`, mapped to the backend by `TuneTarget`)."""
        return TuneSettings(
            objective=Objective(self.objective.currentText()),
            concurrency=self.concurrency.value(),
            budget_s=float(self.budget.value()),
            ctx=self.ctx.value() or None,
        )

    def start(self) -> None:
        """Tune in a worker thread, through the chosen `TuneTarget`."""
        if self.jobs.busy:
            return
        hardware = self.hardware_provider()
        if hardware is None:
            self.status.setText("Hardware detection has not finished yet; try again in a second.")
            return
        target = (
            self._ollama_target() if self.target_key is BackendKind.OLLAMA else self._llama_target()
        )
        if target is None:
            return
        self.table.setRowCount(0)
        self._run(partial(target.tune, hardware, self.settings()), self.show_result)

    def _llama_target(self) -> TuneTarget | None:
        try:
            model = self.model_path()
        except LookupError as exc:
            self.status.setText(str(exc))
            return None
        if not model.is_file():  # a folder (or ".") is not a model either
            self.status.setText(f"Model file not found: {model}")
            return None
        return target_for(BackendKind.LLAMACPP, str(model))

    def _ollama_target(self) -> TuneTarget | None:
        model, url = self.ollama_model(), self.ollama_url_provider()
        if not model or model.endswith(".gguf"):
            self.status.setText(
                "Choose an Ollama model (ollama:NAME) or type its name, e.g. llama3.2:3b."
            )
            return None
        server: ServerSettings | None = None
        if self.server_changes.isChecked():
            try:
                server, text = server_changes_for(
                    url,
                    root=self.system_root,
                    processes=self.processes,
                    factory=self.service_factory,
                )
            except ServerChangesRefused as exc:
                self.status.setText(f"Server settings cannot be tried here: {exc}")
                return None
            if not self.confirm(text):
                self.status.setText("Not started: server changes were not allowed.")
                return None
        return target_for(BackendKind.OLLAMA, model, url=url, server=server)

    def cancel(self) -> None:
        self.jobs.cancel()

    def join(self, timeout_s: float) -> bool:
        return self.jobs.join(timeout_s)

    def _on_progress(self, event: ProgressEvent) -> None:
        if isinstance(event.measurement, Measured):  # a candidate finished: show it now
            self.results.add_measured(event.measurement, score_unit(self.objective.currentText()))

    def _on_done(self) -> None:
        self.apply_button.setEnabled(self.result is not None and self.result.significant)
        self._update_start_enabled()

    def show_result(self, result: TuneResult) -> None:
        """The full table (the winner marked, the baseline named as kept when nothing beat it),
        the measured candidates in the chart, and the outcome in sentences."""
        self.result = result
        self.results.show_result(result)
        self.status.setText(outcome_text(result))
        self.finished.emit(verdict_text(result))

    def apply(self) -> None:
        """Save the winner (llama-server profile, or a derived Ollama model), then re-measure
        (one job: neither the write nor Ollama's /api/create runs on the GUI thread)."""
        if self.result is None or self.jobs.busy:
            return
        kind = BackendKind(self.result.backend)
        if kind is BackendKind.OLLAMA and not self._ollama_model_allowed():
            self.status.setText("Cancelled: no model was created.")
            return
        spec = self.result.model if kind is BackendKind.OLLAMA else str(self.model_path())
        target = target_for(kind, spec, url=self.ollama_url_provider())
        self.status.setText("Applying the winner, then re-measuring before and after…")
        self._run(partial(apply_and_remeasure, target, self.result), self._show_applied)

    def _ollama_model_allowed(self) -> bool:
        """Creating a tuned Ollama model is asked first (No: nothing is created)."""
        assert self.result is not None
        options = self.result.winner.candidate.options
        if not options:
            return True
        model, name = self.result.model, tuned_name(self.result.model)
        return confirm(
            self,
            "Create a tuned Ollama model",
            f"Ollama will get a new model, {name}, made from {model} with these options:\n\n"
            + "\n".join(f"  {k} = {v}" for k, v in sorted(options.items()))
            + f"\n\n{model} itself is not changed. Remove the new model with `ollama rm {name}`.",
            "Create model",
        )

    def _show_applied(self, outcome) -> None:
        applied, pair = outcome
        self.show_before_after(pair)
        self.status.setText(f"{applied.message} {self.status.text()}")

    def show_before_after(self, pair: tuple[Measured, Measured]) -> None:
        said = self.results.show_before_after(pair, self.result.objective if self.result else None)
        if said:
            self.status.setText(said)
