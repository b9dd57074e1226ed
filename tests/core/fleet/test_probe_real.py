"""Fleet probes against real servers on loopback: the node exporter, llama-server --metrics
under load, the stand-in Ollama, a recorded dcgm-exporter body, and targets that die, answer
garbage, drip, send too much or hang."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import httpx
import psutil
import pytest

from velollm_desktop.core.fleet.monitor import FleetMonitor, host_statuses, worst_level
from velollm_desktop.core.fleet.targets import parse_target, parse_targets
from velollm_desktop.core.llamacpp.server import LlamaServer

from .servers import FIXTURES, NodeExporter, ScriptedServer, closed_port_url


@pytest.fixture
def node_exporter():
    with NodeExporter() as ne:
        yield ne


def test_node_exporter_agrees_with_psutil(node_exporter):
    with FleetMonitor(parse_targets([node_exporter.url])) as mon:
        psutil.cpu_percent(None)
        (first,) = mon.poll()
        time.sleep(2.0)
        (status,) = mon.poll()
        ps_cpu = psutil.cpu_percent(None)
        vm = psutil.virtual_memory()
    assert first.up and first.kind == "node" and first.cpu_pct is None  # no rate yet
    assert status.up and status.error is None and status.host == "localhost"
    assert status.cpu_pct is not None and abs(status.cpu_pct - ps_cpu) <= 5.0, (
        status.cpu_pct,
        ps_cpu,
    )
    assert status.ram_total_bytes == vm.total
    assert abs(status.ram_used_bytes - (vm.total - vm.available)) <= 0.03 * vm.total
    assert status.probe_ms is not None and 0 < status.probe_ms < 3000


def test_node_exporter_cpu_counters_match_proc_stat(node_exporter):
    """The cumulative counters behind cpu_pct (meaningful even when the box is pinned at 100 %)."""
    target = parse_targets([node_exporter.url])[0]
    with FleetMonitor([target]) as mon:
        before = psutil.cpu_times()
        mon.poll()
        after = psutil.cpu_times()
        counters = mon._prev[target.url]

    def idle_total(t):
        total = sum(t) - t.guest - t.guest_nice  # guest time is already in user (psutil's rule)
        return t.idle + t.iowait, total

    (idle0, total0), (idle1, total1) = idle_total(before), idle_total(after)
    slack = 0.05 * psutil.cpu_count() + (total1 - total0)  # /proc/stat ticks + the probe's time
    assert total0 - slack <= counters.cpu_total_s <= total1 + slack
    assert idle0 - slack <= counters.cpu_idle_s <= idle1 + slack


def test_full_default_node_exporter_body_parses():
    with NodeExporter(collectors=None) as ne, FleetMonitor(parse_targets([ne.url])) as mon:
        (status,) = mon.poll()
    assert status.up, status.error
    assert status.ram_total_bytes == psutil.virtual_memory().total


def test_dcgm_recorded_body_served():
    body = (FIXTURES / "dcgm" / "metrics-2xh100.txt").read_bytes()
    with ScriptedServer(body=body) as srv, FleetMonitor(parse_targets([srv.url])) as mon:
        (status,) = mon.poll()
    assert status.up and status.kind == "dcgm"
    assert [g.load_pct for g in status.gpus] == [87.0, 0.0]
    assert status.gpus[0].temperature_c == 71.0
    js = status.to_json()
    assert js["gpus"][0]["vram_used_bytes"] == 61440 * 1024 * 1024
    assert js["cpu_pct"] is None and js["models"] == [] and js["tokens_per_s"] is None


def test_stand_in_ollama():
    from tests.ollama_fake import MODEL, FakeOllama

    with FakeOllama() as fake, FleetMonitor(parse_targets([fake.url])) as mon:
        (idle,) = mon.poll()
        fake.loaded[MODEL] = time.time() + 300
        (busy,) = mon.poll()
    assert idle.up and idle.kind == "ollama" and idle.models == [] and idle.version == "0.33.0"
    assert busy.up and busy.models == [MODEL]
    assert busy.requests_running is None and busy.tokens_per_s is None  # not exposed


@pytest.fixture(scope="module")
def metrics_server(smol_model):
    server = LlamaServer(smol_model, ["--metrics", "-np", "1"], threads=2, ctx_size=1024)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_llama_server_metrics_under_load(metrics_server):
    target = parse_target(metrics_server.url)
    done: dict = {}

    def generate():
        r = httpx.post(
            metrics_server.url + "/completion",
            json={"prompt": "Count from one to one hundred:", "n_predict": 96, "ignore_eos": True},
            timeout=120,
            trust_env=False,
        )
        done["timings"] = r.json()["timings"]

    with FleetMonitor([target]) as mon:
        (before,) = mon.poll()
        c0 = mon._prev[target.url]
        worker = threading.Thread(target=generate)
        worker.start()
        seen_running = 0
        while worker.is_alive():
            (mid,) = mon.poll()
            seen_running = max(seen_running, mid.requests_running or 0)
            time.sleep(0.05)
        worker.join()
        mon._prev[target.url] = c0  # the rate over the whole run, from the first reading
        (after,) = mon.poll()
        c1 = mon._prev[target.url]
    assert before.up and before.kind == "llamacpp" and before.models
    assert seen_running == 1
    assert after.requests_running == 0 and after.requests_waiting == 0
    generated = after.tokens_per_s * (c1.monotonic_s - c0.monotonic_s)
    assert generated == pytest.approx(done["timings"]["predicted_n"], rel=1e-6)


def test_llama_server_without_metrics_is_up_with_a_hint(llama_server):
    with FleetMonitor(parse_targets([f"llamacpp={llama_server.url}"])) as mon:
        (status,) = mon.poll()
    assert status.up and status.models and status.requests_running is None
    assert "--metrics" in status.note


def test_target_that_dies_mid_run(node_exporter):
    with ScriptedServer(body=b"node_load1 0.5\n") as other:
        targets = parse_targets([node_exporter.url, f"node={other.url}"])
        with FleetMonitor(targets) as mon:
            first = mon.poll()
            node_exporter.stop()
            second = mon.poll()
    assert [s.up for s in first] == [True, True]
    assert [s.up for s in second] == [False, True]
    assert "cannot connect" in second[0].error
    port = node_exporter.url.rsplit(":", 1)[1].split("/")[0]
    assert f"nothing listens on port {port}" in second[0].error and "Errno" not in second[0].error
    (host,) = host_statuses(second)
    # one target of the host still answers: a warning (amber), not "down"
    assert host.level == "warn" and host.reasons[0] == "1 of 2 targets answer"
    assert node_exporter.url in host.reasons[1]
    (both_down,) = host_statuses([replace(second[1], up=False, error="x"), second[0]])
    assert both_down.level == "down"


def test_garbage_hang_drip_huge_and_closed_never_stall_the_others(node_exporter):
    servers = [
        ScriptedServer("garbage"),
        ScriptedServer("hang"),
        ScriptedServer("drip", body=b"node_load1 1\n" * 50),
        ScriptedServer("huge"),
    ]
    for s in servers:
        s.start()
    try:
        specs = [node_exporter.url] + [s.url for s in servers] + [f"node={servers[0].url}/x"]
        specs.append(closed_port_url())
        with FleetMonitor(parse_targets(specs), deadline_s=1.5) as mon:
            start = time.monotonic()
            statuses = mon.poll()
            took = time.monotonic() - start
    finally:
        for s in servers:
            s.stop()
    assert took < 1.5 + 0.7
    ok, garbage, hang, drip, huge, garbage_node, closed = statuses
    assert ok.up
    assert not garbage.up and "not as Ollama" in garbage.error
    assert not hang.up and "no answer within" in hang.error
    assert not drip.up and (
        "too slow: not complete within 1.5 s" in drip.error
        or "no answer within 1.5 s" in drip.error
    )
    assert not huge.up and "larger than 4 MiB" in huge.error
    assert not garbage_node.up and "/metrics answered HTTP 200" not in garbage_node.error
    assert "not Prometheus text" in garbage_node.error
    assert not closed.up and "cannot connect: nothing listens on port" in closed.error
    assert worst_level(host_statuses(statuses)) in ("warn", "down")


VLLM_BODY = b"""# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-8B"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-8B"} 2.0
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="Qwen/Qwen3-8B"} 51200.0
"""


def test_vllm_body_rates_and_reset():
    with ScriptedServer(body=VLLM_BODY) as srv, FleetMonitor(parse_targets([srv.url])) as mon:
        (first,) = mon.poll()
        time.sleep(0.5)
        srv.body = VLLM_BODY.replace(b"51200.0", b"51300.0")
        (second,) = mon.poll()
        srv.body = VLLM_BODY.replace(b"51200.0", b"40.0")  # vLLM restarted
        time.sleep(0.5)
        (third,) = mon.poll()
    assert first.kind == "vllm" and first.models == ["Qwen/Qwen3-8B"]
    assert (first.requests_running, first.requests_waiting, first.tokens_per_s) == (3, 2, None)
    assert 0 < second.tokens_per_s <= 100 / 0.5
    assert third.up and 0 < third.tokens_per_s <= 40 / 0.5  # counted from zero, not negative
    (host,) = host_statuses([third])
    assert host.level == "warn" and "2 requests waiting" in host.reasons


def test_openai_compatible_server_detected_from_v1_models():
    body = b'{"object": "list", "data": [{"id": "my-model", "owned_by": "someone"}]}'
    with ScriptedServer(body=body) as srv, FleetMonitor(parse_targets([srv.url])) as mon:
        (status,) = mon.poll()
    assert status.up and status.kind == "openai" and status.models == ["my-model"]
    assert status.requests_running is None and status.tokens_per_s is None


def test_connect_errors_in_words():
    from velollm_desktop.core.fleet.probe import connect_words

    url = "http://gpu-box.example:9"
    assert connect_words("[Errno 111] Connection refused", url) == "nothing listens on port 9"
    assert connect_words("[Errno -2] Name or service not known", url).startswith(
        "the name gpu-box.example is not known"
    )
    assert connect_words("[Errno 113] No route to host", url).startswith("no route to gpu-box")
    assert connect_words("something else", url) == "something else"
    assert connect_words("[Errno 111] Connection refused", "https://h") == (
        "nothing listens on port 443"
    )
