"""The older one-function worker API, kept for the pages: a `TaskWorker` is a light `Job`.

New code submits `Job`s to `runner()` directly (see workers/runner.py). History: this module ran
workers with QThread + moveToThread, then (after start-up crashes) on plain threads; both now
go through the one runner, on QThreads, with heavy imports done first (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from velollm_desktop.workers.runner import Job, JobKind, runner


class TaskWorker(Job):
    """`fn(*args, progress=…, cancel=…)` (or `fn(*args)` if `pass_control=False`) as a job.

    Light by default (listing models, reading a GGUF, detection, apply/undo): it runs beside
    a benchmark. Pass `kind=JobKind.MEASURING` for work that must not overlap a measurement.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        pass_control: bool = True,
        kind: JobKind = JobKind.LIGHT,
        label: str | None = None,
        imports: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(
            fn, *args, kind=kind, label=label, pass_control=pass_control, imports=imports
        )


def start_task(parent: QObject | None, worker: TaskWorker) -> Job:
    """Submit `worker` to the app's runner; returns it.

    `parent` is accepted for the older call sites but no longer owns the worker: the runner
    keeps it alive until its thread has ended (a page closed mid-job cannot delete it).
    """
    del parent
    return runner().submit(worker)
