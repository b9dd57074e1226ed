"""`velollm compare --engine llama-speculative`: llama.cpp's CLI tools, parsed (TTFT too)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.fakes import FIXTURES
from velollm_desktop.core.speculative.cli_parsers import parse_completion, parse_speculative


def test_ttft_parsed_from_recorded_tool_output():
    spec = parse_speculative((FIXTURES / "llamacpp" / "llama-speculative-b11434.txt").read_text())
    comp = parse_completion((FIXTURES / "llamacpp" / "llama-completion-b11434.txt").read_text())
    assert spec.ttft_ms == pytest.approx(87.0) and comp.ttft_ms == pytest.approx(34.42)
    assert parse_speculative("no timing here").ttft_ms is None


def test_needs_a_draft(velollm_exe, smol_model):
    res = run_cli(
        velollm_exe, "compare", "--engine", "llama-speculative", "--target", str(smol_model)
    )
    assert res.returncode != 0 and "needs --draft" in res.stderr


@pytest.mark.slow
def test_cli_tools_engine_runs_both_tools(velollm_exe, tmp_path, smol_f32, smol_model):
    out = tmp_path / "tools.json"
    res = run_cli(
        velollm_exe,
        "compare",
        "--engine",
        "llama-speculative",
        "--target",
        str(smol_f32),
        "--draft",
        str(smol_model),
        "--runs",
        "1",
        "--n-predict",
        "16",
        "--json",
        str(out),
        "-q",
        timeout=400,
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    for key in ("vanilla", "speculative"):
        assert data[key]["decode_tokens_per_s"]["mean"] > 0 and data[key]["ttft_ms"]["mean"] > 0
    assert data["speculative"]["drafted"] > 0 and 0 <= data["speculative"]["acceptance"] <= 1
    assert data["speedup"] > 0 and "llama-speculative" in res.stdout
