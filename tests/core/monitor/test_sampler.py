"""Sampler, drift-free loop, history and tooltip text."""

from __future__ import annotations

import threading
import time

import psutil

from tests.fakes import FakePynvml
from velollm_desktop.core.hardware.nvidia import Nvml
from velollm_desktop.core.monitor.history import SampleHistory
from velollm_desktop.core.monitor.sampler import (
    GpuSample,
    SampleLoop,
    Sampler,
    SystemSample,
    clamp_interval,
)
from velollm_desktop.core.monitor.text import tooltip_text
from velollm_desktop.core.ollama.models import LoadedModel


def _sample(t: float, cpu: float = 10.0, gpus=()) -> SystemSample:
    return SystemSample(t, t, cpu, (cpu,), 1000, 4000, 0, tuple(gpus))


def test_sample_has_cpu_ram_and_recorded_gpu():
    s = Sampler(nvml=Nvml(FakePynvml()), sysfs_gpus=[]).sample()
    assert 0.0 <= s.cpu_pct <= 100.0
    assert len(s.per_core_pct) == psutil.cpu_count()
    assert s.ram_total_mib == psutil.virtual_memory().total // (1024 * 1024)
    (gpu,) = s.gpus
    assert (
        gpu.name == "NVIDIA H100 80GB HBM3" and gpu.vram_total_mib == 81559 and gpu.power_w == 72.12
    )


def test_gpu_lost_mid_run_gives_none_and_sampling_goes_on():
    fake = FakePynvml()
    sampler = Sampler(nvml=Nvml(fake), sysfs_gpus=[])
    assert sampler.sample().gpus[0].utilization_pct == 0.0
    fake.lose_gpu_after = 0  # the GPU falls off the bus
    s = sampler.sample()
    assert s.gpus[0].utilization_pct is None and s.gpus[0].vram_used_mib is None
    assert s.ram_total_mib > 0  # the rest of the sample is intact


def test_no_nvml_means_no_gpus():
    from tests.fakes import NVMLError

    s = Sampler(
        nvml=Nvml(FakePynvml(init_error=NVMLError("Driver Not Loaded"))), sysfs_gpus=[]
    ).sample()
    assert s.gpus == ()


class _SlowSampler:
    """Takes 30 ms per sample: a drifting loop (sleep interval after work) would lose time."""

    def __init__(self):
        self.times: list[float] = []

    def sample(self):
        self.times.append(time.monotonic())
        time.sleep(0.03)
        return _sample(self.times[-1])


def test_loop_runs_on_a_fixed_schedule_without_drift():
    slow = _SlowSampler()
    got: list[SystemSample] = []
    loop = SampleLoop(slow, got.append, interval_s=0.1)  # type: ignore[arg-type]
    th = threading.Thread(target=loop.run)
    th.start()
    time.sleep(1.05)
    loop.stop()
    th.join(2)
    assert not th.is_alive()
    # 0.0, 0.1, … 1.0 → 11 ticks; a loop that drifted by 30 ms a tick would manage ~8
    assert len(slow.times) >= 10
    offsets = [t - slow.times[0] for t in slow.times]
    for n, off in enumerate(offsets):
        assert abs(off - n * 0.1) < 0.05, offsets


def test_loop_survives_a_failing_tick():
    calls = {"n": 0}
    errors = []

    class Flaky:
        def sample(self):
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("boom")
            return _sample(time.monotonic())

    got = []
    loop = SampleLoop(Flaky(), got.append, 0.1, on_error=errors.append)  # type: ignore[arg-type]
    th = threading.Thread(target=loop.run)
    th.start()
    time.sleep(0.45)
    loop.stop()
    th.join(2)
    assert len(errors) == 1 and len(got) >= 3


def test_interval_bounds():
    assert clamp_interval(0.01) == 0.1  # 10 Hz max
    assert clamp_interval(100) == 4.0  # 0.25 Hz min
    assert clamp_interval(1) == 1.0


def test_history_window_and_gaps():
    h = SampleHistory(max_age_s=10)
    gpu_ok = GpuSample(0, "g", 50.0, 100, 1000, 40.0, 100.0)
    gpu_na = GpuSample(0, "g", None, None, 1000, None, None)
    for t in range(20):
        h.add(_sample(float(t), cpu=t, gpus=(gpu_na if t == 18 else gpu_ok,)))
    assert len(h) == 11  # 9..19 kept
    xs, ys = h.series(lambda s: s.cpu_pct, window_s=5)
    assert xs == [-5.0, -4.0, -3.0, -2.0, -1.0, 0.0] and ys == [14.0, 15.0, 16.0, 17.0, 18.0, 19.0]
    gx, gy = h.gpu_series(0, lambda g: g.utilization_pct, window_s=5)
    assert -1.0 not in gx and len(gy) == 5  # the n/a sample is a gap, not a zero
    assert h.gpu_series(3, lambda g: g.power_w, 5) == ([], [])


def test_tooltip_text():
    gpu = GpuSample(0, "H100", 99.0, 1874, 81559, 57.0, 683.6)
    s = _sample(0.0, 12.0, (gpu,))
    model = LoadedModel("llama3.2:3b", 4 * 1024**3, 2 * 1024**3, 8192, None)
    text = tooltip_text(s, [model])
    assert "GPU0 load 99 %" in text and "1874/81559 MiB" in text and "57 °C" in text
    assert text.endswith("llama3.2:3b: 4.0 GiB, 50 % CPU / 50 % GPU, ctx 8192")
    assert "Ollama: not running" in tooltip_text(s, None)
    assert "Waiting" in tooltip_text(None, None)
    na = GpuSample(0, "x", None, None, None, None, None)
    assert "GPU0 load n/a" in tooltip_text(_sample(0.0, gpus=(na,)), [])
