"""`velollm optimize` through the installed script (the seed's --dry-run and -o FILE included)."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import ROOT, run_cli
from tests.fakes import FIXTURES
from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.llamacpp.server import free_port

H100 = ROOT / "docs" / "hardware" / "h100-detect.json"
NO_OLLAMA = {"OLLAMA_HOST": "127.0.0.1:1"}


def _env(**extra):
    return dict(os.environ, **extra)


def test_dry_run_without_ollama_changes_nothing(velollm_exe, tmp_path):
    res = run_cli(
        velollm_exe,
        "optimize",
        "--dry-run",
        env=_env(
            OLLAMA_HOST=f"127.0.0.1:{free_port()}", VELOLLM_SYSTEM_ROOT=str(tmp_path), PATH="/bin"
        ),
    )
    assert res.returncode == 0, res.stderr
    assert "Dry run — nothing was changed" in res.stdout
    assert "Nothing can be applied here" in res.stdout and "not installed" in res.stdout
    assert "the recommendation comes from the hardware tiers." in res.stderr
    assert "— recommending" not in res.stderr  # whole sentences, not fragments (issue 27.6)
    for fake in ("OLLAMA_NUM_GPU", "OLLAMA_NUM_CTX", "OLLAMA_NUM_BATCH", "OLLAMA_NUM_THREAD"):
        assert fake not in res.stdout
    assert list(tmp_path.iterdir()) == []


def _sandbox(tmp_path):
    """A root with ollama.service and a stand-in `systemctl` that records its arguments."""
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/ollama.service").write_text("[Service]\nExecStart=/x serve\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "systemctl.log"
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (bin_dir / "systemctl").chmod(0o755)
    env = _env(
        VELOLLM_SYSTEM_ROOT=str(root),
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        OLLAMA_HOST=f"127.0.0.1:{free_port()}",
    )
    return root / "etc/systemd/system/ollama.service.d/override.conf", log, env


def test_apply_shows_the_plan_and_needs_yes_without_a_terminal(velollm_exe, tmp_path):
    dropin, log, env = _sandbox(tmp_path)
    res = run_cli(velollm_exe, "optimize", "--apply", "--hardware", str(H100), env=env)
    assert res.returncode == 2 and "--yes" in res.stderr
    assert "Changes (current → new):" in res.stdout
    assert "OLLAMA_KEEP_ALIVE: 5m (default) → " in res.stdout
    assert f"File written: {dropin}" in res.stdout and "systemctl restart ollama" in res.stdout
    assert "unloads every loaded model" in res.stdout
    assert not dropin.exists() and not log.exists()


def test_apply_yes_writes_exactly_the_plan_and_undo_restores(velollm_exe, tmp_path):
    dropin, log, env = _sandbox(tmp_path)
    plan = run_cli(velollm_exe, "optimize", "--format", "json", "--hardware", str(H100), env=env)
    expected = json.loads(plan.stdout)["env"]
    res = run_cli(velollm_exe, "optimize", "--apply", "--yes", "--hardware", str(H100), env=env)
    assert res.returncode == 0, res.stderr
    text = dropin.read_text()
    for name, value in expected.items():
        assert f"{name}={value}" in text and f"{name}: " in res.stdout
    assert log.read_text().splitlines() == ["daemon-reload", "restart ollama"]
    res = run_cli(velollm_exe, "optimize", "--undo", env=env)
    assert res.returncode == 0 and not dropin.exists()


def test_apply_where_nothing_takes_effect_is_refused(velollm_exe, tmp_path):
    res = run_cli(
        velollm_exe,
        "optimize",
        "--apply",
        "--yes",
        "--hardware",
        str(H100),
        env=_env(VELOLLM_SYSTEM_ROOT=str(tmp_path), PATH="/bin", **NO_OLLAMA),
    )
    assert res.returncode == 2 and "nothing can be applied here" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_output_file_is_a_valid_shell_script(velollm_exe, tmp_path):
    out = tmp_path / "config.sh"
    res = run_cli(
        velollm_exe,
        "optimize",
        "-o",
        str(out),
        "--hardware",
        str(H100),
        "--model-info",
        f"llama3.1:8b={FIXTURES / 'ollama_show' / 'llama3.1-8b.json'}",
        env=_env(**NO_OLLAMA),
    )
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert subprocess.run(["bash", "-n", str(out)], check=False).returncode == 0
    assert "export OLLAMA_CONTEXT_LENGTH='32768'" in text and "OLLAMA_NUM_GPU" not in text


def test_json_format_for_an_h100_from_its_detect_file(velollm_exe):
    res = run_cli(
        velollm_exe,
        "optimize",
        "--format",
        "json",
        "--hardware",
        str(H100),
        "--model-info",
        f"llama3.1:70b={FIXTURES / 'ollama_show' / 'llama3.1-70b.json'}",
        env=_env(**NO_OLLAMA),
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["env"]["OLLAMA_FLASH_ATTENTION"] == "1"
    m = data["models"]["llama3.1:70b"]
    assert m["fits_on_gpu"] is True and m["num_ctx"] == 32768 and m["vram_bytes"] < 81559 * 2**20
    assert any("OLLAMA_CONTEXT_LENGTH" in r for r in data["reasons"])


def test_models_read_from_a_running_ollama(velollm_exe):
    with FakeOllama() as fake:
        res = run_cli(
            velollm_exe, "optimize", "--format", "json", "--url", fake.url, env=_env(**NO_OLLAMA)
        )
    assert res.returncode == 0, res.stderr
    assert MODEL in json.loads(res.stdout)["models"]


def test_bad_hardware_file_is_one_clear_line(velollm_exe, tmp_path):
    bad = tmp_path / "hw.json"
    bad.write_text("{}")
    res = run_cli(velollm_exe, "optimize", "--hardware", str(bad), env=_env(**NO_OLLAMA))
    assert res.returncode == 2 and "not a `velollm detect --json` file" in res.stderr
