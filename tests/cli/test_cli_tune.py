"""`velollm tune --backend ollama` end to end: the installed CLI against the Ollama fake in runner
mode (a real llama-server behind Ollama's wire format; see tests/ollama_fake.py)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.ollama_fake import MODEL, FakeOllama

pytestmark = pytest.mark.slow


def test_tune_ollama_json_and_apply(velollm_exe, smol_model, tmp_path):
    out = tmp_path / "tune.json"
    with FakeOllama(runner_model=smol_model) as fake:
        r = run_cli(
            velollm_exe,
            *("tune", "--backend", "ollama", "--model", MODEL, "--url", fake.url),
            *("--budget", "20", "--n-predict", "12", "--json", str(out), "--apply"),
            timeout=240,
        )
        assert r.returncode == 0, r.stderr
        data = json.loads(out.read_text())
        assert data["backend"] == "ollama" and data["unit"] == "tokens/s"
        assert data["baseline"]["name"] == "current settings" and data["baseline"]["mean"] > 0
        measured = [c for c in data["candidates"] if c["mean"] is not None]
        assert measured[0]["name"] == "current settings"  # the baseline, whatever the load
        assert all(c["load_ms"] > 0 for c in measured)
        assert all(
            c["pruned"].startswith(("not measured", "stopped"))
            for c in data["candidates"]
            if c["mean"] is None and c["pruned"]
        )
        # never a server variable without consent, never one Ollama does not read
        assert all(not c["settings"]["server_env"] for c in measured)
        assert data["gain"] >= 1.0 and data["winner"]["name"] in {c["name"] for c in measured}
        if data["winner"]["settings"]["options"]:
            assert (
                "smollm2-velollm:135m" in fake.derived and "created the model" in r.stdout.lower()
            )
        else:
            assert "nothing to apply" in r.stdout and not fake.derived
        assert fake.service_restarts == []


def test_tune_ollama_not_running_is_one_clear_line(velollm_exe):
    r = run_cli(
        velollm_exe, "tune", "--backend", "ollama", "--model", MODEL, "--url", "http://127.0.0.1:9"
    )
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not running" in lines[0].lower()


def test_tune_llamacpp_budget_is_a_hard_limit_and_said_in_sentences(
    velollm_exe, smol_model, tmp_path
):
    """A budget far too small for the default candidates: the baseline is measured, the
    others are listed as not measured (or stopped), the clock is printed against the budget,
    and the verdict says what happened in whole sentences."""
    out = tmp_path / "tune.json"
    r = run_cli(
        velollm_exe,
        *("tune", "--model", str(smol_model), "--budget", "4", "--n-predict", "8"),
        *("--json", str(out)),
        timeout=240,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert data["baseline"]["mean"] and data["baseline"]["samples"]
    unmeasured = [c for c in data["candidates"] if c["mean"] is None]
    assert all(c["pruned"].startswith(("not measured", "stopped", "needs")) for c in unmeasured)
    assert " s / 4 s] " in r.stderr  # progress: elapsed against the budget
    if not data["significant"]:
        assert "(baseline, kept)" in r.stdout and "← winner" not in r.stdout
    if len(unmeasured) == len(data["candidates"]) - 1:
        assert "Nothing was measured beyond the baseline: the time budget ended first." in r.stdout
    for line in r.stdout.splitlines():
        if line.startswith("note: "):
            assert line.endswith(".") and ". ." not in line
