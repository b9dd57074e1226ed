"""Energy per token from recorded readings: NVML (the H100's recorded power), amdgpu hwmon and
RAPL sysfs trees, impossible readings, the per-token figures, the exported form."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes import FIXTURES, FakePynvml, NVMLError_NotSupported
from velollm_desktop.core.energy import EnergyMeter, discover, reading_from_json, with_tokens
from velollm_desktop.core.energy.meter import counter_delta
from velollm_desktop.core.energy.model import MAX_W, format_j_per_token
from velollm_desktop.core.energy.sources import (
    HwmonEnergy,
    NvmlEnergy,
    PowerOnly,
    RaplEnergy,
    read_number,
)
from velollm_desktop.core.hardware.nvidia import Nvml

H100 = json.loads((FIXTURES / "h100" / "nvml.json").read_text())
H100_W = H100["gpus"][0]["sample"]["power_mw"] / 1000  # 72.12 W, recorded idle


class CountingNvml(FakePynvml):
    """The recorded H100 plus an energy counter that advances at the recorded power (mJ)."""

    def __init__(self, *, counter: bool = True, power_mw: int | None = None, **kw) -> None:
        super().__init__(**kw)
        self.counter = counter
        self.power_mw = power_mw
        self.t0 = time.monotonic()
        self.base_mj = 123_456_789  # since the driver loaded

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        return self.power_mw if self.power_mw is not None else super().nvmlDeviceGetPowerUsage(h)

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
        if not self.counter:
            raise NVMLError_NotSupported("Not Supported")
        watts = (self.power_mw or H100["gpus"][0]["sample"]["power_mw"]) / 1000
        return int(self.base_mj + (time.monotonic() - self.t0) * watts * 1000)


def _measure(meter: EnergyMeter, seconds: float = 0.35):
    with meter.window(idle_w=70.0) as w:
        time.sleep(seconds)
    return w.reading


def test_nvml_counter_is_used_and_agrees_with_the_integrated_power():
    meter = EnergyMeter([NvmlEnergy(0, Nvml(CountingNvml()))], interval_s=0.02)
    r = _measure(meter)
    assert r.method == "counter"
    assert r.energy_j == pytest.approx(H100_W * r.duration_s, rel=0.02)
    assert r.integrated_energy_j == pytest.approx(r.energy_j, rel=0.05)
    assert r.mean_w == pytest.approx(H100_W, rel=0.02)
    assert r.idle_w == 70.0 and r.samples >= 3


def test_without_a_counter_power_is_integrated():
    meter = EnergyMeter([NvmlEnergy(0, Nvml(CountingNvml(counter=False)))], interval_s=0.02)
    r = _measure(meter)
    assert r.method == "power integrated"
    assert r.energy_j == pytest.approx(H100_W * r.duration_s, rel=0.05)
    assert "counter not readable" in r.parts[0].note


def test_power_only_view_of_a_counter_source_integrates():
    src = NvmlEnergy(0, Nvml(CountingNvml()))
    r = _measure(EnergyMeter([PowerOnly(src)], interval_s=0.02))
    assert r.method == "power integrated" and r.parts[0].source.endswith("power only")


def test_impossible_power_readings_are_rejected_not_stored():
    nvml = CountingNvml(counter=False, power_mw=int((MAX_W + 1) * 1000))
    r = _measure(EnergyMeter([NvmlEnergy(0, Nvml(nvml))], interval_s=0.02))
    assert r.energy_j is None and r.method == "n/a"
    assert r.rejected_samples >= 2 and "impossible power readings" in r.na_reason


def test_a_counter_over_the_sane_maximum_is_rejected_and_power_used():
    class Jumpy(CountingNvml):
        calls = 0

        def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
            self.calls += 1
            return 0 if self.calls == 1 else 10**12  # 10⁹ J in a fraction of a second

    r = _measure(EnergyMeter([NvmlEnergy(0, Nvml(Jumpy()))], interval_s=0.02))
    assert r.method == "power integrated"
    assert "reading rejected" in r.parts[0].note


def test_counter_wrap_and_backwards():
    assert counter_delta(100.0, 150.0, None) == (50.0, "")
    assert counter_delta(262_000.0, 5.0, 262_143.0)[0] == pytest.approx(148.0)
    assert counter_delta(10.0, 5.0, None)[0] is None
    assert counter_delta(None, 5.0, None)[0] is None


def _rapl(root, energy_uj: int, rng: int = 262_143_328_850):
    dom = root / "class/powercap/intel-rapl:0"
    dom.mkdir(parents=True, exist_ok=True)
    (dom / "name").write_text("package-0\n")
    (dom / "energy_uj").write_text(f"{energy_uj}\n")
    (dom / "max_energy_range_uj").write_text(f"{rng}\n")
    return dom


def test_rapl_package_counter_with_a_wrap(tmp_path):
    rng = 262_143_328_850
    dom = _rapl(tmp_path, rng - 1_000_000)
    found = discover(tmp_path, Nvml(FakePynvml(init_error=RuntimeError("no driver"))))
    assert [s.name for s in found.sources] == ["package-0 (rapl)"]
    src = found.sources[0]
    assert isinstance(src, RaplEnergy) and src.wrap_j == pytest.approx(rng / 1e6)
    meter = EnergyMeter(found.sources, interval_s=0.05)
    with meter.window() as w:
        time.sleep(0.1)  # 3 J in 0.1 s: 30 W, a possible package power
        (dom / "energy_uj").write_text("2000000\n")  # wrapped: 1 J before the top, 2 J after
    assert w.reading.energy_j == pytest.approx(3.0)
    assert "wrapped" in w.reading.parts[0].note


def test_rapl_unreadable_is_na_with_the_reason(tmp_path):
    dom = _rapl(tmp_path, 5)
    (dom / "energy_uj").unlink()  # as for a non-root user since CVE-2020-8694
    found = discover(tmp_path, Nvml(FakePynvml(init_error=RuntimeError("no driver"))))
    assert found.sources == ()
    assert any("RAPL's energy_uj is not readable" in r for r in found.reasons)


def test_amdgpu_hwmon_energy_and_power(tmp_path):
    mon = tmp_path / "class/drm/card1/device/hwmon/hwmon3"
    mon.mkdir(parents=True)
    (mon / "name").write_text("amdgpu\n")
    (mon / "power1_average").write_text("215000000\n")  # µW
    found = discover(tmp_path, Nvml(FakePynvml(init_error=RuntimeError("no driver"))))
    src = found.sources[0]
    assert isinstance(src, HwmonEnergy) and src.name == "card1 (amdgpu hwmon)"
    assert src.power_w() == pytest.approx(215.0) and src.energy_j() is None
    (mon / "energy1_input").write_text("5000000\n")
    assert src.energy_j() == pytest.approx(5.0)


def test_this_machine_without_sources_says_na_and_why(tmp_path):
    meter = EnergyMeter.here(discover(tmp_path, Nvml(FakePynvml(init_error=RuntimeError("x")))))
    assert not meter.available
    with meter.window() as w:
        pass
    assert w.reading.method == "n/a" and w.reading.energy_j is None
    assert "NVML not available" in w.reading.na_reason and "powercap" in w.reading.na_reason
    assert format_j_per_token(w.reading) == "n/a"
    assert not [t for t in threading.enumerate() if t.name == "velollm-energy"]


def test_per_token_figures_match_the_public_anchor():
    """762 tok/s at 278.6 W (RTX 4090, TinyLlama 1.1B, geerlingguy/ai-benchmarks #43)."""
    base = reading_from_json({"method": "counter", "energy_j": 2786.0, "duration_s": 10.0})
    r = with_tokens(base, 7620, prompt=1000, prefill_j=50.0)
    assert r.j_per_generated_token == pytest.approx(0.3656, abs=1e-4)
    assert r.generated_tokens_per_wh == pytest.approx(7620 / (2786 / 3600))
    assert r.j_per_prompt_token == pytest.approx(0.05)
    assert format_j_per_token(r) == "0.366 J/token"


def test_export_round_trip_and_impossible_values_dropped():
    r = with_tokens(
        reading_from_json(
            {"method": "counter", "energy_j": 12.5, "duration_s": 2.0, "mean_w": 6.25}
        ),
        100,
    )
    from velollm_desktop.core import jsonio

    back = reading_from_json(json.loads(jsonio.dumps(r)))
    assert back == r
    bad = reading_from_json({"method": "counter", "energy_j": -3, "duration_s": 1.0, "mean_w": 1e9})
    assert bad is not None and bad.energy_j is None and bad.mean_w is None
    assert reading_from_json({"method": 3}) is None and reading_from_json([1]) is None


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=20), c, max_size=6),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "method",
                "energy_j",
                "duration_s",
                "mean_w",
                "idle_w",
                "parts",
                "generated_tokens",
                "prompt_tokens",
                "j_per_prompt_token",
                "samples",
            ]
        ),
        JSONISH,
    )
    | JSONISH
)
def test_reading_from_json_never_raises(d):
    r = reading_from_json(d)
    if r is not None:
        for v in (r.energy_j, r.mean_w, r.j_per_generated_token):
            assert v is None or (math.isfinite(v) and v >= 0)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_sysfs_number_reader_takes_any_bytes(tmp_path_factory, raw):
    p = tmp_path_factory.mktemp("s") / "energy_uj"
    p.write_bytes(raw)
    v = read_number(p)
    assert v is None or (v >= 0 and raw.strip().isdigit())
