"""A failure's fix is typed: the app and the CLI each word it, whatever the core message says.

Core messages carry no face's words (no "Settings", no "--url"); rewording one never loses the
fix, and the same words in another failure never produce one.
"""

from __future__ import annotations

import logging

import pytest

from velollm_desktop import cli_errors
from velollm_desktop.core.failure import Fix, UserFacingError, fix_of
from velollm_desktop.core.http.errors import (
    BadResponse,
    OllamaNotRunning,
    ServerNotRunning,
    from_transport,
)
from velollm_desktop.core.llamacpp.binaries import BinaryNotFound, NotInConfiguredPath, find_program
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.workers import errors
from velollm_desktop.workers.runner import Job, JobRunner, JobState

APP_ADDRESS = ", or set the right address in Settings"
CLI_ADDRESS = ", or pass the right address with --url URL (or set OLLAMA_HOST)"
APP_FOLDER = "; or set their folder in Settings"


@pytest.mark.parametrize(
    ("error", "app", "cli"),
    [
        (OllamaNotRunning("Ollama went quiet (reworded)"), APP_ADDRESS, CLI_ADDRESS),
        (BinaryNotFound("no llama.cpp here (reworded)"), APP_FOLDER, ""),
        (ServerNotRunning("llama-server is not running at http://x:1: start it"), "", ""),
        (NotInConfiguredPath("the configured llama.cpp path /x does not contain it"), "", ""),
        (BadResponse(f"a reply that quotes{APP_ADDRESS} and{CLI_ADDRESS}"), "", ""),
    ],
    ids=["ollama-down", "no-engine", "llama-server-down", "configured-folder", "same-words"],
)
def test_each_face_words_the_typed_fix_after_any_message(error, app, cli):
    assert errors.say(error) == str(error) + app
    assert cli_errors.say(error) == str(error) + cli


def test_core_messages_name_no_face_but_keep_their_fix():
    down = from_transport(
        ConnectionRefusedError(),
        "Ollama",
        "http://127.0.0.1:9",
        OllamaClient.START_HINT,
        OllamaNotRunning,
    )
    assert isinstance(down, OllamaNotRunning) and fix_of(down) is Fix.START_OLLAMA
    assert fix_of(down).starts_server  # the Benchmark page offers the built-in engine
    with pytest.raises(BinaryNotFound) as info:
        find_program("llama-no-such-tool", configured="")
    for exc in (down, info.value):
        assert "Settings" not in str(exc) and "--url" not in str(exc)
    assert errors.say(down) == (
        "Ollama is not running at http://127.0.0.1:9: start it with `ollama serve` (or open the "
        "Ollama app), or set the right address in Settings"
    )
    assert cli_errors.say(info.value).endswith("or put llama.cpp's binaries on PATH")
    assert errors.say(info.value).endswith("or put llama.cpp's binaries on PATH" + APP_FOLDER)


def test_every_fix_that_needs_words_has_them_on_each_face():
    worded = {Fix.START_OLLAMA, Fix.INSTALL_ENGINE}
    assert set(errors.FIX_WORDS) == worded
    assert set(cli_errors.FIX_WORDS) <= worded
    assert all(fix_of(cls("m")) in worded for cls in (OllamaNotRunning, BinaryNotFound))


def test_a_job_failure_carries_the_apps_words_and_the_typed_fix(qtbot, caplog):
    runner = JobRunner()

    def down(progress, cancel):
        raise OllamaNotRunning("Ollama went quiet (reworded)")

    job = Job(down, label="benchmark")
    failed: list[str] = []
    job.failed.connect(failed.append)
    with caplog.at_level(logging.INFO, logger="velollm_desktop.jobs"):
        runner.submit(job)
        qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=10_000)
    assert not runner.shutdown(10.0)
    assert failed == ["Ollama went quiet (reworded)" + APP_ADDRESS]
    assert job.failure is not None and job.failure.fix is Fix.START_OLLAMA
    assert job.failure.expected and job.failure.type_name == "OllamaNotRunning"
    assert isinstance(job.error, UserFacingError)
    assert not [r for r in caplog.records if r.exc_info]


def test_a_note_that_names_a_fix_gets_each_faces_words_not_by_its_text(monkeypatch, capsys):
    """The Optimize page's and `velollm optimize`'s notes: Ollama not answering is a note,
    not a raised failure; it still carries its typed fix, worded by each face."""
    from velollm_desktop.cli import main
    from velollm_desktop.core.failure import FixNote, note_fix
    from velollm_desktop.core.optimize.session import gather_models
    from velollm_desktop.core.optimize.table import worded

    _, _, notes = gather_models("http://127.0.0.1:9")
    assert [note_fix(n) for n in notes] == [Fix.START_OLLAMA]
    assert "Settings" not in notes[0] and "--url" not in notes[0]  # no face's words in core
    assert worded(notes, errors.fix_text) == [notes[0] + APP_ADDRESS]
    assert worded(notes, cli_errors.fix_text) == [notes[0] + CLI_ADDRESS]
    reworded = FixNote("nothing at all answers there", Fix.START_OLLAMA)
    assert worded([reworded, "a plain note"], errors.fix_text) == [
        "nothing at all answers there" + APP_ADDRESS,
        "a plain note",
    ]
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    assert main(["optimize", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "Ollama is not running" in err and "--url URL" in err and "Settings" not in err
