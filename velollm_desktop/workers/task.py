"""Run one core function in a background thread and report its result or failure as signals.

The worker object lives in the GUI thread; the function runs on a plain `threading.Thread`
and the signals it emits are queued to the GUI. (The QThread + moveToThread pattern crashed
PySide6 6.11 at start-up: SIGSEGV in about 1 of 20 starts while another thread imported
modules; with plain threads, 0 in 48.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


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
        self.thread: threading.Thread | None = None

    def cancel(self) -> None:
        """Thread-safe: ask the function to stop at its next check."""
        self.cancel_event.set()

    def join(self, timeout_s: float = 10.0) -> bool:
        """Wait for the background thread; returns whether it has ended."""
        if self.thread is None:
            return True
        self.thread.join(timeout_s)
        return not self.thread.is_alive()

    def _report(self, done: int, total: int, text: str) -> None:
        self.progress.emit(done, total, text)

    def run(self) -> None:
        """Runs in the background thread."""
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


def start_task(parent: QObject, worker: TaskWorker) -> threading.Thread:
    """Run `worker` on a new daemon thread; `parent` owns the worker.

    A worker is deleted only once its thread has ended (at the parent's next task, or with
    the parent): deleting it on `finished` raced with the thread's last touch of the object
    and crashed in ~QObject (1 in 3 runs of the Speculative page test).
    """
    for old in parent.findChildren(TaskWorker):
        if old.thread is not None and not old.thread.is_alive():
            old.deleteLater()
    worker.setParent(parent)
    name = getattr(worker._fn, "__name__", "job")
    worker.thread = threading.Thread(target=worker.run, name=f"velollm-task-{name}", daemon=True)
    worker.thread.start()
    return worker.thread
