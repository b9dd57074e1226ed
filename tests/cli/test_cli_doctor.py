"""`velollm doctor`: exit 1 on a problem, 0 when none, 2 when no server answered."""

from __future__ import annotations

import json

import pytest

from tests.core.doctor.scenarios import GIB, gpu_machine, install, ps
from tests.ollama_fake import FakeOllama
from velollm_desktop import cli
from velollm_desktop.core import jsonio
from velollm_desktop.core.optimize.fit import use_projector


@pytest.fixture
def hw_file(tmp_path):
    path = tmp_path / "detect.json"
    path.write_text(jsonio.dumps(gpu_machine(8 * 1024, used_mib=300)))
    return path


@pytest.fixture(autouse=True)
def _formula_only(monkeypatch):
    previous = use_projector(None)
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "f16")
    yield
    use_projector(previous)


def test_spill_found_exits_1_with_the_cause_and_fix(capsys, hw_file):
    with FakeOllama() as fake:
        install(fake)
        fake.ps_models = [ps("llama3.1:8b", 20 * GIB, 0, 131072)]
        code = cli.main(["doctor", "--url", fake.url, "--hardware", str(hw_file)])
    out = capsys.readouterr().out
    assert code == 1
    assert "[PROBLEM] on_cpu: llama3.1:8b is wholly in system RAM" in out
    assert "fix (derived_model): Use " in out


def test_json_report_and_exit_0_when_on_gpu(capsys, hw_file):
    with FakeOllama() as fake:
        install(fake)
        fake.ps_models = [ps("llama3.2:1b", 1.9 * GIB, 1.9 * GIB, 4096)]
        code = cli.main(["doctor", "--json", "--url", fake.url, "--hardware", str(hw_file)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["problems"] == 0 and data["unreachable"] == []


def test_no_server_answering_exits_2_with_one_line(capsys, hw_file):
    code = cli.main(["doctor", "--url", "http://127.0.0.1:9", "--hardware", str(hw_file)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no server answered" in err


def test_usage_errors_exit_2(capsys, tmp_path):
    assert cli.main(["doctor", "--no-ollama"]) == 2
    bad = tmp_path / "x.json"
    bad.write_text("[1]")
    assert cli.main(["doctor", "--hardware", str(bad)]) == 2
    assert "--hardware" in capsys.readouterr().err
