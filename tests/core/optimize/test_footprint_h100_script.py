"""bench/h100_fit.py's logic on this CPU (tiny shapes, CPU llama.cpp): what the GPU run will do."""

from __future__ import annotations

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
