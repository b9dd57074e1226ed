"""`velollm benchmark` through the installed script."""

from __future__ import annotations

import csv
import json
import os

import pytest

from tests.conftest import run_cli
from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.llamacpp.server import free_port


def test_benchmark_without_ollama_is_one_clear_line(velollm_exe):
    env = dict(os.environ, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    res = run_cli(velollm_exe, "benchmark", env=env)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "velollm: error: Ollama is not running at http://127.0.0.1:"
    )
    assert "ollama serve" in lines[0]
    assert "Traceback" not in res.stderr


def test_benchmark_unknown_model_says_pull(velollm_exe):
    with FakeOllama() as fake:
        res = run_cli(
            velollm_exe,
            "benchmark",
            "--url",
            fake.url,
            "--model",
            "llama9:70b",
            "--suite",
            "quick",
            "-q",
        )
    assert res.returncode == 2
    assert "ollama pull llama9:70b" in res.stderr


def test_benchmark_ollama_writes_json_and_csv(velollm_exe, tmp_path):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    with FakeOllama() as fake:
        res = run_cli(
            velollm_exe,
            "benchmark",
            "--url",
            fake.url,
            "--suite",
            "quick",
            "--runs",
            "2",
            "--json",
            str(out_json),
            "--csv",
            str(out_csv),
            "-q",
        )
    assert res.returncode == 0, res.stderr
    assert "quick_completion" in res.stdout and "saved in the history as #1" in res.stdout
    data = json.loads(out_json.read_text())
    assert data["model"] == MODEL and data["server"]["kind"] == "ollama"
    assert len(data["results"][0]["runs"]) == 2
    with out_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and float(rows[0]["decode_tokens_per_s"]) > 0


@pytest.mark.slow
def test_benchmark_llamacpp_real_server(velollm_exe, llama_server, tmp_path):
    out = tmp_path / "r.json"
    res = run_cli(
        velollm_exe,
        "benchmark",
        "--backend",
        "llamacpp",
        "--url",
        llama_server.url,
        "--suite",
        "quick",
        "--runs",
        "2",
        "--max-tokens",
        "16",
        "--json",
        str(out),
        "-q",
        "--no-history",
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    agg = data["results"][0]["decode_tokens_per_s"]
    assert agg["min"] <= agg["mean"] <= agg["max"] and agg["mean"] > 1
