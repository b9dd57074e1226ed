"""What the Benchmark and Speculative pages say about noisy or mismatched results (offscreen)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPushButton

from velollm_desktop.core.bench.model import BenchmarkResult, RunMeasurement, ServerInfo
from velollm_desktop.core.bench.model import TestResult as BenchTestResult
from velollm_desktop.core.bench.stats import summarize
from velollm_desktop.core.bench.store import History, export_file
from velollm_desktop.core.llamacpp.builtin import builtin_model_path
from velollm_desktop.core.settings import Settings
from velollm_desktop.core.speculative.compare import DEFAULT_PROMPTS, CompareResult, ModeResult
from velollm_desktop.ui.benchmark_page import BenchmarkPage
from velollm_desktop.ui.speculative_page import INTRO, SpeculativePage


def _result(values, asked, model="smollm2:135m", kind="ollama") -> BenchmarkResult:
    runs = tuple(RunMeasurement(10.0, v, v, 500.0, 20, 50, None, 400.0) for v in values)
    test = BenchTestResult(
        "short_completion", 50, runs, summarize(values), None, None, None, runs_requested=asked
    )
    return BenchmarkResult(
        "0.2.0",
        "2026-11-27T08:00:00+00:00",
        ServerInfo(kind, "http://h", "1"),
        model,
        None,
        "standard",
        {},
        (test,),
    )


def _button(page, text) -> QPushButton:
    return next(b for b in page.findChildren(QPushButton) if b.text() == text)


def test_imported_noisy_result_is_flagged_in_the_table(qtbot, tmp_path, monkeypatch):
    history = History(tmp_path / "h.sqlite3")
    page = BenchmarkPage(Settings.load(), history)
    qtbot.addWidget(page)
    try:
        clean, noisy = tmp_path / "clean.json", tmp_path / "noisy.json"
        export_file(_result([100.0, 101.0, 99.0], 3), clean)
        export_file(_result([80.0, 100.0, 120.0], 5), noisy)
        for path in (clean, noisy):  # the user picks the file in the Import dialog
            monkeypatch.setattr(
                QFileDialog, "getOpenFileName", staticmethod(lambda *a, p=path, **k: (str(p), ""))
            )
            qtbot.mouseClick(_button(page, "Import JSON…"), Qt.MouseButton.LeftButton)
            note = page.table.item(0, 7).text()
            if path == clean:
                assert note == "ok" and not page.warning.isVisibleTo(page)
        assert note.startswith("⚠ only 3 of 5 runs; noisy: ±20 %")
        assert "close other programs and run again with more runs" in note
        assert page.warning.isVisibleTo(page) and "short_completion" in page.warning.text()
    finally:
        history.close()


def test_comparing_different_models_warns_and_labels_the_axis(qtbot, tmp_path):
    history = History(tmp_path / "h.sqlite3")
    history.add(_result([100.0, 101.0, 99.0], 3))
    history.add(_result([50.0, 51.0, 49.0], 3, model="qwen3:8b", kind="llamacpp"))
    page = BenchmarkPage(Settings.load(), history)
    qtbot.addWidget(page)
    try:
        for i in range(page.history_panel.history_list.count()):
            page.history_panel.history_list.item(i).setCheckState(Qt.CheckState.Checked)
        qtbot.mouseClick(page.history_panel.compare_button, Qt.MouseButton.LeftButton)
        assert "Comparing 2 runs" in page.status.text()
        assert page.warning.text().startswith("⚠ These runs differ in model and backend")
        assert page.chart.getAxis("bottom").labelText == "test — different model, backend per bar"
    finally:
        history.close()


def test_speculative_page_explains_labels_and_browses_the_models_folder(qtbot, monkeypatch):
    page = SpeculativePage()
    qtbot.addWidget(page)
    assert page.intro.text() == INTRO and "only faster when" in INTRO
    assert page.use_draft.text() == "use"  # the row is "Draft model  ☑ use  [draft]"
    asked = []

    def fake_open(parent, caption, folder, filters):
        asked.append(folder)
        return "", ""  # the user cancels the dialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    qtbot.mouseClick(page.browse_button, Qt.MouseButton.LeftButton)
    assert asked == [str(builtin_model_path().parent)]
    assert page.target.currentText() == ""  # cancelled: nothing added


def test_speculative_noise_notes_in_the_verdict(qtbot):
    page = SpeculativePage()
    qtbot.addWidget(page)
    asked = 3 * len(DEFAULT_PROMPTS)
    runs = tuple(RunMeasurement(10.0, 100.0, 100.0, 1.0, 1, 1, None, 1.0) for _ in range(asked))

    def mode(name, values, n):
        return ModeResult(name, (), runs[:n], summarize(values), None, None, None, 0, 0)

    result = CompareResult(
        "0.2.0",
        "t",
        "target.gguf",
        None,
        128,
        3,
        (mode("vanilla", [60.0, 100.0, 140.0], asked), mode("ngram-simple", [1.0], 2)),
        ("Speculation does not pay here.",),
    )
    page.show_result(result)
    lines = page.verdict.text().splitlines()
    assert lines[0] == "Speculation does not pay here."
    assert lines[1].startswith("⚠ vanilla: noisy: ±40 %")
    assert lines[2].startswith(f"⚠ ngram-simple: only 2 of {asked} runs")
