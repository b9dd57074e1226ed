"""LLAMA_ARG_* in the Ollama service environment reach the llama-server it starts (Ollama ≥ 0.30).

The stand-in Ollama (tests/ollama_fake.py, runner mode) starts a real llama-server with the
service environment's LLAMA_ARG_* variables, as Ollama's `SetupLlamaServerCommandEnv` does;
the variable is written by the optimizer's real Applier (drop-in, journal, undo) and the
service restarted from that file — apply → restart → re-measure, for real on the CPU.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.sources import parse_environment_lines
from velollm_desktop.core.tune.ollama import ServiceSettings

pytestmark = pytest.mark.slow


def _runner_environ(fake: FakeOllama) -> dict[str, str]:
    runner = fake._runner
    assert runner is not None and runner.proc is not None
    raw = Path(f"/proc/{runner.proc.pid}/environ").read_bytes()
    return dict(e.split("=", 1) for e in raw.decode(errors="replace").split("\0") if "=" in e)


def test_llama_arg_from_the_dropin_reaches_the_real_llama_server_and_undo_removes_it(
    smol_model, tmp_path
):
    dropin = tmp_path / "ollama.service.d" / "override.conf"
    dropin.parent.mkdir()
    dropin.write_text('[Service]\nEnvironment="OLLAMA_HOST=127.0.0.1:11434"\n')
    with FakeOllama(runner_model=smol_model, env={"OLLAMA_HOST": "127.0.0.1:11434"}) as fake:

        def systemctl(argv):
            if tuple(argv[-2:]) == ("restart", "ollama"):
                fake.restart_service(parse_environment_lines(dropin.read_text()))
            return subprocess.CompletedProcess(list(argv), 0, "", "")

        applier = Applier(
            runner=systemctl, journal=tmp_path / "journal.json", platform="linux", dropin=dropin
        )
        settings = ServiceSettings(fake.url, applier, wait_s=10)
        with OllamaClient(fake.url) as client:
            before = client.preload(MODEL)
            assert "LLAMA_ARG_N_CPU_MOE" not in _runner_environ(fake)
            settings.apply({"LLAMA_ARG_N_CPU_MOE": "2"})
            assert 'Environment="LLAMA_ARG_N_CPU_MOE=2"' in dropin.read_text()
            after = client.preload(MODEL)  # the restarted service starts a new runner
            env = _runner_environ(fake)
            assert env["LLAMA_ARG_N_CPU_MOE"] == "2"
            assert fake.launched_env[-1] == {"LLAMA_ARG_N_CPU_MOE": "2"}
            # llama.cpp ignores --n-cpu-moe for a dense model: it still generates
            chunks = list(client.generate(MODEL, "Hi", options={"num_predict": 4}))
            assert (
                chunks[-1].done and (chunks[-1].eval_count or 0) > 0 and chunks[-1].eval_duration_ns
            )
            settings.restore()
            assert "LLAMA_ARG_N_CPU_MOE" not in dropin.read_text()
            client.preload(MODEL)
            assert "LLAMA_ARG_N_CPU_MOE" not in _runner_environ(fake)
        assert before.load_duration_ns and after.load_duration_ns
        assert [e.get("LLAMA_ARG_N_CPU_MOE") for e in fake.launched_env] == [None, "2", None]
