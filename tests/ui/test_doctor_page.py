"""The Doctor page: Check, read the findings, and each fix through the real dialog — declined
(nothing changed in Ollama) and accepted (unloaded / derived model created, then deleted)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.core.doctor.scenarios import GIB, gpu_machine, install, ps
from tests.ollama_fake import FakeOllama
from tests.ui.dialogs import answer_dialogs
from velollm_desktop.core.doctor import FixKind
from velollm_desktop.core.optimize.fit import use_projector
from velollm_desktop.ui.doctor_page import DoctorPage

HW = gpu_machine(12 * 1024, used_mib=int(8.1 * 1024))


def _page(qtbot, fake, hw=HW) -> DoctorPage:
    page = DoctorPage(lambda: fake.url, lambda: hw)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    qtbot.mouseClick(page.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.report is not None and page.worker is None, timeout=15000)
    return page


def _pick(qtbot, page: DoctorPage, kind: FixKind) -> None:
    page.table.selectRow(0)
    fixes = page.report.findings[0].fixes
    page.fixes.setCurrentRow(next(i for i, f in enumerate(fixes) if f.kind is kind))
    assert page.apply_button.isEnabled()


def _click(qtbot, button, answer: str):
    seen = answer_dialogs(qtbot, answer)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(seen.texts) or bool(seen.errors), timeout=5000)
    assert not seen.errors
    return seen


def test_unload_the_model_holding_vram_decline_then_accept(qtbot, monkeypatch):
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "f16")
    previous = use_projector(None)
    try:
        with FakeOllama() as fake:
            install(fake)
            fake.ps_models = [
                ps("llama3.1:8b", 9.0 * GIB, 5.0 * GIB, 32768),
                ps("llama3.2:1b", 2.5 * GIB, 2.5 * GIB, 4096, "sha256:bb"),
            ]
            page = _page(qtbot, fake)
            assert page.table.rowCount() >= 1
            assert page.table.item(0, 0).text() == "Problem: vram held"
            assert "llama3.2:1b holds 2.5 GiB" in page.table.item(0, 2).text()
            assert page.status.text().startswith("1 problem(s)")
            _pick(qtbot, page, FixKind.UNLOAD)
            seen = _click(qtbot, page.apply_button, "Cancel")
            assert "Unload llama3.2:1b" in seen.texts[0] and seen.buttons[0] == ["Unload", "Cancel"]
            assert len(fake.ps_models) == 2 and page.result.text() == "Nothing was changed."
            _click(qtbot, page.apply_button, "Unload")
            assert [m["name"] for m in fake.ps_models] == ["llama3.1:8b"]
            assert page.result.text().startswith("Unloaded llama3.2:1b")
    finally:
        use_projector(previous)


def test_a_smaller_context_as_a_derived_model_decline_accept_undo(qtbot, monkeypatch):
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "f16")
    previous = use_projector(None)
    try:
        with FakeOllama() as fake:
            install(fake)
            fake.ps_models = [ps("llama3.1:8b", 20 * GIB, 0, 131072)]
            page = _page(qtbot, fake, gpu_machine(8 * 1024, used_mib=300))
            _pick(qtbot, page, FixKind.DERIVED_MODEL)
            seen = _click(qtbot, page.apply_button, "Cancel")
            assert "llama3.1-velollm:8b from llama3.1:8b: num_ctx=" in seen.texts[0]
            assert fake.derived == {} and page.result.text() == "Nothing was created."
            _click(qtbot, page.apply_button, "Create models")
            [(name, params)] = fake.derived.items()
            assert name == "llama3.1-velollm:8b" and params["num_ctx"] < 131072
            _click(qtbot, page.undo_button, "Cancel")
            assert name in fake.derived and page.result.text() == "Nothing was deleted."
            _click(qtbot, page.undo_button, "Delete")
            assert fake.derived == {} and not page.undo_button.isEnabled()
    finally:
        use_projector(previous)


def test_server_settings_fix_opens_optimize_and_writes_nothing(qtbot, monkeypatch):
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "f16")
    previous = use_projector(None)
    try:
        with FakeOllama() as fake:
            install(fake)
            fake.ps_models = [ps("llama3.1:8b", 11 * GIB, 7 * GIB, 40960)]
            page = DoctorPage(lambda: fake.url, lambda: gpu_machine(10 * 1024, 7600))
            qtbot.addWidget(page)
            qtbot.mouseClick(page.check_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: page.report is not None and page.worker is None, timeout=15000)
            _pick(qtbot, page, FixKind.SERVER_SETTINGS)
            with qtbot.waitSignal(page.open_optimize, timeout=2000):
                qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
            assert "Optimize page" in page.result.text() and fake.service_restarts == []
    finally:
        use_projector(previous)


def test_a_typed_llama_server_is_checked_too(qtbot, llama_server):
    """A real llama-server on this CPU box with a machine profile that has a GPU: "no GPU used"."""
    page = DoctorPage(lambda: "http://127.0.0.1:9", lambda: gpu_machine(24 * 1024, 0))
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    qtbot.mouseClick(page.llama_servers, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.llama_servers, llama_server.url)
    qtbot.mouseClick(page.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.report is not None and page.worker is None, timeout=15000)
    assert page.table.item(0, 0).text() == "Problem: no gpu used"
    assert "uses next to no GPU" in page.table.item(0, 2).text()
    assert "Ollama at http://127.0.0.1:9" in page.status.text()  # not running: said, not fatal
    page.table.selectRow(0)
    assert page.fixes.count() == 1 and not page.apply_button.isEnabled()  # restart: by the user
