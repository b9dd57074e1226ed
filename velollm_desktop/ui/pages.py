"""The dashboard's flow pages, built into the window on its first open (each page's module,
and pyqtgraph with it, is imported only then: see ui/app.py's module doc)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from velollm_desktop.core.settings import Settings

if TYPE_CHECKING:
    from velollm_desktop.core.bench.store import History
    from velollm_desktop.core.hardware import HardwareSpec
    from velollm_desktop.ui.benchmark_page import BenchmarkPage
    from velollm_desktop.ui.doctor_page import DoctorPage
    from velollm_desktop.ui.optimize_page import OptimizePage
    from velollm_desktop.ui.speculative_page import SpeculativePage
    from velollm_desktop.ui.tune_page import TunePage


@dataclass(frozen=True)
class Pages:
    benchmark: BenchmarkPage
    optimize: OptimizePage
    speculative: SpeculativePage
    tune: TunePage
    doctor: DoctorPage


def add_pages(
    window: Any,
    settings: Settings,
    history: History,
    hardware: Callable[[], HardwareSpec | None],
) -> Pages:
    """Benchmark, Optimize, Speculative, Tune and Doctor, added to `window` in that order;
    the Doctor's "open Optimize" switches to the Optimize tab."""
    from velollm_desktop.ui.benchmark_page import BenchmarkPage  # noqa: PLC0415 - lazy
    from velollm_desktop.ui.doctor_page import DoctorPage  # noqa: PLC0415
    from velollm_desktop.ui.optimize_page import OptimizePage  # noqa: PLC0415
    from velollm_desktop.ui.speculative_page import SpeculativePage  # noqa: PLC0415
    from velollm_desktop.ui.tune_page import TunePage  # noqa: PLC0415

    def ollama_url() -> str:
        return settings.get("ollama_url")

    pages = Pages(
        BenchmarkPage(settings, history, hardware),
        OptimizePage(settings, hardware),
        SpeculativePage(history),
        TunePage(hardware, ollama_url),
        DoctorPage(ollama_url, hardware, history),
    )
    for page, title in (
        (pages.benchmark, "Benchmark"),
        (pages.optimize, "Optimize"),
        (pages.speculative, "Speculative"),
        (pages.tune, "Tune"),
        (pages.doctor, "Doctor"),
    ):
        window.add_page(page, title)
    pages.doctor.open_optimize.connect(lambda: window.tabs.setCurrentWidget(pages.optimize))
    return pages
