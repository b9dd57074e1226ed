"""The Optimize page's per-model models: shown with the reason; Create (decline / accept on the
real dialog), never over a user's model; Delete them (decline / accept)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ollama_fake import MODEL, FakeOllama
from tests.ui.dialogs import answer_dialogs
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.optimize_page import OptimizePage

DERIVED = "smollm2-velollm:135m"


def test_per_model_models_decline_accept_undo(qtbot):
    settings = Settings.load()
    hw = detect_hardware()
    with FakeOllama() as fake:
        settings.set("ollama_url", fake.url)
        page = OptimizePage(settings, lambda: hw)
        qtbot.addWidget(page)
        page.show()
        qtbot.waitExposed(page)
        qtbot.mouseClick(page.compute_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.state is not None, timeout=10000)
        panel = page.per_model
        options = page.state.recommendation.per_model[MODEL]
        assert panel.table.rowCount() == 1 and panel.table.item(0, 1).text() == DERIVED
        assert panel.table.item(0, 2).text() == " ".join(
            f"{k}={v}" for k, v in sorted(options.items())
        )
        assert panel.table.item(0, 3).text()  # the reason is shown
        seen = answer_dialogs(qtbot, "Cancel")
        qtbot.mouseClick(panel.create_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(seen.texts), timeout=5000)
        assert not seen.errors and seen.buttons[0] == ["Create models", "Cancel"]
        assert DERIVED in seen.texts[0] and fake.derived == {}
        assert panel.status.text() == "Nothing was created."
        fake.derived[DERIVED] = {"num_ctx": 1}  # the user's own model of that name
        seen = answer_dialogs(qtbot, "Create models")
        qtbot.mouseClick(panel.create_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(seen.texts), timeout=5000)
        assert (
            fake.derived[DERIVED] == {"num_ctx": 1} and "did not create it" in panel.status.text()
        )
        del fake.derived[DERIVED]
        seen = answer_dialogs(qtbot, "Create models")
        qtbot.mouseClick(panel.create_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(seen.texts), timeout=5000)
        assert fake.derived == {DERIVED: options} and panel.undo_button.isEnabled()
        seen = answer_dialogs(qtbot, "Cancel")
        qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(seen.texts), timeout=5000)
        assert DERIVED in seen.texts[0] and not seen.errors
        assert fake.derived == {DERIVED: options} and panel.status.text() == "Nothing was deleted."
        seen = answer_dialogs(qtbot, "Delete")
        qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(seen.texts), timeout=5000)
        assert fake.derived == {} and panel.status.text() == f"Deleted {DERIVED}."
