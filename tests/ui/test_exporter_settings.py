"""The tray app's /metrics endpoint, clicked on in Settings: served off the GUI thread, the
Monitor page's numbers, off again, a busy port said in one sentence, no thread left at quit."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QCheckBox

from tests.core.exporter.helpers import h100_sampler, samples
from velollm_desktop.core.llamacpp.server import free_port
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui import app as app_module

GIB = 1024**3


def _exporter_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("velollm-exporter")}


@pytest.fixture
def controller(qtbot):
    settings = Settings.load()
    settings.set("exporter_listen", f"127.0.0.1:{free_port()}")
    settings.set("ollama_url", "http://127.0.0.1:1")
    c = app_module.Controller(QApplication.instance(), settings, force_no_tray=True)
    qtbot.addWidget(c.window)
    c.window.resize(1400, 1400)
    c.window.show()
    c.window.tabs.setCurrentWidget(c.window.settings_page)
    yield c
    c.shutdown()
    c.window.close()
    assert not _exporter_threads()


def _click(qtbot, box: QCheckBox) -> None:
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def test_off_by_default_then_clicked_on_serves_the_monitor_numbers_then_off(controller, qtbot):
    page = controller.window.settings_page
    box = page.editors["exporter_enabled"]
    assert isinstance(box, QCheckBox) and not box.isChecked()
    qtbot.waitUntil(lambda: controller.sampler is not None, timeout=5000)
    assert controller.exporter.control is None and not _exporter_threads()  # off: nothing listens
    url = f"http://{controller.settings.get('exporter_listen')}/metrics"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, trust_env=False)

    _click(qtbot, box)
    assert Settings.load().get("exporter_enabled") is True
    qtbot.waitUntil(lambda: page.exporter_status.text() == f"Serving {url}", timeout=10000)
    controller.sampler.set_paused(True)  # only our recorded H100 sample from now on
    sample = h100_sampler().sample()
    controller._on_sample(sample)  # what the sampler's signal delivers to the GUI thread
    monitor = controller.window.monitor
    controller.window.tabs.setCurrentWidget(monitor)  # the page draws only while shown
    qtbot.waitUntil(lambda: monitor.title_of("GPU memory").startswith("GPU memory:"), timeout=5000)
    s = samples(httpx.get(url, trust_env=False).text)
    used = s["velollm_gpu_memory_used_bytes"][0][1]
    total = s["velollm_gpu_memory_total_bytes"][0][1]
    power = s["velollm_gpu_power_watts"][0][1]
    assert (
        monitor.title_of("GPU memory") == f"GPU memory: {used / GIB:.1f} of {total / GIB:.1f} GiB"
    )
    assert monitor.title_of("GPU power").startswith(f"GPU power: {power:.0f} W")
    ram_used = s["velollm_host_memory_used_bytes"][0][1]
    ram_total = s["velollm_host_memory_total_bytes"][0][1]
    assert monitor.title_of("RAM").startswith(
        f"RAM: {ram_used / GIB:.1f} of {ram_total / GIB:.1f} GiB"
    )
    assert monitor.title_of("CPU").startswith(
        f"CPU: {100 * s['velollm_host_cpu_utilization_ratio'][0][1]:.0f} %"
    )
    assert s["velollm_host_sample_timestamp_seconds"][0][1] == sample.wall_time_s
    assert s["velollm_ollama_up"][0][1] == 0.0  # nothing at http://127.0.0.1:1

    controller.window.tabs.setCurrentWidget(page)
    _click(qtbot, box)
    qtbot.waitUntil(lambda: page.exporter_status.text() == "Off", timeout=10000)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, trust_env=False)
    assert _exporter_threads() == {"velollm-exporter-control"}  # the controller's, until quit


def test_busy_port_and_bad_address_are_one_sentence(controller, qtbot):
    page = controller.window.settings_page
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        listen = page.editors["exporter_listen"]
        listen.setText(f"127.0.0.1:{port}")
        listen.editingFinished.emit()
        _click(qtbot, page.editors["exporter_enabled"])
        qtbot.waitUntil(
            lambda: page.exporter_status.text().startswith("Not serving"), timeout=10000
        )
        assert f"cannot listen on 127.0.0.1:{port}" in page.exporter_status.text()
    listen.setText("0.0.0.0:9877")
    listen.editingFinished.emit()
    assert (
        "Not saved" in page.exporter_status.text()
        and "tick “Allow an exporter address" in page.exporter_status.text()
    )
    assert Settings.load().get("exporter_listen") == f"127.0.0.1:{port}"


def test_quit_while_serving_leaves_no_thread(controller, qtbot):
    page = controller.window.settings_page
    _click(qtbot, page.editors["exporter_enabled"])
    qtbot.waitUntil(lambda: page.exporter_status.text().startswith("Serving"), timeout=10000)
    assert "velollm-exporter-http" in _exporter_threads()
    url = controller.exporter.control.url
    controller.shutdown()
    assert not _exporter_threads()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, trust_env=False)


def test_fleet_page_shows_an_exporter_with_its_model_rows(qtbot):
    from tests.core.exporter.helpers import ps_model
    from tests.ollama_fake import FakeOllama
    from velollm_desktop.core.exporter.listen import ListenAddress
    from velollm_desktop.core.exporter.server import Exporter
    from velollm_desktop.core.monitor.history import SampleHistory
    from velollm_desktop.ui.main_window import MainWindow

    window = MainWindow(Settings.load(), SampleHistory(), has_tray=False)
    qtbot.addWidget(window)
    window.show()
    with FakeOllama() as fake:
        fake.ps_models = [ps_model("llama3.3:70b", 44 * GIB, 30 * GIB)]
        exporter = Exporter(
            ListenAddress("127.0.0.1", 0),
            ollama_url=fake.url,
            history_path=None,
            sampler=h100_sampler(),
            period_s=0.3,
        )
        exporter.start()
        try:
            qtbot.waitUntil(
                lambda: exporter.state.ollama is not None and exporter.state.system is not None
            )
            window.tabs.setCurrentWidget(window.settings_page)
            editor = window.settings_page.editors["fleet_targets"]
            qtbot.keyClicks(editor, exporter.url.removesuffix("/metrics"))
            qtbot.keyClick(editor, Qt.Key.Key_Return)
            page = window.fleet
            try:
                qtbot.waitUntil(
                    lambda: (
                        "localhost" in page.rows
                        and "model" in page.rows["localhost"].details.text()
                    ),
                    timeout=10_000,
                )
            except qtbot.TimeoutError:
                raise AssertionError(
                    f"{list(page.rows)} {page.status.text()} "
                    f"{[(r.details.text(), r.reason.text()) for r in page.rows.values()]}"
                ) from None
            text = page.rows["localhost"].details.text()
            assert text.startswith(f"velollm {exporter.url.removesuffix('/metrics')}")
            assert "GPU 0 NVIDIA H100 80GB HBM3 0 % 0.5/79.6 GiB 38 °C" in text
            assert "model llama3.3:70b · gpu+cpu · VRAM 30.0 GiB · RAM 14.0 GiB · ctx 4096" in text
            assert "SPILLS to RAM" in text and page.rows["localhost"].badge.text() == "OK"
        finally:
            window.fleet.shutdown()
            assert exporter.stop(10.0)


def test_service_button_asks_first_decline_changes_nothing_accept_installs_and_removes(
    qtbot, monkeypatch
):
    import subprocess

    from tests.ui.dialogs import answer_dialogs
    from velollm_desktop.core.exporter import service
    from velollm_desktop.ui.settings_page import SettingsPage

    calls: list[tuple[str, ...]] = []

    def runner(argv):
        calls.append(tuple(argv))
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(service, "run_command", runner)
    page = SettingsPage(Settings.load())
    qtbot.addWidget(page)
    page.show()
    button = page.service_button
    unit, journal = service.unit_path(), service.journal_path()
    assert button.text() == "Run as a user service (systemd)…"

    seen = answer_dialogs(qtbot, "Cancel")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not seen.errors and f"write {unit}" in seen.texts[0]
    assert "systemctl --user enable --now velollm-exporter.service" in seen.texts[0]
    assert seen.buttons[0] == ["Install and start", "Cancel"]
    assert page.exporter_status.text() == "Nothing changed."
    assert not unit.exists() and not journal.exists() and calls == []

    seen = answer_dialogs(qtbot, "Install and start")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.exporter_status.text().startswith("Done"), timeout=10_000)
    assert unit.exists() and '"--listen" "127.0.0.1:9877"' in unit.read_text()
    assert calls[-1] == ("systemctl", "--user", "enable", "--now", service.UNIT_NAME)
    assert button.text() == "Remove the user service…" and button.isEnabled()

    seen = answer_dialogs(qtbot, "Cancel")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert page.exporter_status.text() == "Nothing changed." and unit.exists() and len(calls) == 2

    seen = answer_dialogs(qtbot, "Remove")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.exporter_status.text().startswith("Done"), timeout=10_000)
    assert not unit.exists() and not journal.exists()
    assert calls[2] == ("systemctl", "--user", "disable", "--now", service.UNIT_NAME)
    assert button.text() == "Run as a user service (systemd)…"


def test_service_button_refuses_a_remote_address_without_a_dialog(qtbot):
    from velollm_desktop.core.exporter import service
    from velollm_desktop.ui.settings_page import SettingsPage

    settings = Settings.load()
    settings.set("exporter_listen", "0.0.0.0:9877")  # saved by hand, permission not given
    page = SettingsPage(settings)
    qtbot.addWidget(page)
    qtbot.mouseClick(page.service_button, Qt.MouseButton.LeftButton)
    assert (
        page.exporter_status.text().startswith("Not installed:")
        and "tick “Allow an exporter address" in page.exporter_status.text()
    )
    assert not service.unit_path().exists()
