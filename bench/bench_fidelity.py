"""Benchmark fidelity on a real llama-server (SmolLM2-135M by default).

    python bench/bench_fidelity.py [--model PATH] [--threads 2]

Reports, in one run:
1. client-clock decode tok/s vs the server's own figure, per run (target: within ±1 %);
2. the standard suite's wall time vs the sum of server-side times (prompt + decode) plus the
   warm-up (target: ≤ 1.05×);
3. the same through Ollama's wire format (tests/ollama_fake.py forwarding to llama-server);
4. our decode figure next to `llama-bench -n 128` on the same model and threads, as a ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import test_model_path  # noqa: E402
from tests.ollama_fake import MODEL, FakeOllama  # noqa: E402
from velollm_desktop.core.bench.backends import LlamaCppBackend, OllamaBackend  # noqa: E402
from velollm_desktop.core.bench.runner import run_benchmark  # noqa: E402
from velollm_desktop.core.bench.suites import suite  # noqa: E402
from velollm_desktop.core.llamacpp.binaries import find_program  # noqa: E402
from velollm_desktop.core.llamacpp.server import LlamaServer  # noqa: E402


def fidelity(result) -> dict:
    ratios = [
        r.decode_tokens_per_s / r.server_decode_tokens_per_s - 1
        for t in result.results
        for r in t.runs
        if r.decode_tokens_per_s and r.server_decode_tokens_per_s
    ]
    return {
        "runs": len(ratios),
        "client_vs_server_decode_pct": {
            "mean": 100 * statistics.fmean(ratios),
            "max_abs": 100 * max(map(abs, ratios)),
        },
        "decode_tok_s": {
            t.name: round(t.decode_tokens_per_s.mean, 2) if t.decode_tokens_per_s else None
            for t in result.results
        },
        "server_decode_tok_s": {
            t.name: round(t.server_decode_tokens_per_s.mean, 2)
            if t.server_decode_tokens_per_s
            else None
            for t in result.results
        },
        "generated_tokens": {t.name: [r.eval_count for r in t.runs] for t in result.results},
    }


def llama_bench(model: Path, threads: int) -> float:
    exe = find_program("llama-bench")
    out = subprocess.run(
        [
            str(exe.path),
            "-m",
            str(model),
            "-t",
            str(threads),
            "-p",
            "0",
            "-n",
            "128",
            "-r",
            "5",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    rows = json.loads(out.stdout)
    return float(rows[0]["avg_ts"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    model = args.model or test_model_path()
    out: dict = {"model": model.name, "threads": args.threads}
    with LlamaServer(model, threads=args.threads) as server:
        backend = LlamaCppBackend(server.url)
        result = run_benchmark(backend, suite("standard"), suite_name="standard")
        backend.close()
        server_ms = 0.0
        for t in result.results:
            for r in t.runs:
                server_ms += (r.eval_count / r.server_decode_tokens_per_s) * 1000
                server_ms += (
                    (r.prompt_tokens / r.prompt_tokens_per_s) * 1000 if r.prompt_tokens_per_s else 0
                )
        out["llamacpp"] = fidelity(result)
        out["llamacpp"]["suite_wall_s"] = round(result.wall_s, 3)
        out["llamacpp"]["server_side_s"] = round(server_ms / 1000, 3)
        client_total = sum(r.total_ms for t in result.results for r in t.runs) / 1000
        out["llamacpp"]["client_total_s_measured_runs"] = round(client_total, 3)
        out["llamacpp"]["wall_over_server_side"] = round(result.wall_s / (server_ms / 1000), 4)
        out["llamacpp"]["measured_runs_over_server_side"] = round(
            client_total / (server_ms / 1000), 4
        )
        with FakeOllama(upstream=server.url) as fake:
            ob = OllamaBackend(fake.url, MODEL)
            oresult = run_benchmark(ob, suite("standard"), suite_name="standard")
            ob.close()
        out["ollama_wire_format"] = fidelity(oresult)
    lb = llama_bench(model, args.threads)
    ours = out["llamacpp"]["server_decode_tok_s"]["code_generation"]
    ours_client = out["llamacpp"]["decode_tok_s"]["code_generation"]
    out["llama_bench_tg128_tok_s"] = round(lb, 2)
    out["ours_code_generation_vs_llama_bench"] = {
        "server": round(ours / lb, 3),
        "client": round(ours_client / lb, 3),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
