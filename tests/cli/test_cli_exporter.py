"""`velollm exporter` through the installed script: --once through promtool, a served endpoint
that `velollm fleet` recognises (kind and per-model rows), auth, SIGTERM (systemctl stop)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import pytest

from tests.conftest import run_cli
from tests.core.exporter.helpers import GIB, promtool_check, ps_model
from tests.ollama_fake import FakeOllama
from velollm_desktop.core.llamacpp.server import free_port

TOKEN = "0123456789abcdef-token"


@pytest.fixture
def fake():
    with FakeOllama() as f:
        f.ps_models = [
            ps_model("llama3.3:70b", 44 * GIB, 30 * GIB),
            ps_model("qwen3:8b", 6 * GIB, 6 * GIB),
        ]
        yield f


def test_once_output_passes_promtool(velollm_exe, fake):
    res = run_cli(velollm_exe, "exporter", "--once", "--url", fake.url)
    assert res.returncode == 0, res.stderr
    assert promtool_check(res.stdout).returncode == 0
    assert (
        'velollm_ollama_model_vram_bytes{digest="9f438cb9cd58",model="llama3.3:70b",processor="gpu+cpu"}'
        in res.stdout
    )


def _wait_metrics(url: str, headers: dict | None = None) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, headers=headers, timeout=2, trust_env=False)
            if r.status_code != 200 or b"velollm_ollama_up 1.0" in r.content:
                return r
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the exporter did not serve")


@pytest.mark.slow
def test_served_endpoint_is_a_fleet_kind_with_model_rows_and_stops_on_sigterm(velollm_exe, fake):
    port = free_port()
    proc = subprocess.Popen(
        [velollm_exe, "exporter", "--listen", f"127.0.0.1:{port}", "--url", fake.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_metrics(base + "/metrics").status_code == 200
        res = run_cli(
            velollm_exe, "fleet", "--target", base, "--once", "--json", "--interval", "0.2"
        )
        assert res.returncode == 0, res.stderr
        (target,) = json.loads(res.stdout)["targets"]
        assert target["kind"] == "velollm" and target["up"]
        rows = {r["name"]: r for r in target["model_rows"]}
        assert (
            rows["llama3.3:70b"]["vram_bytes"] == 30 * GIB
            and rows["llama3.3:70b"]["spills"] is True
        )
        assert rows["qwen3:8b"]["processor"] == "gpu"
        table = run_cli(
            velollm_exe, "fleet", "--target", base, "--once", "--interval", "0.2"
        ).stdout
        assert (
            "velollm" in table
            and "model llama3.3:70b · gpu+cpu · VRAM 30.0 GiB · RAM 14.0 GiB" in table
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.slow
def test_auth_file_guards_the_endpoint(velollm_exe, fake, tmp_path):
    auth = tmp_path / "auth"
    auth.write_text(f"bearer {TOKEN}\n")
    os.chmod(auth, 0o644)
    port = free_port()
    proc = subprocess.Popen(
        [
            velollm_exe,
            "exporter",
            "--listen",
            f"127.0.0.1:{port}",
            "--url",
            fake.url,
            "--auth-file",
            str(auth),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        ok = _wait_metrics(url, {"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        denied = httpx.get(url, timeout=5, trust_env=False)
        assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Bearer")
        assert b"velollm" not in denied.content
        wrong = httpx.get(url, headers={"Authorization": "Bearer nope"}, timeout=5, trust_env=False)
        assert wrong.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        err = proc.stderr.read()
        proc.stderr.close()
    assert "chmod 600" in err and TOKEN not in err


def test_remote_address_needs_the_flag(velollm_exe):
    res = run_cli(velollm_exe, "exporter", "--listen", "0.0.0.0:9877")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "--allow-remote" in res.stderr


def test_a_port_already_taken_is_one_line(velollm_exe):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = run_cli(
            velollm_exe, "exporter", "--listen", f"127.0.0.1:{port}", "--url", "http://127.0.0.1:1"
        )
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in res.stderr
