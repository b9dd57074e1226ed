"""The exposition: names, units, HELP/TYPE (promtool), labels, caps, history rows, no secrets."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.core.exporter.helpers import GIB, h100_sampler, promtool_check, ps_model, samples
from tests.ollama_fake import FakeOllama
from velollm_desktop.core.bench.model import BenchmarkResult, RunMeasurement, ServerInfo
from velollm_desktop.core.bench.model import TestResult as BenchTest
from velollm_desktop.core.bench.stats import summarize
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.exporter.history import bench_row, latest_results
from velollm_desktop.core.exporter.listen import ListenAddress
from velollm_desktop.core.exporter.server import Exporter
from velollm_desktop.core.exporter.state import (
    MAX_MODELS,
    digest_prefix,
    model_label,
    model_snapshot,
    processor,
)
from velollm_desktop.core.exporter.watch import poll_ollama
from velollm_desktop.core.ollama.models import LoadedModel

UNIT_SUFFIXES = (
    "_bytes",
    "_seconds",
    "_joules_total",
    "_watts",
    "_celsius",
    "_hertz",
    "_ratio",
    "_total",
    "_info",
    "_tokens",
    "_per_second",
    "_joules",
    "_up",
    "_loaded",
    "_dropped",
    "_spill",
)


def _exporter() -> Exporter:
    return Exporter(
        ListenAddress("127.0.0.1", 0),
        ollama_url="http://127.0.0.1:1",
        history_path=None,
        own_sampler=False,
    )


def _result(
    model: str, started: str, decode: list[float], *, prompt_text: str = ""
) -> BenchmarkResult:
    runs = tuple(
        RunMeasurement(
            ttft_ms=120.0,
            decode_tokens_per_s=d,
            server_decode_tokens_per_s=d,
            prompt_tokens_per_s=900.0,
            prompt_tokens=20,
            eval_count=64,
            load_ms=None,
            total_ms=600.0,
            text=prompt_text,
        )
        for d in decode
    )
    test = BenchTest(
        "short",
        64,
        runs,
        summarize([r.decode_tokens_per_s for r in runs]),
        None,
        summarize([120.0] * len(runs)),
        summarize([900.0] * len(runs)),
    )
    return BenchmarkResult(
        "0.2.0",
        started,
        ServerInfo("llamacpp", "http://127.0.0.1:8080", "b1"),
        model,
        None,
        "quick",
        {},
        (test,),
    )


def _full_text(tmp_path) -> tuple[str, Exporter]:
    exp = _exporter()
    with FakeOllama() as fake:
        fake.ps_models = [
            ps_model("qwen3:8b", 6 * GIB, 6 * GIB),
            ps_model("llama3.3:70b", 44 * GIB, 30 * GIB),
        ]
        exp.state.set_ollama(poll_ollama(fake.url, 2.0))
    db = History(tmp_path / "h.sqlite3")
    db.add(
        _result(
            "/home/alice/secret-models/smol.gguf",
            "2026-12-01T10:00:00+00:00",
            [50.0, 52.0],
            prompt_text="PROMPT-SECRET the user's question",
        )
    )
    db.close()
    exp.state.set_bench(*latest_results(tmp_path / "h.sqlite3"))
    exp.state.set_system(h100_sampler().sample())
    return generate_latest(exp.registry).decode(), exp


def test_exposition_passes_promtool_and_follows_naming_rules(tmp_path, monkeypatch):
    monkeypatch.setenv("VELOLLM_TEST_SECRET", "ENV-SECRET-VALUE")
    text, _ = _full_text(tmp_path)
    res = promtool_check(text)
    assert res.returncode == 0, res.stdout + res.stderr
    families = list(text_string_to_metric_families(text))
    assert len(families) >= 30
    for fam in families:
        assert re.fullmatch(r"velollm_[a-z0-9_]+", fam.name), fam.name
        assert fam.documentation, fam.name
        assert (
            f"# TYPE {fam.name if fam.type != 'counter' else fam.name + '_total'} " in text
            or f"# TYPE {fam.name}" in text
        )
        for sample in fam.samples:
            assert sample.name.endswith(UNIT_SUFFIXES), sample.name
    for secret in ("ENV-SECRET-VALUE", "PROMPT-SECRET", "/home/alice", "secret-models"):
        assert secret not in text


def test_labels_and_values_of_models_gpus_host_and_bench(tmp_path):
    text, exp = _full_text(tmp_path)
    s = samples(text)
    vram = {lb["model"]: (lb, v) for lb, v in s["velollm_ollama_model_vram_bytes"]}
    assert vram["llama3.3:70b"][0] == {
        "model": "llama3.3:70b",
        "digest": "9f438cb9cd58",
        "processor": "gpu+cpu",
    }
    assert vram["llama3.3:70b"][1] == 30 * GIB and vram["qwen3:8b"][0]["processor"] == "gpu"
    ram = {lb["model"]: v for lb, v in s["velollm_ollama_model_ram_bytes"]}
    assert ram == {"llama3.3:70b": 14 * GIB, "qwen3:8b": 0}
    spill = {lb["model"]: v for lb, v in s["velollm_ollama_model_spill"]}
    assert spill == {"llama3.3:70b": 1.0, "qwen3:8b": 0.0}
    until = s["velollm_ollama_model_unload_seconds"][0][1]
    assert 250 < until <= 300
    assert s["velollm_ollama_up"][0][1] == 1.0
    assert s["velollm_ollama_info"][0][0] == {"version": "0.33.0"}
    ((labels, power),) = s["velollm_gpu_power_watts"]
    assert labels == {
        "index": "0",
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": "GPU-00000000-0000-0000-0000-000000000000",
    }
    assert power == 72.12
    assert s["velollm_gpu_memory_used_bytes"][0][1] == 480 * 1024 * 1024
    assert s["velollm_gpu_energy_joules_total"][0][1] > 123_456
    bench = s["velollm_bench_decode_tokens_per_second"]
    assert bench == [({"model": "smol.gguf", "backend": "llamacpp", "suite": "quick"}, 51.0)]
    assert s["velollm_bench_ttft_seconds"][0][1] == 0.12
    assert "velollm_bench_energy_per_token_joules" not in s  # not measured: no series, no guess


def test_thousands_of_models_are_capped(tmp_path):
    exp = _exporter()
    with FakeOllama() as fake:
        fake.ps_models = [ps_model(f"m{i}:7b", 8 * GIB, (i % 7) * GIB) for i in range(5000)]
        snap = poll_ollama(fake.url, 10.0)
    assert snap.up and len(snap.models) == MAX_MODELS and snap.models_dropped == 5000 - MAX_MODELS
    assert all(m.vram_bytes == 6 * GIB for m in snap.models[: MAX_MODELS // 2])  # the largest kept
    exp.state.set_ollama(snap)
    text = generate_latest(exp.registry).decode()
    s = samples(text)
    assert len(s["velollm_ollama_model_vram_bytes"]) == MAX_MODELS
    assert s["velollm_ollama_models_loaded"][0][1] == 5000
    assert s["velollm_ollama_models_dropped"][0][1] == 5000 - MAX_MODELS
    assert len(text) < 400_000


def test_garbage_hang_and_down_read_as_ollama_down_within_the_deadline():
    with FakeOllama() as fake:
        url = fake.url
        fake.ps_body = b"\x00{not json at all"
        snap = poll_ollama(url, 1.0)
        assert not snap.up and "not JSON" in (snap.error or "")
        fake.ps_body = None
        fake.ps_delay_s = 5.0  # the stand-in's request thread sleeps this long, then ends
        t0 = time.monotonic()
        snap = poll_ollama(url, 1.0)
        assert not snap.up and "gave up" in (snap.error or "")
        assert time.monotonic() - t0 < fake.ps_delay_s  # it gave up; it did not wait for the answer
        fake.ps_delay_s = 0.0
    snap = poll_ollama(url, 1.0)  # nothing listens there now
    assert not snap.up and "not running" in (snap.error or "")


def test_a_poll_hanging_past_the_deadline_reads_as_down_while_it_hangs():
    exp = _exporter()
    exp.state.ollama_deadline_s = 0.2
    exp.state.set_system(h100_sampler().sample())
    exp.state.set_ollama(poll_ollama("http://127.0.0.1:1", 0.5))
    exp.state.poll_started()  # a poll that does not come back
    time.sleep(0.3)
    t0 = time.perf_counter()
    s = samples(generate_latest(exp.registry).decode())
    assert time.perf_counter() - t0 < 1.0  # it read the snapshots only (no I/O to wait on)
    assert s["velollm_ollama_up"][0][1] == 0.0
    assert s["velollm_gpu_power_watts"][0][1] == 72.12  # the GPU part still answers


def _history_result(body: dict) -> str:
    return json.dumps(body)


def test_history_rows_read_energy_defensively_and_skip_cancelled(tmp_path):
    base = {
        "results": [
            {
                "decode_tokens_per_s": {"mean": 40.0},
                "ttft_ms": {"mean": 200.0},
                "energy_per_token_j": {"mean": 0.25},
            }
        ]
    }
    row = bench_row("2026-12-01T10:00:00Z", "ollama", "qwen3:8b", "standard", json.dumps(base))
    assert row is not None and row.joules_per_token == 0.25 and row.ttft_s == 0.2
    flat = bench_row(
        "2026-12-01T10:00:00Z", "ollama", "m", "s", json.dumps({"results": [], "j_per_token": 0.5})
    )
    assert flat is not None and flat.joules_per_token == 0.5
    assert (
        bench_row(
            "2026-12-01T10:00:00Z", "ollama", "m", "s", json.dumps({**base, "cancelled": True})
        )
        is None
    )
    weird = {
        "results": [{"decode_tokens_per_s": "fast", "ttft_ms": {"mean": float("nan")}}, 7],
        "joules_per_token": -1,
    }
    row = bench_row("2026-12-01T10:00:00", "ollama", "m", "s", json.dumps(weird))
    assert row is not None and (row.decode_tokens_per_s, row.ttft_s, row.joules_per_token) == (
        None,
        None,
        None,
    )
    assert latest_results(tmp_path / "absent.sqlite3") == ((), None)
    (tmp_path / "bad.sqlite3").write_bytes(b"not a database" * 100)
    rows, error = latest_results(tmp_path / "bad.sqlite3")
    assert rows == () and error and "history" in error
    assert (tmp_path / "bad.sqlite3").read_bytes() == b"not a database" * 100  # never moved aside


def test_newest_result_per_model_backend_suite(tmp_path):
    db = History(tmp_path / "h.sqlite3")
    db.add(_result("smol", "2026-12-01T10:00:00+00:00", [10.0]))
    db.add(_result("smol", "2026-12-01T11:00:00+00:00", [30.0]))
    db.add(_result("other", "2026-12-01T09:00:00+00:00", [20.0]))
    db.close()
    rows, error = latest_results(tmp_path / "h.sqlite3")
    assert error is None
    assert {(r.model, r.decode_tokens_per_s) for r in rows} == {("smol", 30.0), ("other", 20.0)}


@given(
    st.one_of(st.none(), st.text(max_size=40)),
    st.text(max_size=60),
    st.one_of(
        st.text(max_size=200),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=10)),
            lambda c: st.one_of(
                st.lists(c, max_size=4),
                st.dictionaries(
                    st.sampled_from(
                        [
                            "results",
                            "decode_tokens_per_s",
                            "ttft_ms",
                            "mean",
                            "cancelled",
                            "energy_per_token_j",
                            "prompt_tokens_per_s",
                        ]
                    ),
                    c,
                    max_size=5,
                ),
            ),
            max_leaves=20,
        ).map(json.dumps),
    ),
)
@settings(max_examples=300, deadline=None)
def test_history_row_parser_never_crashes(started, model, body):
    row = bench_row(started, "ollama", model, "quick", body)
    if row is not None:
        for value in (
            row.decode_tokens_per_s,
            row.prompt_tokens_per_s,
            row.ttft_s,
            row.joules_per_token,
        ):
            assert value is None or value >= 0


@given(
    st.text(max_size=400),
    st.integers(-10, 1 << 50),
    st.integers(-10, 1 << 50),
    st.one_of(st.none(), st.integers(-5, 1 << 40)),
    st.one_of(st.none(), st.text(max_size=70)),
    st.one_of(st.none(), st.text(max_size=80)),
)
@settings(max_examples=300, deadline=None)
def test_model_snapshot_of_any_reply_is_bounded_and_clean(name, size, vram, ctx, expires, digest):
    snap = model_snapshot(LoadedModel(name, size, vram, ctx, expires, digest))
    assert len(snap.name) <= 128 and not any(ord(c) < 32 for c in snap.name)
    assert "/" not in snap.name or not snap.name.startswith("/")
    assert re.fullmatch(r"[0-9a-f]{0,12}", snap.digest)
    assert snap.processor in ("gpu", "cpu", "gpu+cpu")
    assert snap.size_bytes >= 0 and 0 <= snap.vram_bytes and snap.ram_bytes >= 0
    assert snap.context_tokens is None or snap.context_tokens > 0


def test_label_rules():
    assert model_label("/opt/models/Qwen3-8B-Q4_K_M.gguf") == "Qwen3-8B-Q4_K_M.gguf"
    assert model_label("C:\\Users\\bob\\m.gguf") == "m.gguf"
    assert model_label("hf.co/unsloth/Qwen3-8B-GGUF:Q4_K_M") == "hf.co/unsloth/Qwen3-8B-GGUF:Q4_K_M"
    assert model_label("~/m.gguf") == "m.gguf" and model_label("\x1b[31m") == "[31m"
    assert digest_prefix("sha256:ABCDEF0123456789") == "abcdef012345" and digest_prefix("zz") == ""
    assert [processor(10, 10), processor(10, 0), processor(10, 4), processor(0, 0)] == [
        "gpu",
        "cpu",
        "gpu+cpu",
        "cpu",
    ]


_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(1 << 62), 1 << 62),
        st.floats(allow_nan=False),
        st.text(max_size=40),
    ),
    lambda c: st.one_of(
        st.lists(c, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "models",
                    "name",
                    "model",
                    "size",
                    "size_vram",
                    "digest",
                    "expires_at",
                    "context_length",
                    "details",
                    "version",
                ]
            ),
            c,
            max_size=6,
        ),
    ),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def stand_in():
    with FakeOllama() as fake:
        yield fake


@given(st.one_of(_JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_ollama_reply_gives_a_bounded_snapshot(stand_in, body):
    stand_in.ps_body = body  # /api/version and /api/ps both answer it
    try:
        snap = poll_ollama(stand_in.url, 2.0)
    finally:
        stand_in.ps_body = None
    assert snap.up or snap.error
    assert len(snap.models) <= MAX_MODELS and (snap.version is None or len(snap.version) <= 40)
    exp = _exporter()
    exp.state.set_ollama(snap)
    text = generate_latest(exp.registry).decode()
    assert len(list(text_string_to_metric_families(text))) > 10  # our own output parses back


def test_a_flood_of_idle_connections_is_bounded_and_scrapes_come_back():
    import socket
    import threading

    import httpx

    from velollm_desktop.core.exporter.server import MAX_CONNECTIONS

    exp = _exporter()
    exp.start()
    before = threading.active_count()
    socks = []
    try:
        for _ in range(3 * MAX_CONNECTIONS):
            s = socket.create_connection(("127.0.0.1", exp.port))
            socks.append(s)
        time.sleep(0.5)
        assert threading.active_count() - before <= MAX_CONNECTIONS
    finally:
        for s in socks:
            s.close()
        time.sleep(0.3)
    try:
        assert httpx.get(exp.url, trust_env=False, timeout=5).status_code == 200
    finally:
        assert exp.stop(10.0)
