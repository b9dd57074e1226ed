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
    rows = list(csv.DictReader(out_csv.open()))
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


def _data_model(tmp_path):
    return tmp_path / "data" / "velollm-desktop" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_builtin_needs_consent_before_downloading(velollm_exe, tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    res = run_cli(velollm_exe, "benchmark", "--backend", "builtin", env=env)
    assert res.returncode == 2 and "--yes" in res.stderr and "93 MB" in res.stdout
    assert not (tmp_path / "data").exists()


def test_builtin_checks_llama_server_before_anything(velollm_exe, tmp_path):
    cfg = tmp_path / "cfg" / "velollm-desktop"
    cfg.mkdir(parents=True)
    (cfg / "settings.json").write_text(json.dumps({"llama_server_path": str(tmp_path / "none")}))
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(cfg.parent))
    res = run_cli(velollm_exe, "benchmark", "--backend", "builtin", "--yes", env=env)
    assert res.returncode == 2 and "cannot run" in res.stderr and "llama-server" in res.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_builtin_runs_a_real_benchmark(velollm_exe, tmp_path, smol_model):
    model = _data_model(tmp_path)
    model.parent.mkdir(parents=True)
    model.symlink_to(smol_model)  # already downloaded
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    res = run_cli(
        velollm_exe,
        "benchmark",
        "--backend",
        "builtin",
        "--suite",
        "quick",
        "--runs",
        "1",
        "--no-history",
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "llamacpp" in res.stdout and "quick_completion" in res.stdout
