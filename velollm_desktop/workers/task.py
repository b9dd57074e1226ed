"""Run one core function in a QThread and report its result or failure as signals."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot


class TaskWorker(QObject):
    """Calls `fn(*args, progress=…, cancel=…)` (or `fn(*args)` if `pass_control=False`).

    Signals:
        progress(int, int, str): done, total, what is happening.
        result(object): the function's return value.
        failed(str): the exception's message (user-facing).
        finished(): always last, after result or failed.
    """

    progress = Signal(int, int, str)
    result = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, pass_control: bool = True) -> None:
        super().__init__()
        self._fn = fn
        self._args = args
        self._pass_control = pass_control
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        """Thread-safe: ask the function to stop at its next check."""
        self.cancel_event.set()

    def _report(self, done: int, total: int, text: str) -> None:
        self.progress.emit(done, total, text)

    @Slot()
    def run(self) -> None:
        try:
            if self._pass_control:
                value = self._fn(*self._args, progress=self._report, cancel=self.cancel_event)
            else:
                value = self._fn(*self._args)
        except Exception as exc:  # noqa: BLE001 - reported to the user, not swallowed
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.result.emit(value)
        finally:
            self.finished.emit()
            QThread.currentThread().quit()


def start_task(parent: QObject, worker: TaskWorker) -> QThread:
    """Move `worker` to a new QThread owned by `parent` and start it; returns the thread."""
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    thread.start()
    return thread
