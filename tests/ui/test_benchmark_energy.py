"""The Benchmark page's energy: the J/token column (n/a with the reason where none was read)
and the chart's metric choice, picked on the real combo box."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.core.energy.test_energy import CountingNvml
from tests.core.energy.test_energy_results import _result
from tests.fakes import FakePynvml
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.energy import EnergyMeter, discover
from velollm_desktop.core.energy.sources import NvmlEnergy
from velollm_desktop.core.hardware.nvidia import Nvml
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.benchmark_page import BenchmarkPage


def _bar_heights(page: BenchmarkPage) -> list[float]:
    return [float(h) for bar in page.chart.bars for h in bar.opts["height"]]


def test_energy_column_and_chart_metric(qtbot, tmp_path):
    history = History(tmp_path / "h.sqlite3")
    page = BenchmarkPage(Settings.load(), history)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    try:
        measured = _result(EnergyMeter([NvmlEnergy(0, Nvml(CountingNvml()))], interval_s=0.01))
        page.show_result(measured)
        e = measured.results[0].energy
        cell = page.table.item(0, 6)
        assert page.table.horizontalHeaderItem(6).text() == "Energy\n(J/token)"
        assert cell.text() == f"{e.j_per_generated_token:.3f}" and "(counter)" in cell.toolTip()
        assert _bar_heights(page) == [measured.results[0].decode_tokens_per_s.mean]
        page.chart_metric.setFocus()
        qtbot.keyClick(page.chart_metric, Qt.Key.Key_Down)  # the real combo: next metric
        assert page.chart_metric.currentData() == "energy"
        assert page.chart.getPlotItem().titleLabel.text == "Energy per generated token"
        assert _bar_heights(page) == [e.j_per_generated_token]
        none_here = EnergyMeter.here(
            discover(tmp_path, Nvml(FakePynvml(init_error=RuntimeError("no driver"))))
        )
        page.show_result(_result(none_here))
        assert page.table.item(0, 6).text() == "n/a"
        assert "powercap" in page.table.item(0, 6).toolTip()
        assert _bar_heights(page) == []  # nothing measured: no bar, not a zero
    finally:
        history.close()
