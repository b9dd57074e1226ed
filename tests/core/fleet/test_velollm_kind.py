"""VeloLLM's exporter as a fleet kind: detected before the node exporter, mapped back, and any
exposition that claims to be ours (Hypothesis) gives bounded, clean rows, never a traceback."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from tests.core.exporter.helpers import GIB, h100_sampler, ps_model
from tests.ollama_fake import FakeOllama
from velollm_desktop.core.exporter.listen import ListenAddress
from velollm_desktop.core.exporter.server import Exporter
from velollm_desktop.core.exporter.watch import poll_ollama
from velollm_desktop.core.fleet.expo import parse_exposition
from velollm_desktop.core.fleet.model import TargetStatus
from velollm_desktop.core.fleet.probe import kind_of_metrics
from velollm_desktop.core.fleet.velollm import MAX_ROWS, apply, row_text


def _exposition(models: list[dict]) -> str:
    exp = Exporter(
        ListenAddress("127.0.0.1", 0),
        ollama_url="http://127.0.0.1:1",
        history_path=None,
        own_sampler=False,
    )
    with FakeOllama() as fake:
        fake.ps_models = models
        exp.state.set_ollama(poll_ollama(fake.url, 5.0))
    exp.state.set_system(h100_sampler().sample())
    return (
        generate_latest(exp.registry).decode()
        + "# node_ series would not make it a node exporter\nnode_load1 0.5\n"
    )


def test_round_trip_of_our_own_exposition():
    metrics = parse_exposition(_exposition([ps_model("llama3.3:70b", 44 * GIB, 30 * GIB)]))
    assert kind_of_metrics(metrics) == "velollm"
    status = TargetStatus(url="http://h:9877", kind="velollm", host="h", up=True)
    apply(metrics, status)
    (row,) = status.model_rows
    assert (row.name, row.digest, row.processor, row.vram_bytes, row.spills) == (
        "llama3.3:70b",
        "9f438cb9cd58",
        "gpu+cpu",
        30 * GIB,
        True,
    )
    assert row_text(row).startswith("model llama3.3:70b · gpu+cpu · VRAM 30.0 GiB · RAM 14.0 GiB")
    (gpu,) = status.gpus
    assert gpu.name == "GPU 0 NVIDIA H100 80GB HBM3" and gpu.power_w == 72.12
    assert status.version == "0.33.0" and status.note is None and status.models == ["llama3.3:70b"]


def test_many_models_are_capped_in_the_fleet_too():
    metrics = parse_exposition(_exposition([ps_model(f"m{i}", GIB, GIB) for i in range(300)]))
    status = TargetStatus(url="u", kind="velollm", host="h", up=True)
    apply(metrics, status)
    assert len(status.model_rows) == MAX_ROWS


_NAMES = st.sampled_from(
    [
        "velollm_ollama_model_size_bytes",
        "velollm_ollama_model_vram_bytes",
        "velollm_ollama_model_context_tokens",
        "velollm_ollama_model_unload_seconds",
        "velollm_ollama_model_spill",
        "velollm_gpu_utilization_ratio",
        "velollm_gpu_memory_used_bytes",
        "velollm_gpu_memory_total_bytes",
        "velollm_gpu_power_watts",
        "velollm_gpu_temperature_celsius",
        "velollm_host_cpu_utilization_ratio",
        "velollm_host_memory_used_bytes",
        "velollm_host_memory_total_bytes",
        "velollm_ollama_up",
        "velollm_ollama_info",
    ]
)
_LABELS = st.dictionaries(
    st.sampled_from(["model", "digest", "processor", "index", "name", "uuid", "version"]),
    st.text(max_size=300),
    max_size=6,
)
_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(1 << 70), 1 << 70).map(float)
)


@given(st.lists(st.tuples(_NAMES, _LABELS, _VALUES), max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_exposition_claiming_to_be_ours_maps_to_bounded_rows(samples):
    metrics: dict = {"velollm_exporter_build_info": [({"version": "x"}, 1.0)]}
    for name, labels, value in samples:
        metrics.setdefault(name, []).append((labels, value))
    status = TargetStatus(url="u", kind="velollm", host="h", up=True)
    apply(metrics, status)
    assert len(status.model_rows) <= MAX_ROWS and len(status.gpus) <= 64
    for row in status.model_rows:
        assert len(row.name) <= 128 and not any(ord(c) < 32 for c in row.name)
        for v in (row.size_bytes, row.vram_bytes, row.context_tokens, row.unload_s):
            assert v is None or (math.isfinite(v) and v >= 0)
        row_text(row)
    for gpu in status.gpus:
        assert gpu.load_pct is None or 0 <= gpu.load_pct <= 100
        assert gpu.temperature_c is None or -40 <= gpu.temperature_c <= 150
    assert status.cpu_pct is None or 0 <= status.cpu_pct <= 100
    if status.ram_used_bytes is not None:
        assert status.ram_total_bytes and 0 <= status.ram_used_bytes <= status.ram_total_bytes
