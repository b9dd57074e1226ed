"""The exporter scraped by a real Prometheus while the stand-in Ollama goes up, hangs, sends
garbage and goes down; the auth file keeps other scrapers out."""

from __future__ import annotations

import os
import threading

import httpx
import pytest

from tests.core.exporter.helpers import GIB, h100_sampler, ps_model
from tests.core.exporter.prometheus import Prometheus
from tests.ollama_fake import FakeOllama
from velollm_desktop.core.exporter.listen import ListenAddress, read_auth_file
from velollm_desktop.core.exporter.server import Exporter

TOKEN = "s3cr3t-token-0123456789abcdef"


def _value(result) -> float | None:
    return result[0][1] if result else None


@pytest.mark.slow
def test_prometheus_scrapes_models_and_gpu_through_ollama_up_hang_garbage_down(tmp_path):
    token = tmp_path / "token"
    token.write_text(f"bearer {TOKEN}\n")
    os.chmod(token, 0o600)
    prom_token = tmp_path / "prom-token"  # Prometheus' credentials_file: the token alone
    prom_token.write_text(TOKEN)
    (tmp_path / "prom").mkdir()
    auth, warning = read_auth_file(token)
    assert warning is None
    before = {t.name for t in threading.enumerate()}
    with FakeOllama() as fake:
        fake.ps_models = [
            ps_model("llama3.3:70b", 44 * GIB, 30 * GIB),
            ps_model("qwen3:8b", 6 * GIB, 6 * GIB),
        ]
        exporter = Exporter(
            ListenAddress("127.0.0.1", 0),
            ollama_url=fake.url,
            history_path=None,
            auth=auth,
            sampler=h100_sampler(),
            period_s=0.5,
            deadline_s=1.0,
        )
        exporter.start()
        try:
            target = f"127.0.0.1:{exporter.port}"
            assert httpx.get(exporter.url, trust_env=False).status_code == 401  # no token: nothing
            with Prometheus(tmp_path / "prom", target, token_file=prom_token) as prom:
                rows = prom.wait_for("velollm_ollama_model_vram_bytes", lambda r: len(r) == 2)
                by_model = {m["model"]: (m, v) for m, v in rows}
                labels, vram = by_model["llama3.3:70b"]
                assert (labels["digest"], labels["processor"], labels["job"]) == (
                    "9f438cb9cd58",
                    "gpu+cpu",
                    "velollm",
                )
                assert vram == 30 * GIB
                assert _value(prom.query("velollm_ollama_model_spill{model='llama3.3:70b'}")) == 1.0
                assert _value(prom.query("velollm_ollama_up")) == 1.0
                gpu = prom.wait_for("velollm_gpu_energy_joules_total", lambda r: bool(r))
                assert gpu[0][0]["name"] == "NVIDIA H100 80GB HBM3" and gpu[0][0][
                    "uuid"
                ].startswith("GPU-")
                prom.wait_for(
                    "rate(velollm_gpu_energy_joules_total[5s])", lambda r: bool(r) and r[0][1] > 0
                )

                fake.ps_delay_s = 30.0  # Ollama hangs: up 0 within the deadline, scrapes go on
                prom.wait_for("velollm_ollama_up", lambda r: _value(r) == 0.0)
                assert _value(prom.query("up{job='velollm'}")) == 1.0
                assert _value(prom.query("velollm_gpu_power_watts")) == 72.12
                fake.ps_delay_s = 0.0

                fake.ps_body = b"\x00\xff garbage {"  # garbage: still down, errors counted
                errors = _value(prom.query("velollm_ollama_poll_errors_total")) or 0.0
                prom.wait_for(
                    "velollm_ollama_poll_errors_total", lambda r: (_value(r) or 0) > errors + 1
                )
                assert _value(prom.query("velollm_ollama_up")) == 0.0
                fake.ps_body = None
                prom.wait_for("velollm_ollama_up", lambda r: _value(r) == 1.0)  # back
        except BaseException:
            exporter.stop(10.0)
            raise
    # the stand-in is gone now (connection refused); the exporter still answers
    try:
        (tmp_path / "prom2").mkdir()
        with Prometheus(tmp_path / "prom2", target, token_file=prom_token) as prom:
            prom.wait_for("velollm_ollama_up", lambda r: _value(r) == 0.0)
            assert _value(prom.query("up{job='velollm'}")) == 1.0
            assert prom.query("velollm_ollama_model_vram_bytes") == []  # no stale model rows
            assert _value(prom.query("velollm_gpu_power_watts")) == 72.12
    finally:
        assert exporter.stop(10.0)
    left = {t.name for t in threading.enumerate()} - before
    assert not {n for n in left if n.startswith("velollm-exporter")}, left
