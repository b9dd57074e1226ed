"""Run / Cancel buttons, a progress bar and a status line for a page's measuring job.

Shared by the Benchmark, Speculative and Tune pages. Jobs go to the app's one runner
(workers/runner.py) as *measuring* jobs: while another page's measurement runs, this one
waits in the queue and the status says "Waiting for the benchmark to finish…". Cancel
drops a queued job or sets a running job's cancel event (the core code then stops its servers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

from velollm_desktop.core.failure import Failure
from velollm_desktop.core.llamacpp.crash import crash_of
from velollm_desktop.core.progress import ProgressEvent
from velollm_desktop.workers.runner import Job, JobKind, JobState, runner

PAGE_JOB_LABELS = {
    "BenchmarkPage": "benchmark",
    "SpeculativePage": "speculative comparison",
    "TunePage": "tuning run",
}
"""What "Waiting for the … to finish" names, by page class (else the Run button's text)."""


class JobControls:
    """Owned by a page; `run()` submits a job, `cancel()` / `join()` end it."""

    def __init__(
        self,
        page: QWidget,
        run_text: str,
        status_text: str,
        *,
        label: str | None = None,
        kind: JobKind = JobKind.MEASURING,
    ) -> None:
        self.page = page
        self.kind = kind
        self.label = label or PAGE_JOB_LABELS.get(type(page).__name__, run_text.lower())
        self.worker: Job | None = None
        self.last_event: ProgressEvent | None = None
        self.run_button = QPushButton(run_text)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.failed = False
        """Whether the last job failed (its bar then stays empty, not at 100 %)."""
        self.cancelled = False
        """Whether the user cancelled the last job (its bar then stays where it stopped)."""
        self.last_failure: Failure | None = None
        """The last job's typed failure (its fix), None when it did not fail."""
        self.progress = QProgressBar()
        self.status = QLabel(status_text)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # server text is never HTML
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("The crashed program's last output lines")
        self.details_button.setVisible(False)
        self.details_button.clicked.connect(self.show_details)
        self.details_text = ""
        """The log tail behind "Details…" (a crashed llama.cpp program), else empty."""
        self._on_done: Callable[[], None] | None = None

    def row(self, *extra: QWidget) -> QHBoxLayout:
        """Run, Cancel, any extra buttons, then the progress bar (and "Details…" after a crash)."""
        layout = QHBoxLayout()
        for w in (self.run_button, self.cancel_button, *extra):
            layout.addWidget(w)
        layout.addWidget(self.progress, 1)
        layout.addWidget(self.details_button)
        return layout

    @property
    def busy(self) -> bool:
        """A job of this page is queued or running."""
        return self.worker is not None

    @property
    def waiting(self) -> bool:
        """This page's job waits for another measuring job to finish."""
        return self.worker is not None and self.worker.state is JobState.QUEUED

    def run(
        self,
        fn: Callable[..., Any],
        on_result: Callable[[Any], None],
        *,
        failed_prefix: str,
        on_done: Callable[[], None] | None = None,
        starting: str = "Starting…",
    ) -> bool:
        """Submit `fn(progress=…, cancel=…)` unless this page's job is busy; True if submitted."""
        if self.worker is not None:
            return False
        job = Job(fn, kind=self.kind, label=self.label)
        job.event.connect(self._on_event)
        job.waiting.connect(self.status.setText)
        job.started.connect(lambda: self.status.setText(starting))
        job.result.connect(on_result)
        self.failed = self.cancelled = False
        self.last_failure = None
        self._set_details("")
        job.failed.connect(lambda message: self._on_failed(f"{failed_prefix}: {message}", job))
        job.finished.connect(self._on_finished)
        self.worker, self._on_done, self.last_event = job, on_done, None
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.status.setText(starting)
        runner().submit(job)
        return True

    def cancel(self) -> None:
        """Drop a queued job, or ask the running one to stop at once."""
        job = self.worker
        if job is None:
            return
        self.cancelled = True
        if not runner().cancel_queued(job):
            job.cancel()
            self.status.setText("Cancelling…")

    def join(self, timeout_s: float) -> bool:
        """Wait for a running job's thread (after `cancel()`); returns whether it ended."""
        return self.worker is None or self.worker.join(timeout_s)

    def _on_event(self, event: ProgressEvent) -> None:
        self.last_event = event
        self.progress.setRange(0, max(event.total, 1))
        self.progress.setValue(event.done)
        self.status.setText(event.text)

    def _on_failed(self, text: str, job: Job | None = None) -> None:
        self.failed, self.last_failure = True, (job.failure if job is not None else None)
        self.status.setText(text)
        crash = crash_of(job.error) if job is not None else None
        self._set_details(crash.log_tail if crash is not None else "")

    def _set_details(self, text: str) -> None:
        self.details_text = text
        self.details_button.setVisible(bool(text))

    def show_details(self) -> QMessageBox:
        """The sentence with the crashed program's last lines behind "Show Details…"."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "The engine stopped",
            self.status.text(),
            QMessageBox.StandardButton.Close,
            self.page,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setDetailedText(self.details_text)
        box.setObjectName("engine-crash-details")
        box.open()
        return box

    def _on_finished(self) -> None:
        self.worker = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.cancelled and not self.failed and self.progress.maximum() > 0:
            pass  # a cancelled job's bar stays where it stopped, never at 100 %
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(0 if self.failed or self.cancelled else 1)
        if self._on_done is not None:
            self._on_done()
