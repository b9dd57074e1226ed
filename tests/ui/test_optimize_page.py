"""The Optimize page, clicked as a person does: Recommend, Apply… (declined, then accepted),
Undo… (declined, then accepted). System paths live in a sandboxed root and `systemctl` is a
stand-in script on PATH that records its arguments; nothing touches the real machine."""

from __future__ import annotations

import json
import os
import stat

import pytest
from PySide6.QtCore import Qt

from tests.conftest import ROOT
from tests.ollama_fake import MODEL, FakeOllama
from tests.ui.dialogs import answer_dialogs
from velollm_desktop.core.hardware.model import hardware_from_json
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.catalogue import NEVER_EXISTED
from velollm_desktop.core.optimize.service import ProcInfo, dropin_path
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.optimize_page import MemoryBar, OptimizePage

H100 = hardware_from_json(json.loads((ROOT / "docs/hardware/h100-detect.json").read_text()))
USER_DROPIN = '[Service]\n# my own setting\nEnvironment="OLLAMA_KEEP_ALIVE=10m"\n'


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A root with ollama.service and a user's drop-in; a recording `systemctl` on PATH."""
    root = tmp_path / "root"
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    (unit_dir / "ollama.service").write_text("[Service]\nExecStart=/usr/bin/ollama serve\n")
    dropin = dropin_path(root)
    dropin.parent.mkdir()
    dropin.write_text(USER_DROPIN)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "systemctl.log"
    script = bin_dir / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return root, dropin, log


def _page(qtbot, url, root, processes=list):
    settings = Settings.load()
    settings.set("ollama_url", url)
    page = OptimizePage(settings, lambda: H100)
    page.system_root = root
    page.processes = processes
    page.applier = Applier(platform="linux", dropin=dropin_path(root))
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    return page


def _recommend(qtbot, page):
    qtbot.mouseClick(page.compute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.worker is None and page.state is not None, timeout=15000)


def _current(page) -> dict[str, str]:
    return {
        page.table.item(r, 0).text(): page.table.item(r, 1).text()
        for r in range(page.table.rowCount())
    }


def test_apply_declined_then_accepted_then_undo(qtbot, sandbox):
    root, dropin, log = sandbox
    with FakeOllama() as fake:
        page = _page(qtbot, fake.url, root)
        _recommend(qtbot, page)
        env = dict(page.state.recommendation.env)
        assert "OLLAMA_KEEP_ALIVE" in env and not set(env) & set(NEVER_EXISTED)
        bars = [page.bars.itemAt(i).widget() for i in range(page.bars.count())]
        assert isinstance(bars[0], MemoryBar) and bars[0].fit.name == MODEL
        current = _current(page)
        assert current["OLLAMA_KEEP_ALIVE"].startswith("10m (override.conf)")
        assert "OLLAMA_FLASH_ATTENTION" not in current or "(default)" in current.get(
            "OLLAMA_FLASH_ATTENTION", "(default)"
        )
        assert "systemd service" in page.status.text() and page.apply_button.isEnabled()

        # Decline: the file keeps its bytes and systemctl never runs
        answers = answer_dialogs(qtbot, "Cancel")
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
        assert not answers.errors, answers.errors
        assert dropin.read_text() == USER_DROPIN and not log.exists()
        assert "nothing was changed" in page.status.text()
        text = answers.texts[0]
        assert answers.buttons[0] == ["Apply and restart Ollama", "Cancel"]
        assert f"OLLAMA_KEEP_ALIVE: 10m → {env['OLLAMA_KEEP_ALIVE']}" in text
        assert str(dropin) in text and "systemctl daemon-reload" in text
        assert "systemctl restart ollama" in text and "unloads every loaded model" in text
        for name, value in env.items():
            if name != "OLLAMA_KEEP_ALIVE":
                assert f"{name}: " in text and f"→ {value}" in text

        # Accept: exactly the shown change, then the table shows the new current values
        answers = answer_dialogs(qtbot, "Apply and restart Ollama")
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
        assert not answers.errors, answers.errors
        qtbot.waitUntil(lambda: not page.busy, timeout=15000)
        assert log.read_text().splitlines() == ["daemon-reload", "restart ollama"]
        written = dropin.read_text()
        assert "# my own setting" in written
        for name, value in env.items():
            assert f"{name}={value}" in written
            assert _current(page)[name].startswith(f"{value} (override.conf)")
        assert "Applied to" in page.status.text() and page.undo_button.isEnabled()
        assert not page.apply_button.isEnabled()  # nothing left to change, and it says so
        assert "already runs with the recommended settings" in page.status.text()

        # Undo declined: nothing changes; accepted: the user's file is back, byte for byte
        answers = answer_dialogs(qtbot, "Cancel")
        qtbot.mouseClick(page.undo_button, Qt.MouseButton.LeftButton)
        assert not answers.errors and dropin.read_text() == written
        assert len(log.read_text().splitlines()) == 2
        answers = answer_dialogs(qtbot, "Undo and restart Ollama")
        qtbot.mouseClick(page.undo_button, Qt.MouseButton.LeftButton)
        assert not answers.errors, answers.errors
        qtbot.waitUntil(lambda: not page.busy, timeout=15000)
    assert dropin.read_text() == USER_DROPIN
    assert log.read_text().splitlines()[2:] == ["daemon-reload", "restart ollama"]
    assert _current(page)["OLLAMA_KEEP_ALIVE"].startswith("10m (override.conf)")
    assert page.apply_button.isEnabled() and not page.undo_button.isEnabled()


@pytest.mark.parametrize(
    ("unit", "processes", "url", "expected"),
    [
        # the API answers though no `ollama serve` is seen (a container): it runs (item 7)
        (False, [], None, "Ollama runs and answers at"),
        (False, [], "dead", "not installed"),
        (False, [ProcInfo(4242, "ollama", ("ollama", "serve"), "bash")], None, "started by hand"),
        (True, [], "http://ollama-box.invalid:11434", "runs on another machine"),
    ],
)
def test_nothing_offered_where_it_would_not_take_effect(
    qtbot, sandbox, unit, processes, url, expected
):
    root, dropin, log = sandbox
    if not unit:
        (root / "etc/systemd/system/ollama.service").unlink()
    if url == "dead":
        from velollm_desktop.core.llamacpp.server import free_port

        url = f"http://127.0.0.1:{free_port()}"
    with FakeOllama() as fake:
        page = _page(qtbot, url or fake.url, root, lambda: processes)
        _recommend(qtbot, page)
    assert page.state.recommendation.env and expected in page.status.text()
    if url is None:  # it answered: nothing may say it is not running or not installed
        assert "no running server" not in page.status.text()
        assert "not installed" not in page.status.text()
    assert not page.apply_button.isEnabled() and page.copy_button.isEnabled()
    assert expected in page.apply_button.toolTip()
    qtbot.mouseClick(page.copy_button, Qt.MouseButton.LeftButton)
    assert dropin.read_text() == USER_DROPIN and not log.exists()


def test_unset_values_name_the_default(qtbot, sandbox):
    root, dropin, _ = sandbox
    dropin.unlink()
    with FakeOllama() as fake:
        page = _page(qtbot, fake.url, root)
        _recommend(qtbot, page)
    assert _current(page)["OLLAMA_KEEP_ALIVE"] == "5m (default)"


def test_no_hardware_yet_is_explained(qtbot):
    page = OptimizePage(Settings.load(), lambda: None)
    qtbot.addWidget(page)
    qtbot.mouseClick(page.compute_button, Qt.MouseButton.LeftButton)
    assert "Hardware detection has not finished" in page.status.text()


def test_no_model_uses_the_tiers_and_a_picked_file_is_planned_for(qtbot, sandbox, smol_model):
    from tests.fakes import FIXTURES
    from tests.ui.dialogs import answer_file_dialog
    from velollm_desktop.core.llamacpp.server import free_port

    root, _, _ = sandbox
    page = _page(qtbot, f"http://127.0.0.1:{free_port()}", root)
    _recommend(qtbot, page)
    assert "comes from the hardware tiers" in page.status.text() and page.bars.count() == 0
    assert "--model-info" not in page.status.text()  # no CLI flag told to a GUI user
    for path, name in (
        (FIXTURES / "ollama_show" / "llama3.1-8b.json", "llama3.1-8b"),
        (smol_model, None),
    ):
        answers = answer_file_dialog(qtbot, str(path))
        qtbot.mouseClick(page.add_model_button, Qt.MouseButton.LeftButton)
        assert not answers.errors, answers.errors
        qtbot.waitUntil(lambda: not page.busy, timeout=15000)
        names = [page.bars.itemAt(i).widget().fit.name for i in range(page.bars.count())]
        assert (
            name or names[-1]
        ) in names and "comes from the hardware tiers" not in page.status.text()
    assert len(names) == 2
    answers = answer_file_dialog(qtbot, None)  # cancelled: nothing is added
    qtbot.mouseClick(page.add_model_button, Qt.MouseButton.LeftButton)
    assert not answers.errors and len(page.model_files) == 2
