"""core/optimize/flow.py: the Apply/Undo flow both front ends call, with typed outcomes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.ollama_fake import FakeOllama
from velollm_desktop.core.llamacpp.server import free_port
from velollm_desktop.core.optimize import flow
from velollm_desktop.core.optimize.apply import Applier

ORIGINAL = b"[Service]\nEnvironment=OLLAMA_KEEP_ALIVE=5m\n"


def _applier(tmp_path: Path, runner=None) -> tuple[Applier, Path]:
    dropin = tmp_path / "ollama.service.d" / "override.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_bytes(ORIGINAL)
    ok = runner or (lambda argv: subprocess.CompletedProcess(argv, 0, "", ""))
    return Applier(runner=ok, journal=tmp_path / "j.json", platform="linux", dropin=dropin), dropin


def test_apply_then_undo_wait_until_ollama_answers_again(tmp_path):
    applier, dropin = _applier(tmp_path)
    with FakeOllama() as fake:
        out = flow.apply_recommendation(
            applier, applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}), wait_url=fake.url
        )
        assert out.kind is flow.ApplyKind.APPLIED and out.answering is True and not out.late
        assert out.backup is not None and out.backup.read_bytes() == ORIGINAL
        assert out.text == f"Applied to {dropin} (backup {out.backup})"
        back = flow.undo(applier, wait_url=fake.url)
    assert back.kind is flow.UndoKind.UNDONE and back.answering is True
    assert dropin.read_bytes() == ORIGINAL


def test_a_server_that_does_not_come_back_is_said_within_the_bound(tmp_path):
    applier, _ = _applier(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    out = flow.apply_recommendation(
        applier, applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}), wait_url=url, wait_s=0.3
    )
    assert out.kind is flow.ApplyKind.APPLIED and out.answering is False
    assert out.late == f"Ollama did not answer at {url} within 0.3 s of the restart"
    assert out.text.endswith(out.late)


def test_waiting_polls_until_the_first_answer():
    calls = []

    def answers(url):
        calls.append(url)
        return len(calls) == 3

    assert flow.wait_until_answers("http://x", 30, answers=answers) is True and len(calls) == 3
    assert flow.wait_until_answers("http://x", 0.0, answers=lambda url: False) is False


def test_expected_failures_are_outcomes_and_bugs_are_raised(tmp_path):
    def failing(argv):
        return subprocess.CompletedProcess(argv, 1, "", "unit not found")

    applier, dropin = _applier(tmp_path, failing)
    out = flow.apply_recommendation(applier, applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    assert out.kind is flow.ApplyKind.FAILED and "previous configuration was restored" in out.error
    assert out.text == f"Not applied: {out.error}" and dropin.read_bytes() == ORIGINAL

    def buggy(argv):
        raise ValueError("a bug")

    applier, dropin = _applier(tmp_path / "b", buggy)
    with pytest.raises(ValueError, match="a bug"):  # reaches the job runner's log, traceback kept
        flow.apply_recommendation(applier, applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    assert dropin.read_bytes() == ORIGINAL and not applier.can_undo()  # rolled back all the same


def test_undo_of_an_edited_file_asks_first(tmp_path):
    applier, dropin = _applier(tmp_path)
    flow.apply_recommendation(applier, applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    dropin.write_text(dropin.read_text() + "# mine\n")
    out = flow.undo(applier)
    assert out.kind is flow.UndoKind.EDITED and "edited after VeloLLM wrote it" in out.text
    assert "# mine" in dropin.read_text()
    assert flow.undo(applier, force=True).kind is flow.UndoKind.UNDONE
    assert dropin.read_bytes() == ORIGINAL
    nothing = flow.undo(applier, wait_url="http://127.0.0.1:1", wait_s=30)
    assert nothing.kind is flow.UndoKind.UNDONE and nothing.answering is None  # no restart: no wait
