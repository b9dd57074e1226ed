"""One background call at a time (a model list, a header read) for a page; its answer goes to a
callback on the GUI thread, a failure to another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

from velollm_desktop.workers.task import TaskWorker, start_task


class BackgroundCall:
    """`start(fn, *args)` runs `fn(*args)` in a TaskWorker unless one is running."""

    def __init__(
        self,
        owner: QWidget,
        on_result: Callable[[Any], None],
        on_failed: Callable[[str], None] | None = None,
    ) -> None:
        self.owner = owner
        self.on_result = on_result
        self.on_failed = on_failed
        self.worker: TaskWorker | None = None

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Start the call; returns False (and does nothing) while another one runs."""
        if self.worker is not None:
            return False
        self.worker = TaskWorker(fn, *args, pass_control=False)
        self.worker.result.connect(self.on_result)
        if self.on_failed is not None:
            self.worker.failed.connect(self.on_failed)
        self.worker.finished.connect(self._on_finished)
        start_task(self.owner, self.worker)
        return True

    def _on_finished(self) -> None:
        self.worker = None
