"""Apply on the Tune page runs as a job: /api/create and the re-measure never block the GUI."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.tune.common import TuneResult, measured_from
from velollm_desktop.core.tune.ollama import OllamaCandidate
from velollm_desktop.ui.tune_page import TunePage


def _result() -> TuneResult:
    base = measured_from(OllamaCandidate("current settings"), [10.0, 10.1, 9.9], [50.0] * 3)
    win = measured_from(
        OllamaCandidate("num_thread=2", {"num_thread": 2}), [15.0, 15.2, 14.9], [40.0] * 3
    )
    return TuneResult(MODEL, "decode", 1, base, (base, win), win, 1.5, True, 1.0, (), "ollama")


def test_clicking_apply_creates_the_derived_model_in_a_job_then_shows_before_after(qtbot):
    with FakeOllama() as fake:
        page = TunePage(lambda: None, lambda: fake.url)
        qtbot.addWidget(page)
        page.show_result(_result())
        page.apply_button.setEnabled(True)  # what the end of a significant tune does
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
        assert page.worker is not None  # submitted, not run on the GUI thread
        qtbot.waitUntil(lambda: page.worker is None, timeout=60_000)
        assert list(fake.derived) == ["smollm2-velollm:135m"]
        text = page.status.text()
        assert text.startswith("Created the model smollm2-velollm:135m"), text
        assert "Before" in text and len(page.chart.bars) == 1


def test_apply_with_ollama_gone_says_so_in_one_line_and_creates_nothing(qtbot):
    page = TunePage(lambda: None, lambda: "http://127.0.0.1:9")
    qtbot.addWidget(page)
    page.show_result(_result())
    page.apply_button.setEnabled(True)
    qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=60_000)
    text = page.status.text()
    assert text.startswith("Stopped: Ollama is not running at http://127.0.0.1:9"), text
    assert "\n" not in text
