"""`velollm optimize --model-info NAME=FILE.gguf`: a local GGUF is read (not refused as a JSON
report), a MoE model too big for the GPU is placed with its experts in RAM, and a model with
MTP heads is named with the command that measures it — before anything is applied."""

from __future__ import annotations

import dataclasses
import json
import os

from tests.conftest import ROOT, run_cli
from tests.gguf_shapes import SHAPES, write_shape

H100 = ROOT / "docs" / "hardware" / "h100-detect.json"


def _small_gpu(tmp_path, gib: int):
    d = json.loads(H100.read_text())
    g = d["gpus"][0]
    g["vram_total_mib"], g["vram_used_mib"], g["vram_free_mib"] = gib * 1024, 300, gib * 1024 - 300
    path = tmp_path / "hw.json"
    path.write_text(json.dumps(d))
    return path


def _optimize(exe, *args):
    return run_cli(
        exe, "optimize", *args, env=dict(os.environ, OLLAMA_HOST="127.0.0.1:1"), timeout=120
    )


def test_moe_gguf_too_big_gets_experts_in_ram_and_json_says_n(velollm_exe, tmp_path):
    gguf = write_shape(SHAPES["qwen3-30b-a3b"], tmp_path / "qwen3-30b-a3b.gguf").path
    hw = _small_gpu(tmp_path, 12)
    res = _optimize(velollm_exe, "--hardware", str(hw), "--model-info", f"qwen3:30b={gguf}")
    assert res.returncode == 0, res.stderr
    assert "not a JSON report" not in res.stderr
    assert "every layer on the GPU, the experts of" in res.stdout
    assert "qwen3:30b: MoE experts = " in res.stdout and "nothing to set" in res.stdout
    assert "LLAMA_ARG_N_CPU_MOE" not in res.stdout.split("- qwen3:30b: MoE")[0]  # not recommended
    out = tmp_path / "rec.json"
    res = _optimize(velollm_exe, "--hardware", str(hw), "--model-info", f"qwen3:30b={gguf}",
                    "--format", "json", "-o", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    model = json.loads(out.read_text())["models"]["qwen3:30b"]
    assert 0 < model["n_cpu_moe"] < 48 and model["host_bytes"] > 5 * 2**30


def test_model_with_mtp_heads_is_named_with_the_measuring_command(velollm_exe, tmp_path):
    shape = dataclasses.replace(SHAPES["tiny-llama"], extra={".nextn_predict_layers": 1})
    gguf = write_shape(shape, tmp_path / "tiny-mtp.gguf").path
    res = _optimize(
        velollm_exe, "--dry-run", "--hardware", str(H100), "--model-info", f"tiny={gguf}"
    )
    assert res.returncode == 0, res.stderr
    assert "tiny has its own mtp heads" in res.stderr.lower()
    assert f"velollm compare --target {gguf} --as-ollama" in res.stderr
    assert "Dry run — nothing was changed" in res.stdout
    plain = write_shape(SHAPES["tiny-llama"], tmp_path / "tiny.gguf").path
    res = _optimize(velollm_exe, "--dry-run", "--hardware", str(H100), "--model-info", f"t={plain}")
    assert res.returncode == 0 and "MTP" not in res.stderr
