"""Run / Cancel buttons, a progress bar and a status line for one background job at a time.

Shared by the Benchmark, Speculative and Tune pages: the job runs in a TaskWorker; Cancel
sets its cancel event (the core code then stops its servers); the buttons follow the state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from velollm_desktop.workers.task import TaskWorker, start_task


class JobControls:
    """Owned by a page; `run()` starts a job, `cancel()` / `join()` end it."""

    def __init__(self, page: QWidget, run_text: str, status_text: str) -> None:
        self.page = page
        self.worker: TaskWorker | None = None
        self.run_button = QPushButton(run_text)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.failed = False
        """Whether the last job failed (its bar then stays empty, not at 100 %)."""
        self.progress = QProgressBar()
        self.status = QLabel(status_text)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # server text is never HTML
        self._on_done: Callable[[], None] | None = None

    def row(self, *extra: QWidget) -> QHBoxLayout:
        """Run, Cancel, any extra buttons, then the progress bar."""
        layout = QHBoxLayout()
        for w in (self.run_button, self.cancel_button, *extra):
            layout.addWidget(w)
        layout.addWidget(self.progress, 1)
        return layout

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def run(
        self,
        fn: Callable[..., Any],
        on_result: Callable[[Any], None],
        *,
        failed_prefix: str,
        on_done: Callable[[], None] | None = None,
        starting: str = "Starting…",
    ) -> bool:
        """Start `fn(progress=…, cancel=…)` unless a job is running; returns whether it started."""
        if self.worker is not None:
            return False
        self.worker = TaskWorker(fn)
        self.worker.progress.connect(self._on_progress)
        self.worker.result.connect(on_result)
        self.failed = False
        self.worker.failed.connect(lambda message: self._on_failed(f"{failed_prefix}: {message}"))
        self.worker.finished.connect(self._on_finished)
        self._on_done = on_done
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.status.setText(starting)
        start_task(self.page, self.worker)
        return True

    def cancel(self) -> None:
        """Ask the running job to stop at once."""
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling…")

    def join(self, timeout_s: float) -> bool:
        """Wait for a running job's thread (after `cancel()`); returns whether it ended."""
        return self.worker is None or self.worker.join(timeout_s)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status.setText(text)

    def _on_failed(self, text: str) -> None:
        self.failed = True
        self.status.setText(text)

    def _on_finished(self) -> None:
        self.worker = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0 if self.failed else 1)  # a failure never looks finished
        if self._on_done is not None:
            self._on_done()
