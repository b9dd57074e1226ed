"""Dashboard, tray menu, sampler worker and the no-tray fallback (offscreen Qt)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.fakes import FakePynvml
from tests.ollama_fake import MODEL, FakeOllama, expires_in
from velollm_desktop.core.hardware.model import (
    CpuInfo,
    GpuInfo,
    GpuVendor,
    HardwareSpec,
    MemoryInfo,
)
from velollm_desktop.core.hardware.nvidia import Nvml
from velollm_desktop.core.monitor.history import SampleHistory
from velollm_desktop.core.monitor.sampler import GpuSample, Sampler, SystemSample
from velollm_desktop.core.monitor.text import tooltip_text
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.models import LoadedModel
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.app import Controller
from velollm_desktop.ui.icons import draw_tray_pixmap, tray_levels, waiting_icon
from velollm_desktop.ui.monitor_page import NO_GPU_TEXT, MonitorPage
from velollm_desktop.ui.startup import NO_TRAY_HINT
from velollm_desktop.ui.tray import Tray
from velollm_desktop.workers.monitor import SamplerWorker


def _sample(t: float, util: float | None = 50.0) -> SystemSample:
    gpu = GpuSample(0, "H100", util, 1000, 81559, 40.0, 100.0)
    return SystemSample(t, t, 20.0, (20.0, 20.0), 1000, 4000, 0, (gpu,))


def _cpu_only(t: float, cpu: float = 35.0, ram_mib: int = 6144) -> SystemSample:
    return SystemSample(t, t, cpu, (cpu, cpu), ram_mib, 16384, 0, ())


SPEC = HardwareSpec(
    gpus=(),
    cpu=CpuInfo("Test CPU", 2, 2),
    memory=MemoryInfo(total_mib=16384, available_mib=12000, used_mib=4384),
    os="Linux",
    os_version="6.1",
    arch="x86_64",
)


def test_monitor_page_plots_samples(qtbot):
    history = SampleHistory()
    page = MonitorPage(history)
    qtbot.addWidget(page)
    page.show()
    for t in range(5):
        history.add(_sample(float(t), util=10.0 * t))
    page.mark_dirty()
    page.redraw()
    xs, ys = page._gpu_curves["GPU load"][0].getData()
    assert list(ys) == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert list(xs) == [-4.0, -3.0, -2.0, -1.0, 0.0]
    cx, cy = page._cpu_curve.getData()
    assert list(cy) == [20.0] * 5
    assert not page.no_gpu_label.isVisible()


def test_monitor_page_does_not_redraw_when_hidden(qtbot):
    history = SampleHistory()
    page = MonitorPage(history)
    qtbot.addWidget(page)
    history.add(_sample(0.0))
    page.mark_dirty()
    page.redraw()  # hidden: nothing drawn, still dirty
    assert page._cpu_curve.getData()[0] is None
    assert page._dirty


def test_monitor_without_gpu_shows_cpu_and_ram_larger_with_numbers(qtbot):
    history = SampleHistory()
    page = MonitorPage(history)
    qtbot.addWidget(page)
    page.resize(900, 700)
    page.show()
    for t in range(5):
        history.add(_cpu_only(float(t), cpu=10.0 + 10 * t))
    page.mark_dirty()
    qtbot.waitUntil(lambda: "CPU:" in page.title_of("CPU"), timeout=3000)  # the redraw timer
    assert page.no_gpu_label.isVisible() and page.no_gpu_label.text() == NO_GPU_TEXT
    assert not any(page.plots[t].isVisible() for t in ("GPU load", "GPU memory", "GPU power"))
    assert page.plots["CPU"].isVisible() and page.plots["RAM"].isVisible()
    assert page.plots["CPU"].height() >= 220 and page.plots["RAM"].height() >= 220
    assert page.title_of("CPU") == "CPU: 50 % (peak 50 %)"
    assert page.title_of("RAM") == "RAM: 6.0 of 16.0 GiB (38 %)"
    low, high = page.plots["RAM"].getViewBox().viewRange()[1]
    assert low <= 0 and 16.0 <= high < 17.0  # 0 … total, so 20 MiB never looks like a cliff


def test_monitor_with_gpu_shows_values_and_vram_axis_to_total(qtbot):
    history = SampleHistory()
    page = MonitorPage(history)
    qtbot.addWidget(page)
    page.show()
    history.add(_sample(0.0, util=73.0))
    page.mark_dirty()
    qtbot.waitUntil(lambda: "GPU load:" in page.title_of("GPU load"), timeout=3000)
    assert not page.no_gpu_label.isVisible()
    assert page.title_of("GPU load") == "GPU load: 73 % (peak 73 %)"
    assert page.title_of("GPU memory") == "GPU memory: 1.0 of 79.6 GiB"
    assert page.title_of("GPU power") == "GPU power: 100 W"  # no limit known yet
    page.set_hardware(
        HardwareSpec(
            (GpuInfo(GpuVendor.NVIDIA, "H100", 0, 81559, power_limit_w=700.0),),
            SPEC.cpu,
            SPEC.memory,
            "Linux",
            "6.1",
            "x86_64",
        )
    )
    history.add(_sample(1.0, util=20.0))
    page.mark_dirty()
    qtbot.waitUntil(lambda: page.title_of("GPU power") == "GPU power: 100 W of 700 W", timeout=3000)
    assert page.title_of("GPU load") == "GPU load: 20 % (peak 73 %)"
    assert 79.6 <= page.plots["GPU memory"].getViewBox().viewRange()[1][1] < 82.0


def test_hardware_header_memory_line_is_live(qtbot):
    history = SampleHistory()
    page = MonitorPage(history)
    qtbot.addWidget(page)
    page.show()
    page.set_hardware(SPEC)

    def shown() -> str:  # numbers and units are glued with a no-break space (never wrap apart)
        return page.hardware_label.text().replace("\u00a0", " ")

    assert "4384 MiB used" in shown()
    history.add(_cpu_only(0.0, ram_mib=5000))
    page.mark_dirty()
    qtbot.waitUntil(lambda: "5000 MiB used" in shown(), timeout=3000)
    assert "11384 MiB available" in shown()


def test_ollama_panel(qtbot):
    page = MonitorPage(SampleHistory())
    qtbot.addWidget(page)
    page.set_loaded_models(
        [
            LoadedModel("qwen3:8b", 6 * 1024**3, 6 * 1024**3, 32768, expires_in(4 * 60 + 5)),
            LoadedModel("smol", 150_000_000, 0, 4096, "2318-01-01T00:00:00Z"),
        ]
    )
    table = page.ollama_table
    assert table.rowCount() == 2
    row = [table.item(0, c).text() for c in range(5)]
    assert row == ["qwen3:8b", "6.0 GiB", "on GPU", "32768", "Unloads in 4 min"]
    assert [table.item(1, c).text() for c in (1, 2, 4)] == ["0.1 GiB", "on CPU", "Stays loaded"]
    assert page.unload_button(0).text() == "Unload"
    page.set_ollama_unavailable("Ollama is not running at http://127.0.0.1:11434")
    assert page.ollama_table.rowCount() == 0
    assert "not running" in page.ollama_status.text()


def test_unload_button_unloads_the_model_in_ollama(qtbot):
    with FakeOllama() as fake:
        fake.loaded[MODEL] = time.time() + 270
        page = MonitorPage(SampleHistory(), ollama_url=lambda: fake.url)
        qtbot.addWidget(page)
        page.show()
        with OllamaClient(fake.url) as client:
            page.set_loaded_models(client.loaded_models())
        assert page.ollama_table.item(0, 0).text() == MODEL
        assert page.ollama_table.item(0, 4).text() == "Unloads in 4 min"
        # the table uses its width: the name column takes what the short columns leave
        table = page.ollama_table
        widths = [table.columnWidth(c) for c in range(table.columnCount())]
        assert sum(widths) >= table.viewport().width() - 2  # no empty third on the right
        qtbot.mouseClick(page.unload_button(0), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: page.ollama_status.text().startswith(f"Unloaded {MODEL}."), timeout=5000
        )
        assert MODEL not in fake.loaded
        sent = [b for m, path, b in fake.requests if path == "/api/generate"]
        assert sent and sent[-1].get("keep_alive") == 0
        assert page.join(5.0)
        # the row goes at once (not at the next poll), and the status says what is left
        assert table.rowCount() == 0 and "no model loaded" in page.ollama_status.text()


def test_unload_failure_is_reported_not_raised(qtbot):
    with FakeOllama() as fake:
        url = fake.url
    page = MonitorPage(SampleHistory(), ollama_url=lambda: url)  # nobody listens there now
    qtbot.addWidget(page)
    page.show()
    page.set_loaded_models([LoadedModel("gone", 1024**3, 0, None, None)])
    qtbot.mouseClick(page.unload_button(0), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Could not unload gone" in page.ollama_status.text(), timeout=8000)
    assert page.join(5.0)


def test_tray_tooltip_names_the_bars(qtbot):
    text = tooltip_text(_sample(0.0), [])
    assert "GPU load · VRAM · CPU" in text
    no_gpu = tooltip_text(_cpu_only(0.0), None)
    assert "GPU load (n/a: no GPU) · RAM · CPU" in no_gpu
    assert "RAM 6.0/16.0 GiB" in no_gpu
    tray = Tray()
    tray.update_sample(_cpu_only(0.0))
    tray._refresh()
    assert tray.icon.toolTip() == tooltip_text(_cpu_only(0.0), None)


def test_tray_icon_pixels_and_levels(qtbot):
    img = draw_tray_pixmap((95.0, 50.0, 10.0), size=64).toImage()
    # GPU bar nearly full and red (≥ 90 %), CPU bar low: its top is the dark well
    top_left = img.pixelColor(10, 12)
    assert top_left.red() > 200 and top_left.green() < 100
    assert img.pixelColor(53, 12).red() < 60
    assert tray_levels(_sample(0.0, util=None))[0] is None
    assert tray_levels(None) == (None, 0.0, 0.0)


def test_tray_no_gpu_bar_is_not_an_empty_zero_bar(qtbot):
    """n/a (no GPU) must not look like the dark, empty well of a 0 % bar."""
    na = draw_tray_pixmap((None, 50.0, 10.0), size=64).toImage()
    zero = draw_tray_pixmap((0.0, 50.0, 10.0), size=64).toImage()

    def dark_share(img, x0, x1):
        dark = total = 0
        for x in range(x0, x1):
            for y in range(6, 58):
                c = img.pixelColor(x, y)
                total += 1
                dark += c.alpha() > 200 and max(c.red(), c.green(), c.blue()) < 60
        return dark / total

    assert dark_share(zero, 6, 20) > 0.6  # a 0 % bar: mostly dark well
    assert dark_share(na, 6, 20) < 0.05  # n/a: a grey crossed-out slot, no dark well
    assert na.pixelColor(13, 32).red() > 100  # the cross goes through the middle


def test_tray_shows_shipped_icon_until_first_sample_then_live_bars(qtbot):
    def image(icon):
        return icon.pixmap(64, 64).toImage()

    tray = Tray()
    assert image(tray.icon.icon()) == image(waiting_icon())
    tray.update_sample(_sample(0.0, util=95.0))
    tray._refresh()
    live = image(tray.icon.icon())
    assert live != image(waiting_icon())
    assert live == draw_tray_pixmap(tray_levels(_sample(0.0, util=95.0))).toImage()


def test_tray_menu_rebuilt_and_actions(qtbot):
    tray = Tray()
    tray.capabilities = {}
    tray.menu.aboutToShow.emit()
    texts = [a.text() for a in tray.menu.actions() if a.text()]
    assert texts == ["Open dashboard", "Pause monitoring", "Start at login", "Quit"]
    with qtbot.waitSignal(tray.pause_toggled, timeout=1000) as blocker:
        next(a for a in tray.menu.actions() if a.text() == "Pause monitoring").trigger()
    assert blocker.args == [True] and tray.paused
    tray.capabilities = {"quick_benchmark": "Run quick benchmark"}
    tray.menu.aboutToShow.emit()
    with qtbot.waitSignal(tray.action_requested, timeout=1000) as blocker:
        next(a for a in tray.menu.actions() if a.text() == "Run quick benchmark").trigger()
    assert blocker.args == ["quick_benchmark"]
    with qtbot.waitSignal(tray.quit_requested, timeout=1000):
        tray.menu.actions()[-1].trigger()


def test_sampler_worker_emits_and_survives_gpu_loss(qtbot):
    fake = FakePynvml(lose_gpu_after=3)
    worker = SamplerWorker(0.1, sampler_factory=lambda: Sampler(nvml=Nvml(fake), sysfs_gpus=[]))
    got: list[SystemSample] = []
    worker.sampled.connect(got.append)
    worker.start()
    try:
        qtbot.waitUntil(lambda: len(got) >= 6, timeout=3000)
    finally:
        worker.stop()
        assert worker.join(2.0)
    assert got[0].gpus[0].vram_total_mib == 81559
    assert got[-1].gpus[0].vram_total_mib is None  # lost mid-run → None, sampling went on


def test_no_tray_fallback_shows_window_and_hint_once(qtbot):
    app = QApplication.instance()
    settings = Settings.load()
    controller = Controller(app, settings, force_no_tray=True)
    qtbot.addWidget(controller.window)  # pytest-qt deletes it in order (no stray GC of plot items)
    try:
        assert controller.window.isVisible()
        assert controller.window.banner.text().endswith(NO_TRAY_HINT)
        with qtbot.waitSignal(controller.ready, timeout=5000):
            pass
        qtbot.waitUntil(
            lambda: "CPU" in controller.window.monitor.hardware_label.text(), timeout=5000
        )
        qtbot.waitUntil(
            lambda: (
                "Ollama" in controller.window.monitor.ollama_status.text()
                and "checking" not in controller.window.monitor.ollama_status.text()
            ),
            timeout=8000,
        )
    finally:
        controller.shutdown()
        controller.window.close()
    assert Settings.load().get("tray_hint_shown") is True
    second = Controller(app, Settings.load(), force_no_tray=True)
    qtbot.addWidget(second.window)
    try:
        assert not second.window.banner.isVisible()
    finally:
        second.shutdown()
        second.window.close()


def test_quit_before_the_event_loop_starts_nothing_late(qtbot):
    """shutdown() right after construction: the deferred start must not run afterwards."""
    import threading

    before = {t.name for t in threading.enumerate()}
    controller = Controller(QApplication.instance(), Settings.load(), force_no_tray=True)
    qtbot.addWidget(controller.window)
    controller.shutdown()
    qtbot.wait(300)  # let the deferred start fire, if it (wrongly) still would
    assert controller.poller is None
    late = {t.name for t in threading.enumerate()} - before
    assert not any(n.startswith("velollm-") for n in late), late
    controller.window.close()


def test_tray_tune_entry_opens_the_tune_page_on_ollama(qtbot):
    controller = Controller(QApplication.instance(), Settings.load(), force_no_tray=True)
    qtbot.addWidget(controller.window)
    try:
        assert controller.window.tabs.currentWidget() is not controller.tune_page
        controller._on_tray_action("tune")
        assert controller.window.tabs.currentWidget() is controller.tune_page
        assert controller.tune_page.target_key == "ollama" and controller.tune_page.worker is None
    finally:
        controller.shutdown()


def test_first_start_with_a_tray_opens_the_dashboard_once_with_a_welcome(qtbot, monkeypatch):
    """Issue 27 item 16: the first start shows the window (a 22 px tray icon alone is easy to
    miss) with what the app does and where its icon lives; the next start does not."""
    from PySide6.QtWidgets import QSystemTrayIcon

    from velollm_desktop.ui.startup import WELCOME_TEXT

    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    app = QApplication.instance()
    first = Controller(app, Settings.load())
    try:
        assert first.tray is not None and first.window_built
        qtbot.addWidget(first.window)
        assert first.window.isVisible() and first.window.banner.text() == WELCOME_TEXT
        assert "tray" in WELCOME_TEXT and "right-click" in WELCOME_TEXT
    finally:
        first.shutdown()
        first.tray.hide()
    assert Settings.load().get("welcome_shown") is True
    second = Controller(app, Settings.load())
    try:
        assert not second.window_built  # tray only, as every later start
    finally:
        second.shutdown()
        second.tray.hide()
