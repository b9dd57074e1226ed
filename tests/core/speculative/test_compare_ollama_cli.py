"""`velollm compare --as-ollama / --apply-to-ollama`: the fourth mode and the offer."""

from __future__ import annotations

import argparse
import json

import pytest

from tests.conftest import run_cli
from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.cli import CliError
from velollm_desktop.commands import compare_ollama
from velollm_desktop.core.bench.stats import summarize
from velollm_desktop.core.ollama.derived import DerivedJournal
from velollm_desktop.core.speculative.compare import OLLAMA_MODE, CompareResult, ModeResult

SPEC = "smollm2-spec:135m"


@pytest.mark.slow
def test_as_ollama_says_why_instead_of_failing(velollm_exe, tmp_path, smol_f32, smol_model):
    out = tmp_path / "c.json"
    res = run_cli(
        velollm_exe,
        "compare",
        "--target",
        str(smol_f32),
        "--draft",
        str(smol_model),
        "--as-ollama",
        "--runs",
        "1",
        "--n-predict",
        "16",
        "--json",
        str(out),
        "-q",
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert [m["mode"] for m in data["modes"]] == ["vanilla", "draft"]
    refused = [a for a in data["advice"] if a.startswith("as Ollama would run it")]
    assert refused and "--spec-type draft-mtp" in refused[0] and "MTP" in refused[0]
    assert "refuses these flags" in res.stdout


def test_apply_to_ollama_needs_an_ollama_target(velollm_exe, smol_model):
    res = run_cli(velollm_exe, "compare", "--target", str(smol_model), "--apply-to-ollama")
    assert res.returncode != 0 and "needs an Ollama target" in res.stderr


def _result(lo: float) -> CompareResult:
    stats = summarize([50.0, 51.0, 52.0])
    ollama = ModeResult(
        OLLAMA_MODE,
        ("--spec-type", "draft-mtp", "--spec-draft-n-max", "5", "--spec-draft-backend-sampling"),
        (),
        stats,
        None,
        None,
        None,
        0,
        0,
        1.3,
        (lo, 1.5),
    )
    vanilla = ModeResult("vanilla", (), (), stats, None, None, None, 0, 0, 1.0, (1.0, 1.0))
    return CompareResult("x", "t", "smol", None, 16, 1, (vanilla, ollama), ())


def _args(url: str, yes: bool) -> argparse.Namespace:
    return argparse.Namespace(target=f"ollama:{MODEL}", yes=yes, url=url)


def test_apply_offer_decline_creates_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("velollm_desktop.core.ollama.derived.data_dir", lambda: tmp_path)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _: "n")
    with FakeOllama() as fake:
        assert compare_ollama.apply_to_ollama(_args(fake.url, False), _result(1.1), None) == 1
        assert fake.derived == {} and "nothing created" in capsys.readouterr().out
        assert compare_ollama.apply_to_ollama(_args(fake.url, True), _result(0.9), None) == 1
        assert fake.derived == {}  # not significant: no offer at all


def test_apply_offer_accept_creates_and_measures(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("velollm_desktop.core.ollama.derived.data_dir", lambda: tmp_path)
    with FakeOllama() as fake:
        assert compare_ollama.apply_to_ollama(_args(fake.url, True), _result(1.1), None) == 0
        assert fake.derived == {SPEC: {"draft_num_predict": 5}}
        out = capsys.readouterr().out
        assert "through Ollama 0.33.0" in out and f"--undo-ollama {SPEC}" in out
        assert DerivedJournal(tmp_path / "ollama-derived.json").ours(SPEC)
        with pytest.raises(CliError, match="needs --yes"):
            compare_ollama.apply_to_ollama(_args(fake.url, False), _result(1.1), None)


def test_compare_says_when_mtp_heads_sit_unused(tmp_path):
    from tests.gguf_writer import write_gguf
    from velollm_desktop.commands.compare import _model_notes

    glm = write_gguf(
        tmp_path / "glm.gguf",
        {"general.architecture": "glm4moe", "glm4moe.nextn_predict_layers": 1},
    )
    (note,) = _model_notes(argparse.Namespace(target=str(glm), url=None), glm)
    assert "will not use them unless draft_num_predict is set" in note
    with FakeOllama() as fake:  # an Ollama model: read through /api/show
        fake.derived["glm-spec:latest"] = {"draft_num_predict": 0}
        args = argparse.Namespace(target="ollama:glm-spec:latest", url=fake.url)
        assert _model_notes(args, glm) == []  # no heads in what /api/show reports for it
        assert ("POST", "/api/show") in [(r[0], r[1]) for r in fake.requests]


def test_cli_undo_ollama_deletes_only_ours(velollm_exe):
    import os

    with FakeOllama() as fake:
        env = dict(os.environ)
        fake.derived[SPEC] = {"draft_num_predict": 2}  # not made by VeloLLM
        res = run_cli(velollm_exe, "compare", "--undo-ollama", SPEC, "--url", fake.url, env=env)
        assert res.returncode != 0 and "not created by VeloLLM" in res.stderr
        assert SPEC in fake.derived
        res = run_cli(velollm_exe, "compare", "--runs", "1", env=env)
        assert res.returncode != 0 and "--target is required" in res.stderr
