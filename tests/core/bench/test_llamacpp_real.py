"""Benchmarks through a real llama-server (SmolLM2-135M) — native, OpenAI-compatible, and Ollama's wire format."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core import jsonio
from velollm_desktop.core.bench.backends import LlamaCppBackend, OllamaBackend, OpenAIBackend
from velollm_desktop.core.bench.runner import run_benchmark
from velollm_desktop.core.bench.suites import suite
from velollm_desktop.core.llamacpp.binaries import LlamaBinary
from velollm_desktop.core.llamacpp.client import LlamaServerClient, OpenAIClient
from velollm_desktop.core.llamacpp.server import LlamaServer, ServerStartError, free_port
from velollm_desktop.core.ollama.errors import ServerNotRunning, StreamBroken

pytestmark = pytest.mark.slow


def test_native_completion_has_real_timings(llama_server):
    with LlamaServerClient(llama_server.url) as c:
        assert c.health()
        assert c.model_name().endswith(".gguf")
        m = c.measure("Count from one to ten:", 24)
    assert m.eval_count and 1 <= m.eval_count <= 24
    assert m.server_decode_tokens_per_s > 1 and m.decode_tokens_per_s > 1
    assert 0 < m.ttft_ms < m.total_ms
    assert m.prompt_tokens and m.prompt_tokens_per_s > 0
    assert m.text


def test_openai_compatible_client(llama_server):
    with OpenAIClient(llama_server.url) as c:
        models = c.models()
        assert models
        m = c.measure("Say hello.", 16, model=models[0])
    assert m.eval_count and m.eval_count <= 16
    assert m.decode_tokens_per_s and m.ttft_ms and m.text


@pytest.mark.parametrize("backend_kind", ["llamacpp", "openai"])
def test_quick_suite_against_real_server(llama_server, backend_kind):
    backend = (
        LlamaCppBackend(llama_server.url)
        if backend_kind == "llamacpp"
        else OpenAIBackend(llama_server.url)
    )
    seen = []
    result = run_benchmark(
        backend,
        suite("quick", runs=2, max_tokens=16),
        suite_name="quick",
        progress=lambda e: seen.append((e.done, e.total)),
    )
    backend.close()
    (test,) = result.results
    assert len(test.runs) == 2 and test.decode_tokens_per_s.n == 2
    assert (
        test.decode_tokens_per_s.min
        <= test.decode_tokens_per_s.mean
        <= test.decode_tokens_per_s.max
    )
    assert seen[-1] == (3, 3)  # warm-up + 2 runs
    assert result.server.kind == backend_kind and not result.cancelled
    # prompts are varied per run: no prompt-cache hit can inflate prompt speed
    if backend_kind == "llamacpp":
        assert all((r.cached_prompt_tokens or 0) == 0 for r in test.runs)


def test_ollama_wire_format_forwarding_real_numbers(llama_server):
    with FakeOllama(upstream=llama_server.url) as fake:
        backend = OllamaBackend(fake.url, MODEL)
        result = run_benchmark(backend, suite("quick", runs=2, max_tokens=24), suite_name="quick")
        backend.close()
    (test,) = result.results
    assert result.server.version == "0.33.0" and result.model_digest.startswith("sha256:")
    for r in test.runs:
        assert r.server_decode_tokens_per_s and r.decode_tokens_per_s
        # client clock vs llama-server's own counters, both real: they agree closely
        assert abs(r.decode_tokens_per_s / r.server_decode_tokens_per_s - 1) < 0.35
        assert r.eval_count and r.prompt_tokens_per_s


def test_export_json_has_the_documented_shape(llama_server):
    backend = LlamaCppBackend(llama_server.url)
    result = run_benchmark(
        backend, suite("quick", runs=2, max_tokens=8), suite_name="quick", warmup=False
    )
    backend.close()
    data = json.loads(jsonio.dumps(result))
    assert {"results", "hardware", "server", "model"} <= data.keys()
    t = data["results"][0]
    assert t["name"] == "quick_completion"
    assert {"mean", "stddev", "min", "max"} <= t["decode_tokens_per_s"].keys()
    for run in t["runs"]:
        assert {
            "ttft_ms",
            "decode_tokens_per_s",
            "server_decode_tokens_per_s",
            "prompt_tokens_per_s",
            "eval_count",
            "total_ms",
        } <= run.keys()


def test_cancel_mid_suite_returns_partial_results(llama_server):
    cancel = threading.Event()
    backend = LlamaCppBackend(llama_server.url)

    def progress(event):
        if event.done >= 2:
            cancel.set()

    result = run_benchmark(
        backend, suite("standard", runs=3, max_tokens=8), progress=progress, cancel=cancel
    )
    backend.close()
    assert result.cancelled
    assert sum(len(t.runs) for t in result.results) == 1


def test_server_killed_mid_stream_is_a_clear_error(smol_model):
    server = LlamaServer(smol_model, threads=2).start()
    try:
        with LlamaServerClient(server.url) as c:
            threading.Timer(0.3, lambda: os.killpg(server.proc.pid, signal.SIGKILL)).start()
            with pytest.raises((StreamBroken, ServerNotRunning)):
                c.measure("Write a very long essay about the sea.", 4000)
    finally:
        server.stop()
    assert server.proc.poll() is not None


def test_not_a_gguf_file_shows_server_stderr(tmp_path):
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"this is not a gguf file" * 100)
    server = LlamaServer(bogus, threads=1, start_timeout_s=60)
    with pytest.raises(ServerStartError, match="exited with status") as err:
        server.start()
    assert "gguf" in str(err.value).lower() or "model" in str(err.value).lower()
    assert server.proc.poll() is not None


def test_port_in_use_fails_fast(smol_model, llama_server):
    # The port is taken by the fixture's server, which answers /health: the start must refuse,
    # never take the other server's answer for its own, whatever the machine's load.
    server = LlamaServer(smol_model, threads=1, port=llama_server.port, start_timeout_s=60)
    with pytest.raises(ServerStartError, match="already in use"):
        server.start()
    assert server.proc is None  # nothing was started


def test_missing_model_file(tmp_path):
    with pytest.raises(ServerStartError, match="not found"):
        LlamaServer(tmp_path / "nope.gguf").start()


def _fake_binary(tmp_path: Path, body: str) -> LlamaBinary:
    script = tmp_path / "llama-server"
    script.write_text("#!/bin/bash\n" + body)
    script.chmod(0o755)
    return LlamaBinary(script, "settings")


def test_server_ignoring_sigterm_is_killed(tmp_path, smol_model):
    # A stand-in that answers nothing and ignores SIGTERM: cancel must still end it.
    binary = _fake_binary(tmp_path, "trap '' TERM\nwhile true; do sleep 0.1; done\n")
    cancel = threading.Event()
    server = LlamaServer(smol_model, binary=binary, port=free_port(), cancel=cancel)
    threading.Timer(0.5, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(ServerStartError, match="cancelled"):
        server.start()
    assert server.proc.poll() is not None
    assert time.monotonic() - t0 < 15  # SIGTERM ignored → SIGKILL after the grace period


def test_server_exiting_early_shows_last_lines(tmp_path, smol_model):
    binary = _fake_binary(tmp_path, "echo 'error: unknown argument: --frobnicate' >&2\nexit 3\n")
    with pytest.raises(ServerStartError, match="status 3(.|\n)*unknown argument"):
        LlamaServer(smol_model, binary=binary).start()


def test_server_dies_with_a_crashed_parent(smol_model, tmp_path):
    """The app (or a test run) crashing must not leave llama-server behind."""
    import subprocess
    import sys

    import psutil

    pidfile = tmp_path / "pid"
    code = (
        "import os, sys; from pathlib import Path; "
        "from velollm_desktop.core.llamacpp.server import LlamaServer; "
        f"s = LlamaServer(Path({str(smol_model)!r}), threads=1).start(); "
        f"Path({str(pidfile)!r}).write_text(str(s.proc.pid)); os._exit(9)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 9, res.stderr
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    alive = psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    assert not alive, "llama-server outlived its crashed parent"
