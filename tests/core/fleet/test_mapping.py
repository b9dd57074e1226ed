"""From exposition text to TargetStatus fields: examples, counter resets, and properties."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velollm_desktop.core.fleet import mapping
from velollm_desktop.core.fleet.expo import MetricsError, parse_exposition
from velollm_desktop.core.fleet.model import Counters
from velollm_desktop.core.fleet.probe import kind_of_metrics

from .servers import FIXTURES

MIB = 1024 * 1024


def test_dcgm_recorded_body():
    metrics = parse_exposition((FIXTURES / "dcgm" / "metrics-2xh100.txt").read_text())
    assert kind_of_metrics(metrics) == "dcgm"
    g0, g1 = mapping.dcgm_gpus(metrics)
    assert g0.name == "GPU 0 NVIDIA H100 80GB HBM3"
    assert (g0.load_pct, g0.temperature_c, g0.power_w) == (87.0, 71.0, 512.337)
    assert g0.vram_used_bytes == 61440 * MIB
    assert g0.vram_total_bytes == g1.vram_total_bytes == 80383 * MIB
    assert g1.load_pct == 0.0 and g1.vram_used_bytes == 1 * MIB


def test_dcgm_sentinel_and_impossible_values_rejected():
    body = (
        'DCGM_FI_DEV_GPU_TEMP{gpu="0"} 9223372036854775794\n'
        'DCGM_FI_DEV_GPU_UTIL{gpu="0"} 140\n'
        'DCGM_FI_DEV_POWER_USAGE{gpu="0"} -3\n'
        'DCGM_FI_DEV_FB_USED{gpu="0"} NaN\n'
        'DCGM_FI_DEV_FB_FREE{gpu="0"} 100\n'
    )
    (gpu,) = mapping.dcgm_gpus(parse_exposition(body))
    assert gpu.temperature_c is None and gpu.load_pct is None and gpu.power_w is None
    assert gpu.vram_used_bytes is None and gpu.vram_total_bytes is None


def test_ram_available_above_total_is_rejected():
    m = parse_exposition("node_memory_MemTotal_bytes 100\nnode_memory_MemAvailable_bytes 200\n")
    assert mapping.ram_bytes(m) == (None, 100)


def test_cpu_pct_and_counter_reset():
    a = Counters(0.0, cpu_idle_s=100.0, cpu_total_s=200.0, tokens=1000.0)
    b = Counters(2.0, cpu_idle_s=101.0, cpu_total_s=204.0, tokens=1100.0)
    assert mapping.cpu_pct(a, b) == pytest.approx(75.0)
    assert mapping.tokens_per_s(a, b) == pytest.approx(50.0)
    restarted = Counters(4.0, cpu_idle_s=1.0, cpu_total_s=2.0, tokens=30.0)
    assert mapping.cpu_pct(b, restarted) is None  # exporter restarted: no reading
    assert mapping.tokens_per_s(b, restarted) == pytest.approx(15.0)  # counts from zero
    assert mapping.tokens_per_s(None, b) is None
    # an idle machine: idle grew a rounding step more than the total -> 0 %, not "no reading"
    idle = Counters(2.0, cpu_idle_s=101.0 + 4.01, cpu_total_s=204.0 + 4.0)
    assert mapping.cpu_pct(b, idle) == 0.0


def test_llamacpp_and_vllm_fields():
    llama = parse_exposition(
        "# TYPE llamacpp:tokens_predicted_total counter\nllamacpp:tokens_predicted_total 39\n"
        "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing 2\n"
        "# TYPE llamacpp:requests_deferred gauge\nllamacpp:requests_deferred 5\n"
    )
    assert kind_of_metrics(llama) == "llamacpp"
    assert mapping.server_fields("llamacpp", llama) == (2, 5, 39.0)
    vllm = parse_exposition(
        'vllm:num_requests_running{engine="0",model_name="m"} 3.0\n'
        'vllm:num_requests_running{engine="1",model_name="m"} 1.0\n'
        'vllm:num_requests_waiting{engine="0",model_name="m"} 0.0\n'
        "# TYPE vllm:generation_tokens_total counter\n"
        'vllm:generation_tokens_total{engine="0",model_name="m"} 5120.0\n'
    )
    assert kind_of_metrics(vllm) == "vllm"
    assert mapping.server_fields("vllm", vllm) == (4, 0, 5120.0)


@pytest.mark.parametrize("body", ["<html>hi</html>", "hello", "{}", 'a{b="c} 1', "\x00"])
def test_garbage_is_a_clear_error(body):
    with pytest.raises(MetricsError, match="not Prometheus text"):
        parse_exposition(body)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
any_float = st.one_of(finite, st.just(math.nan), st.just(math.inf), st.just(-math.inf))


def _fmt(v: float) -> str:
    return (
        "NaN"
        if math.isnan(v)
        else ("+Inf" if v == math.inf else "-Inf" if v == -math.inf else repr(v))
    )


@settings(max_examples=300, deadline=None)
@given(
    util=any_float,
    used=any_float,
    free=any_float,
    temp=any_float,
    power=any_float,
    gpu=st.integers(0, 15),
)
def test_dcgm_mapping_never_stores_the_impossible(util, used, free, temp, power, gpu):
    body = "".join(
        f'{name}{{gpu="{gpu}",modelName="X"}} {_fmt(v)}\n'
        for name, v in (
            ("DCGM_FI_DEV_GPU_UTIL", util),
            ("DCGM_FI_DEV_FB_USED", used),
            ("DCGM_FI_DEV_FB_FREE", free),
            ("DCGM_FI_DEV_GPU_TEMP", temp),
            ("DCGM_FI_DEV_POWER_USAGE", power),
        )
    )
    (g,) = mapping.dcgm_gpus(parse_exposition(body))
    assert g.load_pct is None or 0 <= g.load_pct <= 100
    assert g.temperature_c is None or -40 <= g.temperature_c <= 150
    assert g.power_w is None or 0 <= g.power_w <= 5000
    if g.vram_total_bytes is not None:
        assert 0 <= g.vram_used_bytes <= g.vram_total_bytes
    if 0 <= util <= 100:
        assert g.load_pct == util


@settings(max_examples=300, deadline=None)
@given(
    idle=st.lists(st.tuples(finite, finite), min_size=1, max_size=8),
    mem=st.tuples(finite, finite),
    dt=st.floats(0.01, 100),
)
def test_node_mapping_bounds(idle, mem, dt):
    def body(i):
        lines = []
        for cpu, pair in enumerate(idle):
            lines.append(
                f'node_cpu_seconds_total{{cpu="{cpu}",mode="idle"}} {_fmt(abs(pair[0]) * i)}'
            )
            lines.append(
                f'node_cpu_seconds_total{{cpu="{cpu}",mode="user"}} {_fmt(abs(pair[1]) * i)}'
            )
        lines.append(f"node_memory_MemTotal_bytes {_fmt(mem[0])}")
        lines.append(f"node_memory_MemAvailable_bytes {_fmt(mem[1])}")
        return "\n".join(lines) + "\n"

    readings = []
    for i, t in ((1, 0.0), (2, dt)):
        m = parse_exposition(body(i))
        readings.append(Counters(t, *mapping.cpu_counters(m)))
    pct = mapping.cpu_pct(readings[0], readings[1])
    assert pct is None or 0.0 <= pct <= 100.0
    used, total = mapping.ram_bytes(parse_exposition(body(1)))
    assert total is None or 1 <= total <= mapping.MAX_RAM_BYTES
    assert used is None or (total is not None and 0 <= used <= total)


@settings(max_examples=300, deadline=None)
@given(prev=st.none() | finite, cur=st.none() | finite, dt=st.floats(-1, 1000))
def test_counter_rate_properties(prev, cur, dt):
    rate = mapping.tokens_per_s(Counters(0.0, tokens=prev), Counters(dt, tokens=cur))
    assert rate is None or 0 <= rate <= mapping.MAX_TOKENS_PER_S


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=2000) | st.binary(max_size=2000).map(lambda b: b.decode("latin-1")))
def test_any_body_parses_or_fails_clearly_and_fast(text):
    start = time.monotonic()
    try:
        metrics = parse_exposition(text)
    except MetricsError as exc:
        assert "not Prometheus text" in str(exc) or "samples" in str(exc)
    else:
        assert isinstance(metrics, dict)
        kind_of_metrics(metrics)
        mapping.dcgm_gpus(metrics)
        mapping.ram_bytes(metrics)
        mapping.cpu_counters(metrics)
        mapping.server_fields("vllm", metrics)
    assert time.monotonic() - start < 2.0


def test_terminal_escapes_from_a_server_are_removed():
    body = 'DCGM_FI_DEV_GPU_UTIL{gpu="0",modelName="H\x1b[2J\x07100"} 5\n'
    (gpu,) = mapping.dcgm_gpus(parse_exposition(body))
    assert gpu.name == "GPU 0 H[2J100" and "\x1b" not in gpu.name
    with pytest.raises(MetricsError) as info:
        parse_exposition("\x1b]0;pwned\x07 1 2\n<html>")
    assert "\x1b" not in str(info.value) and "\x07" not in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_clean_text_has_no_control_characters(text):
    from velollm_desktop.core.fleet.expo import clean_text

    out = clean_text(text)
    assert len(out) <= 200 and not any(ord(c) < 32 or 127 <= ord(c) <= 159 for c in out)
