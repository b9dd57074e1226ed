"""A comparison the busy history cannot take is kept in a file, and the run says where."""

from __future__ import annotations

import json
import sqlite3

from velollm_desktop.core.bench import store
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.settings import data_dir
from velollm_desktop.core.speculative import flow
from velollm_desktop.core.speculative.compare import CompareResult


def _result() -> CompareResult:
    return CompareResult("0", "2026-12-02T02:40:00+00:00", "t.gguf", None, 8, 1, (), ("ok",))


def test_a_comparison_saved_while_the_history_is_locked_goes_to_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(flow, "run_compare", lambda *a, **k: _result())
    history = History(tmp_path / "h.sqlite3")
    other = sqlite3.connect(history.path)
    other.execute("BEGIN EXCLUSIVE")
    try:
        run = flow.compare_and_save("t.gguf", (), history=history)
    finally:
        other.rollback()
        other.close()
    try:
        assert run.history_id is None and "busy" in run.unsaved_reason
        assert run.unsaved_path is not None and run.unsaved_path.parent == data_dir()
        assert run.unsaved_path.name == "unsaved-comparison-20261202T024000.json"
        assert json.loads(run.unsaved_path.read_text())["target"] == "t.gguf"
        assert history.comparisons() == []  # not half-stored either
        again = flow.compare_and_save("t.gguf", (), history=history)  # lock gone: stored
        assert again.history_id is not None and again.unsaved_path is None
    finally:
        history.close()
