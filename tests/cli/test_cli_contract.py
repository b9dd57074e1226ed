"""The seed's CLI behaviours, run through the installed `velollm` script."""

from __future__ import annotations

import json

import psutil

from tests.conftest import run_cli

MIB = 1024 * 1024


def test_help_lists_every_command(velollm_exe):
    res = run_cli(velollm_exe, "--help")
    assert res.returncode == 0
    for word in ("detect", "usage: velollm"):
        assert word in res.stdout


def test_version(velollm_exe):
    from velollm_desktop import __version__

    res = run_cli(velollm_exe, "--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"velollm {__version__}"


def test_detect_text_table(velollm_exe):
    res = run_cli(velollm_exe, "detect")
    assert res.returncode == 0, res.stderr
    assert "CPU" in res.stdout and "Memory" in res.stdout and "MiB total" in res.stdout


def test_detect_json_matches_psutil(velollm_exe):
    res = run_cli(velollm_exe, "detect", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert isinstance(data["gpus"], list)
    for gpu in data["gpus"]:
        assert {"vendor", "name", "vram_total_mib"} <= gpu.keys()
    assert data["cpu"]["physical_cores"] == psutil.cpu_count(logical=False)
    assert data["cpu"]["logical_cores"] == psutil.cpu_count(logical=True)
    assert data["cpu"]["model"]
    assert data["memory"]["total_mib"] == psutil.virtual_memory().total // MIB
    # available memory moves; it must be within 10 % of what psutil sees now
    avail = psutil.virtual_memory().available // MIB
    assert abs(data["memory"]["available_mib"] - avail) <= 0.1 * avail
    assert data["os"] and data["arch"]


def test_unknown_command_is_a_usage_error(velollm_exe):
    res = run_cli(velollm_exe, "frobnicate")
    assert res.returncode == 2
    assert "invalid choice" in res.stderr
