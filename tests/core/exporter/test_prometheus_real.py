"""The exporter scraped by a real Prometheus while the stand-in Ollama goes up, hangs, sends
garbage and goes down; the auth file keeps other scrapers out."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest

from tests.core.exporter.helpers import GIB, h100_sampler, ps_model
from tests.core.exporter.prometheus import Prometheus
from tests.ollama_fake import FakeOllama
from velollm_desktop.core.exporter.listen import ListenAddress, read_auth_file
from velollm_desktop.core.exporter.server import Exporter

TOKEN = "s3cr3t-token-0123456789abcdef"
DASHBOARD = Path(__file__).resolve().parents[3] / "resources" / "grafana" / "velollm-exporter.json"


def dashboard_queries() -> dict[str, list[str]]:
    """Panel title → its PromQL, with Grafana's variables as Grafana would fill them."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    fill = {"$instance": ".*", "$__rate_interval": "5s", "$__range": "1m"}
    out = {}
    for panel in panels:
        exprs = []
        for target in panel["targets"]:
            expr = target["expr"]
            for var, value in fill.items():
                expr = expr.replace(var, value)
            assert "$" not in expr, expr
            exprs.append(expr)
        out[panel["title"]] = exprs
    return out


def test_dashboard_names_only_series_we_export():
    text = generate_latest(_exporter_for_names().registry).decode()
    names = set(re.findall(r"^(velollm_[a-z_]+)", text, re.M))
    for title, exprs in dashboard_queries().items():
        for expr in exprs:
            used = set(re.findall(r"velollm_[a-z_]+", expr))
            assert used and used <= names, (title, used - names)


def _exporter_for_names() -> Exporter:
    from tests.core.exporter.helpers import GIB as gib
    from velollm_desktop.core.exporter.state import BenchRow, ModelSnapshot, OllamaSnapshot

    exp = Exporter(
        ListenAddress("127.0.0.1", 0),
        ollama_url="http://127.0.0.1:1",
        history_path=None,
        own_sampler=False,
    )
    model = ModelSnapshot("m", "ab", "gpu+cpu", 2 * gib, gib, 4096, 2e9, True)
    exp.state.set_ollama(OllamaSnapshot(True, 0.0, 0.01, "0.33.0", (model,)))
    exp.state.set_bench((BenchRow("m", "ollama", "quick", 1.7e9, 50.0, 900.0, 0.1, 0.2),))
    exp.state.set_system(h100_sampler().sample())
    return exp


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

                fake.ps_delay_s = 10.0  # Ollama hangs: up 0 within the deadline, scrapes go on
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
