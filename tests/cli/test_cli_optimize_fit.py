"""`velollm optimize` shows, per model, the bytes of weights / KV / compute and the method."""

from __future__ import annotations

import json
import os
import re

from tests.conftest import ROOT, run_cli
from tests.gguf_shapes import SHAPES, metadata
from velollm_desktop.core.optimize.footprint import (
    FitSettings,
    formula_estimate,
    shape_from_metadata,
)

H100 = ROOT / "docs" / "hardware" / "h100-detect.json"


def test_report_shows_bytes_and_method_for_a_sliding_window_model(velollm_exe, tmp_path):
    meta = {
        k: v for k, v in metadata(SHAPES["gemma3-27b"], "Q4_K_M").items() if "tokenizer" not in k
    }
    size = 16_183_264_352  # the Q4_K_M-mix file tests/gguf_shapes.py writes
    show = tmp_path / "gemma3.json"
    show.write_text(json.dumps({"model_info": meta, "size": size}))
    res = run_cli(
        velollm_exe,
        "optimize",
        "--hardware",
        str(H100),
        "--model-info",
        f"gemma3:27b={show}",
        env=dict(os.environ, OLLAMA_HOST="127.0.0.1:1"),
    )
    assert res.returncode == 0, res.stderr
    line = re.search(
        r"bytes: weights ([\d,]+) / KV ([\d,]+) / compute ([\d,]+) — by (\S+)", res.stdout
    )
    assert line, res.stdout
    weights, kv, compute = (int(line.group(i).replace(",", "")) for i in (1, 2, 3))
    ctx, slots = map(int, re.search(r"gemma3:27b: ctx (\d+) × (\d+) slot", res.stdout).groups())
    shape = shape_from_metadata(meta, size)
    by_type = {
        t: formula_estimate(shape, FitSettings(ctx, slots, t)).kv_bytes for t in ("f16", "q8_0")
    }
    assert line.group(4) == "formula" and kv in by_type.values()
    assert weights == size and compute > 0 and ctx == 32768  # tied output: all on the GPU
    assert "52 of 62 layers keep a 1024-token window" in res.stdout
