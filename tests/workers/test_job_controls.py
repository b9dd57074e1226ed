"""JobControls as a person uses them: click Run on two pages, the second waits; Cancel it."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from velollm_desktop.core.progress import Phase, ProgressEvent
from velollm_desktop.ui.job_controls import JobControls
from velollm_desktop.workers import runner as runner_module


class BenchmarkPage(QWidget):  # named like the real page: the label comes from the class name
    def __init__(self, fn) -> None:
        super().__init__()
        self.jobs = JobControls(self, "Run benchmark", "Pick a server.")
        self.results: list = []
        self.jobs.run_button.clicked.connect(
            lambda: self.jobs.run(fn, self.results.append, failed_prefix="Benchmark failed")
        )
        QVBoxLayout(self).addLayout(self.jobs.row())


class TunePage(BenchmarkPage):
    pass


@pytest.fixture
def fresh_runner():
    old = runner_module.reset_runner()
    yield runner_module.runner()
    assert not runner_module.runner().shutdown(10.0)
    runner_module.reset_runner()
    runner_module._RUNNER = old


def test_second_measurement_waits_and_can_be_cancelled_while_waiting(qtbot, fresh_runner):
    gate = threading.Event()
    tune_ran = threading.Event()

    def benchmark(progress, cancel):
        progress(ProgressEvent(1, 2, "quick run 1/2: 10.0 tok/s", Phase.MEASURING))
        gate.wait(30)
        return "bench done"

    def tune(progress, cancel):
        tune_ran.set()
        return "tune done"

    bench_page, tune_page = BenchmarkPage(benchmark), TunePage(tune)
    for page in (bench_page, tune_page):
        qtbot.addWidget(page)
        page.show()
    qtbot.mouseClick(bench_page.jobs.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "tok/s" in bench_page.jobs.status.text(), timeout=10_000)
    qtbot.mouseClick(tune_page.jobs.run_button, Qt.MouseButton.LeftButton)
    assert tune_page.jobs.status.text() == "Waiting for the benchmark to finish…"
    assert tune_page.jobs.waiting and not tune_page.jobs.run_button.isEnabled()

    qtbot.mouseClick(tune_page.jobs.cancel_button, Qt.MouseButton.LeftButton)
    assert tune_page.jobs.status.text() == "Benchmark failed: cancelled before it started"
    assert tune_page.jobs.run_button.isEnabled() and not tune_page.jobs.busy

    gate.set()
    qtbot.waitUntil(lambda: bench_page.results == ["bench done"], timeout=10_000)
    qtbot.waitUntil(lambda: not bench_page.jobs.busy, timeout=10_000)
    assert bench_page.jobs.last_event is not None and bench_page.jobs.last_event.done == 1
    assert not tune_ran.is_set()


def test_a_waiting_measurement_starts_when_the_first_finishes(qtbot, fresh_runner):
    gate = threading.Event()
    bench_page = BenchmarkPage(lambda progress, cancel: gate.wait(30) and "bench")
    tune_page = TunePage(lambda progress, cancel: "tune")
    for page in (bench_page, tune_page):
        qtbot.addWidget(page)
    qtbot.mouseClick(bench_page.jobs.run_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tune_page.jobs.run_button, Qt.MouseButton.LeftButton)
    assert tune_page.jobs.waiting
    gate.set()
    qtbot.waitUntil(lambda: tune_page.results == ["tune"], timeout=10_000)
    assert bench_page.results == ["bench"]
