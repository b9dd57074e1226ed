"""The tray's spill alert through the app's real wiring: the Ollama poller reads the stand-in's
/api/ps, a model spilling is notified once per load, and the setting turns it off."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from tests.core.doctor.scenarios import GIB, gpu_machine, install, ps
from tests.ollama_fake import FakeOllama
from velollm_desktop.core.settings import Settings


def test_spill_notified_once_per_load_and_the_setting_silences_it(qtbot, monkeypatch):
    import velollm_desktop.core.hardware as hw_module
    from velollm_desktop.ui import app as app_module

    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    monkeypatch.setattr(hw_module, "detect_hardware", lambda: gpu_machine(8 * 1024, 300))
    with FakeOllama() as fake:
        install(fake)
        fake.ps_models = [ps("llama3.1:8b", 9 * GIB, 4 * GIB, 32768)]
        settings = Settings.load()
        assert settings.get("doctor_spill_alerts") is True  # on by default
        settings.set("ollama_url", fake.url)
        settings.set("ollama_poll_s", 1.0)
        settings.save()
        controller = app_module.Controller(QApplication.instance(), Settings.load())
        shown: list[tuple[str, str]] = []
        try:
            assert controller.tray is not None
            monkeypatch.setattr(controller.tray, "notify", lambda t, x: shown.append((t, x)))
            qtbot.waitUntil(lambda: bool(shown), timeout=15_000)
            assert shown[0][0] == "A model runs partly on the CPU"
            assert "llama3.1:8b: 56 % CPU / 44 % GPU" in shown[0][1]
            polls = len([r for r in fake.requests if r[1] == "/api/ps"])
            qtbot.waitUntil(
                lambda: len([r for r in fake.requests if r[1] == "/api/ps"]) >= polls + 2,
                timeout=15_000,
            )
            assert len(shown) == 1  # the same load: never again
            controller.settings.set("doctor_spill_alerts", False)
            fake.ps_models = []  # unloaded…
            qtbot.waitUntil(lambda: controller._models == [], timeout=15_000)
            fake.ps_models = [ps("llama3.1:8b", 9 * GIB, 4 * GIB, 32768)]  # …and loaded again
            qtbot.waitUntil(lambda: bool(controller._models), timeout=15_000)
            assert len(shown) == 1  # alerts off
        finally:
            controller.shutdown()
