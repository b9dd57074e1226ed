"""Tooltip and Ollama-panel text: expiry parsing ("Unloads in 4 min"), GiB, live header."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from velollm_desktop.core.hardware.model import (
    CpuInfo,
    GpuInfo,
    GpuVendor,
    HardwareSpec,
    MemoryInfo,
)
from velollm_desktop.core.hardware.report import render_text
from velollm_desktop.core.monitor.sampler import GpuSample, SystemSample
from velollm_desktop.core.monitor.text import gib, live_spec, parse_expiry, unloads_in
from velollm_desktop.core.ollama.models import LoadedModel

NOW = datetime(2026, 11, 27, 8, 0, 0, tzinfo=timezone.utc)


def test_unloads_in_examples():
    assert unloads_in("2026-11-27T08:04:00Z", NOW) == "Unloads in 4 min"
    # Go's nanoseconds and a local offset, as Ollama writes them
    assert unloads_in("2026-11-27T09:04:30.123456789+01:00", NOW) == "Unloads in 4 min"
    assert unloads_in("2026-11-27T08:00:42Z", NOW) == "Unloads in 42 s"
    assert unloads_in("2026-11-27T11:00:00Z", NOW) == "Unloads in 3 h"
    assert unloads_in("2318-01-01T00:00:00Z", NOW) == "Stays loaded"  # keep_alive: -1
    assert unloads_in("2026-11-27T07:59:00Z", NOW) == "Unloading now"
    assert unloads_in(None, NOW) == "n/a"
    assert unloads_in("soon", NOW) == "n/a"
    assert unloads_in("0001-01-01T00:00:00Z", NOW) == "Unloading now"


@settings(max_examples=300, deadline=200)
@given(st.one_of(st.none(), st.text(max_size=80), st.integers(), st.floats()))
def test_unloads_in_any_input_gives_text_not_traceback(value):
    started = time.perf_counter()
    text = unloads_in(value, NOW)  # type: ignore[arg-type] - outside input can be anything
    assert text == "n/a" or text.startswith(("Unloads in", "Unloading", "Stays"))
    assert time.perf_counter() - started < 0.1


@given(st.datetimes(timezones=st.just(timezone.utc)))
def test_parse_expiry_round_trips_any_datetime(when):
    assert parse_expiry(when.isoformat()) == when


def test_gib_and_placement():
    assert gib(6 * 1024**3) == "6.0 GiB" and gib(None) == "n/a"
    assert LoadedModel("m", 100, 0, None, None).placement == "on CPU"
    assert LoadedModel("m", 100, 100, None, None).placement == "on GPU"
    assert LoadedModel("m", 100, 59, None, None).placement == "41 % CPU / 59 % GPU"


def test_live_spec_follows_the_sample():
    spec = HardwareSpec(
        gpus=(GpuInfo(GpuVendor.NVIDIA, "H100", 0, 81559, 10, 81549),),
        cpu=CpuInfo("cpu", 2, 2),
        memory=MemoryInfo(16384, 12000, 4384, 2048, 0),
        os="Linux",
        os_version="6.1",
        arch="x86_64",
    )
    sample = SystemSample(
        0.0,
        0.0,
        5.0,
        (5.0,),
        5000,
        16384,
        7,
        (GpuSample(0, "H100", 60.0, 2000, 81559, 50.0, 200.0),),
    )
    text = render_text(live_spec(spec, sample))
    assert "5000 MiB used" in text and "11384 MiB available" in text and "swap 7 MiB" in text
    assert "2000 MiB used" in text and "79559 MiB free" in text and "Load     60 %" in text
    assert live_spec(spec, None) is spec


def test_expiry_overflow_is_na():
    far_past = (NOW - timedelta(days=1)).isoformat()
    assert unloads_in(far_past, NOW) == "Unloading now"
    assert unloads_in("9999-12-31T23:59:59+14:00", NOW) == "Stays loaded"
