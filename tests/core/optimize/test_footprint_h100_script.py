"""bench/h100_fit.py's logic on this CPU (tiny shapes, CPU llama.cpp): what the GPU run will do."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import psutil

from tests.conftest import ROOT
from velollm_desktop.core.llamacpp.binaries import find_program


def test_quick_run_records_every_case_and_stops_every_server(tmp_path):
    bin_dir = find_program("llama-server").path.parent
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "h100_fit.py"), "--bin", str(bin_dir),
         "--out", str(out), "--models", str(tmp_path / "models"), "--quick", "--ngl", "0",
         "--no-bench"],
        capture_output=True, text=True, timeout=300, check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    cases = [r for r in rows if r["kind"] == "case"]
    assert len(cases) == 6  # 2 tiny shapes x 3 settings
    for c in cases:
        proj, formula = c["llamacpp_mib"], c["formula_mib"]
        assert proj and proj["kv"] > 0 and formula["kv"] > 0
        assert abs(formula["kv"] - proj["kv"]) <= 1  # MiB, llama.cpp rounds down
        server = c["server"]
        assert server["argv"][server["argv"].index("-np") + 1] == str(c["slots"])
        assert server["process_vram_mib"] is None  # no nvidia-smi here: recorded as unknown
    assert any(r["kind"] == "cuda_context" for r in rows)
    assert (out / "server-tiny.log").read_text()  # the server's log is kept
    models = str(tmp_path / "models")
    left = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if models in " ".join(p.info["cmdline"] or [])
    ]
    assert not left, f"llama-server left running: {left}"


def test_summary_compares_both_predictions_with_vram_minus_the_cuda_context(tmp_path):
    spec = importlib.util.spec_from_file_location("h100_fit", ROOT / "bench" / "h100_fit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = [
        {"kind": "cuda_context", "process_vram_mib": 400},
        {"kind": "case", "shape": "llama31-8b", "ctx_per_slot": 8192, "slots": 1,
         "kv_type": "f16", "flash_attention": True, "formula_mib": {"total": 5720.0},
         "llamacpp_mib": {"total": 5718.0}, "server": {"process_vram_mib": 6118}},
        {"kind": "case", "shape": "gemma3-27b", "ctx_per_slot": 8192, "slots": 4,
         "kv_type": "q8_0", "flash_attention": False, "formula_mib": {"total": 100.0},
         "llamacpp_mib": None, "server": None},
    ]  # fmt: skip
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = mod.summarize(path)
    assert "| llama31-8b | 8192 × 1, f16, on | 5718 | 5718 (+0.0 %) | 5720 (+0.0 %) |" in table
    assert "| gemma3-27b | 8192 × 4, q8_0, off | n/a | n/a | 100 |" in table
