"""Shared fixtures: the installed CLI, the test model, and guards that end what a test left
behind (child processes, jobs, pollers, threads, windows, timers) so one failure never cascades."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, settings

# Property tests bound their inputs' time and memory themselves (each asserts its own bound);
# Hypothesis' per-example wall-clock deadline (200 ms) would only measure how loaded the two
# cores are, so it is off for every test, as are the health checks that time data generation.
settings.register_profile("velollm", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("velollm")

ROOT = Path(__file__).resolve().parents[1]


class _LogFail(logging.Handler):
    """Collects ERROR and worse from our loggers (qutebrowser's "logfail" idea)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("velollm_desktop"):
            self.records.append(record)


@pytest.fixture(autouse=True)
def logfail(request):
    """Fail a test during which our code logged an ERROR it did not expect.

    An error log means an unexpected exception (the job runner logs those with their
    traceback). A test that provokes one on purpose says so with `@pytest.mark.logs_errors`.
    Warnings from our modules and exceptions in threads fail tests through `filterwarnings`
    in pyproject.toml.
    """
    handler = _LogFail()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("logs_errors") is None:
        lines = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in handler.records]
        pytest.fail("unexpected error logged:\n" + "\n".join(lines), pytrace=False)


def pytest_collection_modifyitems(config, items):
    """Mark GUI tests (they take `qtbot`) and model tests (they take the model); skip stress
    runs unless selected with `-m stress`."""
    want_stress = "stress" in (config.getoption("-m") or "")
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "qtbot" in names:
            item.add_marker(pytest.mark.gui)
        if names & MODEL_FIXTURES:
            item.add_marker(pytest.mark.needs_model)
        if item.get_closest_marker("stress") and not want_stress:
            item.add_marker(pytest.mark.skip(reason="a long stress run: select it with -m stress"))


@pytest.fixture(scope="session", autouse=True)
def _offscreen_qt():
    """Qt tests run offscreen unless a test starts its own X server."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    yield


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path, monkeypatch):
    """Settings, history and caches go to a temp dir, never the developer's real ones."""
    home = tmp_path / "home"
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),  # platformdirs' user_log_dir: the app's log file
    ):
        monkeypatch.setenv(var, str(home / sub))
    yield


@pytest.fixture(autouse=True)
def no_orphans():
    """Fail a test that leaves a child process of ours running (llama-server, Xvfb, …)."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    leftover = [p for p in me.children(recursive=True) if p.pid not in before]
    alive = []
    for p in leftover:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{p.pid} {' '.join(p.cmdline()[:3])}")
        except psutil.NoSuchProcess:
            pass
    _end_processes(leftover)  # the next test starts without them, whatever this one did
    assert not alive, f"test left processes running: {alive}"


def _end_processes(procs: list[psutil.Process]) -> None:
    """SIGTERM, then SIGKILL after 5 s, each process we started and left (only those)."""
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, still = psutil.wait_procs(procs, timeout=5)
    for p in still:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(still, timeout=5)


@pytest.fixture(autouse=True)
def jobs_end_with_the_test(no_orphans):
    """After each test, cancel what the app's job runner still runs (so its servers stop
    before `no_orphans` looks) and fail the test if a job ignores the cancel for 30 s."""
    yield
    module = sys.modules.get("velollm_desktop.workers.runner")
    runner = getattr(module, "_RUNNER", None) if module else None
    if runner is not None and (runner.running or runner.queued):
        late = runner.shutdown(30.0)
        assert not late, f"jobs still running 30 s after cancel: {late}"


@pytest.fixture(autouse=True)
def leftovers_end_with_the_test(request, jobs_end_with_the_test):
    """After each test (passed or not), end what it left: app Controllers (their sampler and
    Ollama poller), our worker threads, visible top-level windows and their timers. A test that
    left a Controller or a worker thread running fails (that is what made 74 later tests fail
    once); leftover windows and foreign threads are closed / listed in the summary."""
    threads_before = set(threading.enumerate())
    windows_before = _visible_top_levels()
    yield
    failures, notes = [], []
    app_module = sys.modules.get("velollm_desktop.ui.app")
    for controller in list(getattr(app_module, "LIVE_CONTROLLERS", ())):
        failures.append("a Controller that was never shut down (its pollers kept running)")
        controller.shutdown()
    new = [  # QThreads show up as dummies once they ran Python: the job runner ends those
        t
        for t in threading.enumerate()
        if t not in threads_before and t.is_alive() and not isinstance(t, threading._DummyThread)
    ]
    for t in new:  # a worker's thread runs its owner's loop: stop the owner (poller, sampler)
        owner = getattr(getattr(t, "_target", None), "__self__", None)
        if callable(getattr(owner, "stop", None)):
            failures.append(f"thread {t.name} of a {type(owner).__name__} still running")
            owner.stop()
    for t in new:
        t.join(5.0)
    for t in new:
        if t.is_alive():
            (failures if t.name.startswith("velollm-") else notes).append(
                f"thread {t.name} still alive 5 s after the test"
            )
    for w in _visible_top_level_widgets():
        if _address(w) in windows_before:
            continue
        notes.append(f"window {type(w).__name__} {w.windowTitle()!r} left open (closed now)")
        w.close()
        w.deleteLater()
    _flush_deferred_deletes()
    if notes:
        request.node.user_properties.append(("leftovers", "; ".join(notes)))
    if failures:
        pytest.fail("the test left running: " + "; ".join(dict.fromkeys(failures)), pytrace=False)


def _visible_top_level_widgets() -> list:
    """The visible top-level widgets whose C++ object is alive (a wrapper of one a test
    deleted is never touched: that is what crashed the run once)."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    app = widgets.QApplication.instance() if widgets else None
    if app is None:
        return []
    import shiboken6

    return [w for w in app.topLevelWidgets() if shiboken6.isValid(w) and w.isVisible()]


def _address(w) -> int:
    import shiboken6

    return int(shiboken6.getCppPointer(w)[0])


def _visible_top_levels() -> set[int]:
    """The C++ addresses of the visible top-level widgets now: no Python wrapper is kept
    across the test (a widget the test deletes would leave a dangling one behind)."""
    return {_address(w) for w in _visible_top_level_widgets()}


def _flush_deferred_deletes() -> None:
    """Delete now what deleteLater() scheduled (windows closed above, and their timers)."""
    core = sys.modules.get("PySide6.QtCore")
    if core is not None and core.QCoreApplication.instance() is not None:
        core.QCoreApplication.sendPostedEvents(None, core.QEvent.Type.DeferredDelete)


def pytest_terminal_summary(terminalreporter):
    """List the tests that left windows or foreign threads behind (closed/ended after them)."""
    lines = [
        f"{r.nodeid}: {value}"
        for r in terminalreporter.getreports("")
        for key, value in getattr(r, "user_properties", ())
        if key == "leftovers" and r.when == "teardown"
    ]
    if lines:
        terminalreporter.write_sep("-", "tests that left windows or threads behind")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def velollm_exe() -> str:
    """Path of the installed `velollm` console script (the one a user runs)."""
    exe = shutil.which("velollm", path=str(Path(sys.executable).parent))
    assert exe, "velollm is not installed in this environment: run bash build_scripts/setup.sh test"
    return exe


def run_cli(
    exe: str, *args: str, timeout: float = 60, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the installed CLI and capture its output."""
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_model_path() -> Path:
    """The small real GGUF model the set-up script downloads (SmolLM2-135M-Instruct Q4_1)."""
    env = os.environ.get("VELOLLM_TEST_MODEL")
    path = (
        Path(env)
        if env
        else Path.home()
        / ".cache"
        / "velollm-desktop"
        / "models"
        / "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    return path


MODEL_FIXTURES = {"smol_model", "smol_f32", "llama_server"}
"""Fixtures that need the downloaded model: tests using them are marked `needs_model`."""


@pytest.fixture(scope="session")
def smol_model() -> Path:
    path = test_model_path()
    if not path.exists():
        pytest.skip(f"test model missing at {path}: run bash build_scripts/setup.sh test")
    return path


@pytest.fixture(scope="session")
def llama_server(smol_model):
    """One real llama-server on a free loopback port for the whole session (2 threads)."""
    from velollm_desktop.core.llamacpp.server import LlamaServer

    server = LlamaServer(smol_model, threads=2, ctx_size=2048)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def smol_f32(smol_model) -> Path:
    """An F32 copy of SmolLM2-135M (made once with llama-quantize): a real target for the Q4_1 draft."""
    from velollm_desktop.core.llamacpp.binaries import find_program

    target = smol_model.with_name("smol-f32.gguf")
    if not target.exists():
        quantize = find_program("llama-quantize").path
        part = target.with_suffix(".part")
        subprocess.run(
            [str(quantize), "--allow-requantize", str(smol_model), str(part), "F32"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        part.replace(target)
    return target
