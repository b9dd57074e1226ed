"""The history database held by another process, or with a table of another layout."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.bench.test_stats_store import _result
from velollm_desktop.core.bench import store
from velollm_desktop.core.bench.store import History, HistoryBusy


def test_a_locked_history_is_busy_not_damaged(tmp_path, monkeypatch):
    """Before: "database is locked" was taken for damage: the whole history moved aside."""
    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "history.sqlite3"
    h = History(path)
    first = h.add(_result())
    h.close()
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    try:
        h = History(path)
        assert h.problem and "busy" in h.problem and "damaged" not in h.problem
        with pytest.raises(HistoryBusy, match="try again"):
            h.add(_result())
    finally:
        other.rollback()
        other.close()
    assert h.add(_result()) == first + 1  # the lock gone: the same object works again
    assert [e.id for e in h.entries()] == [first + 1, first]
    h.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite3"]  # nothing moved


def test_a_results_table_of_another_layout_is_kept_and_the_run_stored(tmp_path):
    """Before: the INSERT failed after the benchmark (traceback, the run lost)."""
    path = tmp_path / "history.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE results (id INTEGER PRIMARY KEY, what TEXT)")
    db.execute("INSERT INTO results (what) VALUES ('theirs')")
    db.commit()
    db.close()
    h = History(path)
    entry = h.add(_result())
    assert h.load(entry).model == _result().model and "another layout" in h.problem
    h.close()
    db = sqlite3.connect(path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    aside = [t for t in tables if t.startswith("results_other_schema_")]
    assert len(aside) == 1
    assert db.execute(f'SELECT what FROM "{aside[0]}"').fetchall() == [("theirs",)]
    db.close()


COLUMNS = st.lists(
    st.sampled_from(["started_at", "kind", "server", "model", "suite", "body", "extra", "x y"]),
    unique=True,
    max_size=6,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(columns=COLUMNS, rows=st.integers(0, 3))
def test_any_results_layout_keeps_old_rows_and_stores_the_new_run(tmp_path, columns, rows):
    path = tmp_path / "h.sqlite3"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    cols = ", ".join(f'"{c}" TEXT' for c in columns)
    db.execute(f"CREATE TABLE results (id INTEGER PRIMARY KEY{', ' + cols if cols else ''})")
    for i in range(rows):
        db.execute("INSERT INTO results (id) VALUES (?)", (i + 1,))
    db.commit()
    db.close()
    h = History(path)
    entry = h.add(_result())
    assert h.load(entry).model == _result().model
    h.close()
    db = sqlite3.connect(path)
    total = sum(
        db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
        for (t,) in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'results%'")
    )
    db.close()
    assert total == rows + 1


def test_the_cli_keeps_a_run_it_cannot_store_while_the_history_is_locked(velollm_exe):
    from tests.conftest import run_cli  # noqa: PLC0415
    from tests.ollama_fake import MODEL, FakeOllama  # noqa: PLC0415
    from velollm_desktop.core.settings import data_dir  # noqa: PLC0415

    History(data_dir() / "history.sqlite3").close()
    other = sqlite3.connect(data_dir() / "history.sqlite3")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with FakeOllama() as fake:
            args = ("benchmark", "--url", fake.url, "--model", MODEL, "--suite", "quick", "-q")
            res = run_cli(velollm_exe, *args)
    finally:
        other.rollback()
        other.close()
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "busy" in res.stderr and "saved to" in res.stderr
    (saved,) = data_dir().glob("unsaved-result-*.json")
    assert store.from_json(saved.read_text()).model == MODEL
    assert not list(data_dir().glob("history.sqlite3.corrupt-*"))
