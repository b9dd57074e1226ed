"""`velollm` with no arguments, help texts and examples, the CLI's own fixes, the table header."""

from __future__ import annotations

import argparse
import os

import pytest

from tests.conftest import run_cli
from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop import cli
from velollm_desktop.cli import build_parser
from velollm_desktop.cli_errors import say
from velollm_desktop.commands.benchmark import render_table
from velollm_desktop.core.bench.model import BenchmarkResult, RunMeasurement, ServerInfo
from velollm_desktop.core.bench.model import TestResult as BenchTestResult
from velollm_desktop.core.bench.stats import summarize
from velollm_desktop.core.hardware.model import CpuInfo, HardwareSpec, MemoryInfo
from velollm_desktop.core.http.errors import OllamaNotRunning
from velollm_desktop.core.llamacpp.server import free_port


def test_no_arguments_prints_help_and_exits_0(velollm_exe):
    res = run_cli(velollm_exe)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: velollm")
    assert "COMMAND" in res.stdout and "benchmark" in res.stdout
    assert res.stdout.rstrip().splitlines()[-1].strip().startswith("velollm optimize --dry-run")
    assert res.stderr == ""


def test_help_ends_with_examples(velollm_exe):
    res = run_cli(velollm_exe, "--help")
    assert res.returncode == 0
    tail = res.stdout.rstrip().splitlines()[-4:]
    assert tail[0] == "examples:"
    assert all(line.strip().startswith("velollm ") for line in tail[1:])


def test_every_option_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {'/'.join(action.option_strings)}"
        for name, command in sub.choices.items()
        for action in command._actions
        if action.option_strings and not action.help
    ]
    assert missing == []


def test_errors_name_the_cli_fix(velollm_exe):
    env = dict(os.environ, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    res = run_cli(velollm_exe, "benchmark", env=env)
    assert res.returncode == 2
    assert "--url URL" in res.stderr and "Settings" not in res.stderr
    assert say(OllamaNotRunning("x")) == (
        "x, or pass the right address with --url URL (or set OLLAMA_HOST)"
    )


def test_the_cli_fix_follows_the_type_not_the_words(monkeypatch, capsys):
    """A reworded core message still gets the CLI's fix: it follows the error's typed fix."""

    def fails(args):
        raise OllamaNotRunning("nothing answers where Ollama should be (reworded)")

    monkeypatch.setattr(cli, "_cmd_detect", fails)
    assert cli.main(["detect"]) == 2
    assert capsys.readouterr().err == (
        "velollm: error: nothing answers where Ollama should be (reworded), or pass the right "
        "address with --url URL (or set OLLAMA_HOST)\n"
    )


def test_a_bug_in_a_command_is_not_turned_into_a_polite_line(monkeypatch):
    """Only the project's errors (and the OS's) become one line; a plain ValueError is a bug."""

    def broken(args):
        return int("not a number")

    monkeypatch.setattr(cli, "_cmd_detect", broken)
    with pytest.raises(ValueError, match="not a number"):
        cli.main(["detect"])


def _run(tps: float) -> RunMeasurement:
    return RunMeasurement(10.0, tps, tps, 500.0, 20, 50, None, 400.0)


def test_benchmark_table_header_and_noise_warning():
    spec = HardwareSpec(
        gpus=(),
        cpu=CpuInfo("AMD EPYC", 2, 2),
        memory=MemoryInfo(24576, 20000, 4576),
        os="Linux",
        os_version="6.1",
        arch="x86_64",
    )
    runs = tuple(_run(v) for v in (80.0, 100.0, 120.0))
    noisy = BenchTestResult(
        "short_completion",
        50,
        runs,
        summarize([80.0, 100.0, 120.0]),
        None,
        None,
        None,
        runs_requested=5,
    )
    result = BenchmarkResult(
        "0.2.0",
        "2026-11-27T08:00:00+00:00",
        ServerInfo("ollama", "http://h:11434", "0.33.0"),
        "smollm2:135m",
        None,
        "standard",
        {},
        (noisy,),
        hardware=spec,
    )
    lines = render_table(result).splitlines()
    assert lines[:5] == [
        "backend   ollama at http://h:11434",
        "server    version 0.33.0",
        "model     smollm2:135m",
        "hardware  AMD EPYC (2 threads), 24.0 GiB RAM, no GPU",
        "suite     standard",
    ]
    warning = next(line for line in lines if line.startswith("warning:"))
    assert "only 3 of 5 runs; noisy: ±20 %" in warning and "more runs" in warning


def test_benchmark_progress_counts_every_step_and_table_has_a_header(velollm_exe):
    with FakeOllama() as fake:
        res = run_cli(
            velollm_exe,
            "benchmark",
            "--url",
            fake.url,
            "--suite",
            "quick",
            "--runs",
            "3",
            "--no-history",
        )
    assert res.returncode == 0, res.stderr
    steps = [line.split("]")[0] + "]" for line in res.stderr.splitlines() if line.startswith("[")]
    assert steps == ["[0/4]", "[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert "warm-up done" in res.stderr
    out = res.stdout.splitlines()
    assert out[0] == f"backend   ollama at {fake.url}"
    assert out[1] == f"server    version {fake.version}"
    assert out[2] == f"model     {MODEL}" and out[3].startswith("hardware  ")


def test_missing_llama_server_message_has_no_gui_fix_in_the_cli():
    from velollm_desktop.core.llamacpp.binaries import BinaryNotFound, find_program

    with pytest.raises(BinaryNotFound) as info:
        find_program("llama-no-such-tool")
    assert "Settings" not in str(info.value)  # core's message names no face's setting
    text = say(info.value)
    assert "Settings" not in text and text.endswith("or put llama.cpp's binaries on PATH")
