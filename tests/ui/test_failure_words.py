"""What a person reads when Ollama is down: the core's sentence, the app's own fix words (from
the failure's typed fix, not from its text) and the built-in engine offer."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from velollm_desktop.core.bench.store import History
from velollm_desktop.core.llamacpp.server import free_port
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.benchmark_page import BenchmarkPage


@pytest.fixture
def page(qtbot, tmp_path):
    history = History(tmp_path / "h.sqlite3")
    p = BenchmarkPage(Settings.load(), history)
    qtbot.addWidget(p)
    yield p
    qtbot.waitUntil(lambda: p.worker is None, timeout=30000)
    history.close()


def test_ollama_down_names_the_settings_fix_and_offers_the_builtin_engine(page, qtbot):
    page.kind.setCurrentIndex(page.kind.findData("ollama"))
    page.url.setText(f"http://127.0.0.1:{free_port()}")
    qtbot.waitUntil(lambda: page._list_worker is None, timeout=10000)
    page.model.setEditText("some-model")
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=10000)
    status = page.status.text()
    assert "Ollama is not running at http://127.0.0.1:" in status
    assert "`ollama serve` (or open the Ollama app), or set the right address in Settings" in status
    assert "--url" not in status
    assert "Built-in engine" in status  # Fix.START_OLLAMA starts a server too
    failure = page.jobs.last_failure
    assert failure is not None and failure.type_name == "OllamaNotRunning" and failure.expected
