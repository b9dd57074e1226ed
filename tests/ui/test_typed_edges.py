"""Issue 23's edges around the Benchmark page and the tray: the backend kind stays the enum
from the page to the job, the app's detected hardware is passed to each run (not detected
again), the history is a panel that talks through signals, and the tray's actions go through
the pages' intents and a host that implements only `TrayHost`."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from tests.core.doctor.scenarios import cpu_machine
from tests.ollama_fake import MODEL, FakeOllama
from tests.ui.test_optimize_page import H100
from velollm_desktop.core import jsonio
from velollm_desktop.core.bench import flow as bench_flow
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.kinds import BackendKind
from velollm_desktop.core.llamacpp.server import free_port
from velollm_desktop.core.settings import Settings
from velollm_desktop.core.wording import shorten
from velollm_desktop.ui.benchmark_history import BenchmarkHistoryPanel
from velollm_desktop.ui.benchmark_page import KINDS, BenchmarkPage
from velollm_desktop.ui.charts import BarChart
from velollm_desktop.ui.optimize_page import OptimizePage
from velollm_desktop.ui.tray_actions import BALLOON_CHARS, run_tray_action
from velollm_desktop.ui.tune_page import TunePage


@pytest.fixture
def history(tmp_path):
    h = History(tmp_path / "h.sqlite3")
    yield h
    h.close()


@pytest.fixture
def detections(monkeypatch):
    """Every call of the benchmark flow's hardware detection (it answers a CPU-only box)."""
    calls: list[int] = []

    def detect():
        calls.append(1)
        return cpu_machine()

    monkeypatch.setattr(bench_flow, "detect_hardware", detect)
    return calls


def _page(qtbot, history, hardware=lambda: None) -> BenchmarkPage:
    page = BenchmarkPage(Settings.load(), history, hardware)
    qtbot.addWidget(page)
    return page


def _run(qtbot, page: BenchmarkPage, url: str) -> None:
    page.kind.setCurrentIndex(page.kind.findData(BackendKind.OLLAMA))
    page.url.setText(url)
    page.model.setEditText(MODEL)
    page.suite.setCurrentText("quick")
    page.runs.setValue(1)
    qtbot.waitUntil(lambda: page._list_worker is None, timeout=10000)
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None, timeout=30000)


def test_every_server_choice_gives_the_job_the_enum(qtbot, history):
    page = _page(qtbot, history)
    page.model.setEditText("m")
    seen = []
    for i in range(page.kind.count()):
        page.kind.setCurrentIndex(i)
        seen.append(page.job().kind)
    assert all(type(k) is BackendKind for k in seen)
    assert seen == [k for _label, k in KINDS]
    assert set(seen) == set(BackendKind)
    qtbot.waitUntil(lambda: page._list_worker is None, timeout=10000)


def test_runs_use_the_apps_hardware_and_never_detect_again(qtbot, history, detections):
    """Two runs from the page with the app's hardware known: no detection at all, and each
    result (and its history entry) carries the app's hardware."""
    page = _page(qtbot, history, lambda: H100)
    with FakeOllama() as fake:
        for _ in range(2):
            _run(qtbot, page, fake.url)
            assert "done" in page.status.text(), page.status.text()
            assert page.result is not None and page.result.hardware == H100
    assert detections == []
    stored = jsonio.to_plain(H100)  # the history keeps the hardware as plain data
    assert [history.load(e.id).hardware for e in history.entries()] == [stored, stored]


def test_before_detection_finished_a_run_detects_once_itself(qtbot, history, detections):
    page = _page(qtbot, history)  # the app has no hardware yet
    with FakeOllama() as fake:
        _run(qtbot, page, fake.url)
    assert detections == [1] and page.result is not None
    assert page.result.hardware == cpu_machine()


def test_the_cli_detects_once_per_command(detections, capsys):
    from velollm_desktop.cli import main

    with FakeOllama() as fake:
        code = main(
            ["benchmark", "--url", fake.url, "--model", MODEL, "--suite", "quick"]
            + ["--runs", "1", "--no-history", "-q"]
        )
    assert code == 0, capsys.readouterr().err
    assert detections == [1]


def test_the_history_panel_stands_alone_and_speaks_through_signals(qtbot, history):
    """No page around it: Compare with one run checked says why through `message`; with two,
    `compare_requested` carries both; `add` lists a run at once."""
    from velollm_desktop.core.bench.backends import make_backend
    from velollm_desktop.core.bench.runner import run_benchmark
    from velollm_desktop.core.bench.suites import suite

    panel = BenchmarkHistoryPanel(history, BarChart("t", "u"))
    qtbot.addWidget(panel)
    messages: list[str] = []
    compared: list[list] = []
    panel.message.connect(messages.append)
    panel.compare_requested.connect(compared.append)
    with FakeOllama() as fake:
        backend = make_backend(BackendKind.OLLAMA, fake.url, MODEL)
        try:
            result = run_benchmark(backend, suite("quick", runs=1), suite_name="quick")
        finally:
            backend.close()
    assert panel.add(result) is not None and panel.history_list.count() == 1
    panel.history_list.item(0).setCheckState(Qt.CheckState.Checked)
    qtbot.mouseClick(panel.compare_button, Qt.MouseButton.LeftButton)
    assert messages == ["Check at least two runs in the history to compare them."]
    assert compared == []
    panel.add(result)
    for i in range(panel.history_list.count()):
        panel.history_list.item(i).setCheckState(Qt.CheckState.Checked)
    qtbot.mouseClick(panel.compare_button, Qt.MouseButton.LeftButton)
    [chosen] = compared
    assert [r.model for _label, r in chosen] == [MODEL, MODEL]
    assert all(label.startswith("#") for label, _r in chosen)


class _Only:
    """A page seen only through the named methods (as the tray's protocol sees it): any other
    attribute, a widget above all, does not exist here."""

    def __init__(self, page, *names: str) -> None:
        for name in names:
            setattr(self, name, getattr(page, name))


class _Host:
    """Implements `ui/tray_actions.TrayHost` and nothing more (no window, no tray)."""

    def __init__(self, **pages) -> None:
        self._pages = SimpleNamespace(**pages)
        self.shown: list[object] = []
        self.balloons: list[tuple[str, str]] = []
        self.dashboard_shown = 0

    def pages(self):
        return self._pages

    def show_page(self, page) -> None:
        self.shown.append(page)

    def show_dashboard(self) -> None:
        self.dashboard_shown += 1

    def notify(self, title: str, text: str) -> None:
        self.balloons.append((title, text))

    def hardware_known(self) -> bool:
        return True

    def quick_optimize_after_detection(self) -> None:
        raise AssertionError("the hardware is known")


def test_the_trays_quick_benchmark_goes_through_the_pages_intent(qtbot, history):
    """The tray sees the page only as `run_quick_suite`: the quick suite runs on the chosen
    server and lands in the history, whatever the page's widgets are called."""
    page = _page(qtbot, history, lambda: H100)
    with FakeOllama() as fake:
        page.kind.setCurrentIndex(page.kind.findData(BackendKind.OLLAMA))
        page.url.setText(fake.url)
        page.model.setEditText(MODEL)
        qtbot.waitUntil(lambda: page._list_worker is None, timeout=10000)
        assert page.suite.currentText() != "quick"
        seen_by_tray = _Only(page, "run_quick_suite")
        host = _Host(benchmark=seen_by_tray)
        run_tray_action(host, "quick_benchmark")
        assert page.worker is not None  # started
        qtbot.waitUntil(lambda: page.worker is None, timeout=30000)
    assert host.shown == [seen_by_tray]
    assert page.suite.currentText() == "quick" and "done" in page.status.text()
    [entry] = history.entries()
    assert history.load(entry.id).suite == "quick"


def test_the_trays_tune_entry_chooses_ollama_through_the_intent(qtbot):
    page = TunePage(lambda: H100)
    qtbot.addWidget(page)
    assert page.target_key is BackendKind.LLAMACPP
    seen_by_tray = _Only(page, "choose_target")
    host = _Host(tune=seen_by_tray)
    run_tray_action(host, "tune")
    assert page.target_key is BackendKind.OLLAMA and page.worker is None  # nothing started
    assert host.shown == [seen_by_tray] and host.dashboard_shown == 1


def test_the_trays_quick_optimize_with_nothing_to_apply_says_why(qtbot, tmp_path):
    """Ollama neither installed nor running: the tray's balloon is the page's own sentences
    (cut at a word), and nothing is offered — all through the page's intents."""
    settings = Settings.load()
    settings.set("ollama_url", f"http://127.0.0.1:{free_port()}")
    page = OptimizePage(settings, lambda: H100)
    qtbot.addWidget(page)
    root = tmp_path / "empty-root"
    root.mkdir()
    page.system_root, page.processes = root, list
    offered = threading.Event()
    page.apply = lambda: offered.set() or True  # would open the confirmation
    seen_by_tray = _Only(page, "compute", "can_apply", "summary", "apply", "wait_for_hardware")
    host = _Host(optimize=seen_by_tray)
    run_tray_action(host, "quick_optimize")
    qtbot.waitUntil(lambda: bool(host.balloons), timeout=20000)
    qtbot.waitUntil(lambda: page.worker is None, timeout=10000)
    [(title, text)] = host.balloons
    assert title == "Quick optimize" and not page.can_apply()
    assert text == shorten(page.status.text(), BALLOON_CHARS) and text
    assert not offered.is_set() and host.shown == [seen_by_tray]
