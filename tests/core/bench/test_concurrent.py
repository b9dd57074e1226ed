"""The concurrent benchmark against a real llama-server: aggregate figures, and a server that
dies mid-run (its errors are the server's, none are ours, every client ends)."""

from __future__ import annotations

import threading

import pytest

from velollm_desktop.core.bench.backends import LlamaCppBackend
from velollm_desktop.core.bench.concurrent import run_load
from velollm_desktop.core.llamacpp.server import LlamaServer

pytestmark = pytest.mark.slow


def test_four_clients_aggregate_and_percentiles(llama_server):
    r = run_load(lambda: LlamaCppBackend(llama_server.url), 4, 6.0, max_tokens=16, interval_s=2)
    assert r.our_errors == () and r.server_errors == ()
    assert r.requests_ok >= 4 and r.generated_tokens >= 4 * 16 * 0.5
    assert r.tokens_per_s == pytest.approx(r.generated_tokens / r.duration_s)
    assert r.latency_p50_ms <= r.latency_p95_ms and r.ttft_p50_ms <= r.latency_p50_ms
    assert 6.0 <= r.duration_s < 30 and len(r.series) >= 3


def test_server_killed_mid_run_is_the_servers_error_not_ours(smol_model):
    with LlamaServer(smol_model, ["-np", "2"], threads=2, ctx_size=2048) as server:
        threading.Timer(2.0, server.proc.kill).start()
        r = run_load(lambda: LlamaCppBackend(server.url), 3, 5.0, max_tokens=16)
    assert r.server_errors and r.our_errors == ()
    assert any("not running" in e or "connection" in e.lower() for e in r.server_errors)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="clients"):
        run_load(lambda: None, 0, 1.0)
