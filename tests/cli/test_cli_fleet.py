"""`velollm fleet` and `velollm benchmark --endpoint` through the installed script, against
real loopback servers."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.conftest import run_cli
from tests.core.fleet.servers import FIXTURES, NodeExporter, ScriptedServer, closed_port_url
from velollm_desktop.core.fleet.model import TARGET_JSON_KEYS

GPU_KEYS = {"name", "load_pct", "vram_used_bytes", "vram_total_bytes", "temperature_c", "power_w"}


@pytest.fixture
def node_exporter():
    with NodeExporter() as ne:
        yield ne


def test_once_json_is_the_documented_object(velollm_exe, node_exporter):
    body = (FIXTURES / "dcgm" / "metrics-2xh100.txt").read_bytes()
    dead = closed_port_url()
    with ScriptedServer(body=body) as dcgm:
        res = run_cli(
            velollm_exe,
            "fleet",
            "--target",
            node_exporter.url,
            "--target",
            f"dcgm={dcgm.url}",
            "--target",
            dead,
            "--once",
            "--json",
            "--interval",
            "1",
        )
    assert res.returncode == 1, res.stderr  # one target is down
    doc = json.loads(res.stdout)
    assert list(doc) == ["targets"]
    node, gpu, down = doc["targets"]
    for t in doc["targets"]:
        assert tuple(t) == TARGET_JSON_KEYS
    assert node["up"] and node["kind"] == "node" and node["host"] == "localhost"
    assert 0 <= node["cpu_pct"] <= 100 and node["ram_total_bytes"] > node["ram_used_bytes"] > 0
    assert node["gpus"] == [] and node["tokens_per_s"] is None and node["requests_running"] is None
    assert gpu["up"] and gpu["cpu_pct"] is None and len(gpu["gpus"]) == 2
    assert set(gpu["gpus"][0]) == GPU_KEYS and gpu["gpus"][0]["power_w"] == 512.337
    assert down == {**down, "up": False, "kind": None, "cpu_pct": None, "gpus": []}
    assert "cannot connect" in down["error"]


def test_bad_target_is_one_clear_line(velollm_exe):
    res = run_cli(velollm_exe, "fleet", "--target", "gopher=http://h:1", "--once")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "velollm: error: unknown kind 'gopher': use one of ollama, llamacpp, vllm, openai, node, dcgm, velollm"
    ]
    res = run_cli(velollm_exe, "fleet", "--once")
    assert res.returncode == 2 and "at least one --target" in res.stderr


def test_watch_redraws_and_ctrl_c_exits_cleanly(velollm_exe, node_exporter):
    res = run_cli(
        velollm_exe, "fleet", "--target", node_exporter.url, "--interval", "0.5", "--count", "3"
    )
    assert res.returncode == 0
    assert res.stdout.count("localhost [") == 3 and res.stdout.count("# ") == 3
    res = run_cli(
        velollm_exe,
        "fleet",
        "--target",
        node_exporter.url,
        "--json",
        "--interval",
        "0.5",
        "--count",
        "2",
    )
    lines = res.stdout.splitlines()
    assert res.returncode == 0 and len(lines) == 2
    assert all(json.loads(line)["targets"][0]["kind"] == "node" for line in lines)
    proc = subprocess.Popen(
        [velollm_exe, "fleet", "--target", node_exporter.url, "--interval", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err
    assert "node     " + node_exporter.url in out


def test_benchmark_endpoints_side_by_side(velollm_exe, llama_server, tmp_path):
    from tests.ollama_fake import FakeOllama

    out = tmp_path / "cmp.json"
    dead = closed_port_url()
    with FakeOllama(upstream=llama_server.url) as fake:
        res = run_cli(
            velollm_exe,
            "benchmark",
            "--endpoint",
            f"llama={llama_server.url}",
            "--endpoint",
            f"olla={fake.url}",
            "--endpoint",
            f"gone=ollama={dead}",
            "--suite",
            "quick",
            "--runs",
            "1",
            "--max-tokens",
            "8",
            "--json",
            str(out),
            "-q",
            timeout=300,
        )
    assert res.returncode == 1, res.stderr  # "gone" failed, the two others ran
    assert "gone: failed:" in res.stdout and "Ollama is not running" in res.stdout
    head = res.stdout.splitlines()[1]
    assert "llama" in head and "olla" in head and "gone" in head
    doc = json.loads(out.read_text())
    llama, olla, gone = doc["endpoints"]
    assert (llama["backend"], olla["backend"], gone["backend"]) == ("llamacpp", "ollama", "ollama")
    for ep in (llama, olla):
        decode = ep["result"]["results"][0]["decode_tokens_per_s"]["mean"]
        assert decode > 0 and ep["error"] is None
    assert gone["result"] is None
    assert res.stdout.count("saved in the history as #") == 2


def test_benchmark_endpoint_needs_a_name(velollm_exe):
    res = run_cli(velollm_exe, "benchmark", "--endpoint", "http://127.0.0.1:1")
    assert res.returncode == 2 and "an endpoint is NAME=URL" in res.stderr
