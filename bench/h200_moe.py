"""MoE expert offload on a real GPU: the fit's placement against llama.cpp's, and its speed.

    python bench/h200_moe.py --bin BUILD/bin --shapes DIR --out OUT [--models a,b] [--budget-gib 12]
        [--budgets qwen3-30b-a3b=12,gpt-oss-20b=8]

For each model shape (tests/gguf_shapes.py, written WITH zero data so the weights are really
loaded and read), with a VRAM budget made small by llama.cpp's own margin (`--fit-target`:
leave all but BUDGET GiB of the free memory):

1. llama-fit-params with that margin: the placement Ollama ≥ 0.30 gets (`--fit on`, default);
2. our formula's smallest `--n-cpu-moe N` (core/optimize/footprint.py) and llama.cpp's
   projection at that N (llama-fit-params -ngl 999 --n-cpu-moe N);
3. llama-server started four ways: `--fit on` with the margin (Ollama's default), `-ngl 999
   --n-cpu-moe N` (ours), N+2 (a tune neighbour), and `-ngl k` whole layers (the old way);
   for each: VRAM used (nvidia-smi, process), decode tok/s of one stream and of 4 clients.

Writes OUT/moe_<model>.json as it goes. Uses only the standard library and our Qt-free core.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gguf_shapes import SHAPES, write_shape  # noqa: E402
from velollm_desktop.core.llamacpp.gguf import read_gguf  # noqa: E402
from velollm_desktop.core.llamacpp.gguf_tensors import read_gguf_tensors  # noqa: E402
from velollm_desktop.core.optimize.footprint import (  # noqa: E402
    MIB,
    FitSettings,
    formula_estimate,
    shape_from_metadata,
)

OVERHEAD = 457 * MIB  # core/optimize/fit.py MINIMUM_MEMORY (Ollama's per-GPU minimum)
CTX, NP = 4096, 4  # per slot, slots: 4 clients at once
_ROW = re.compile(r"\|\s+-\s+(?P<name>[^|]+?)\s+\|[^|]*?(?P<self>\d+)\s+=\s+(?P<model>\d+)\s+\+\s+"
                  r"(?P<ctx>\d+)\s+\+\s+(?P<compute>\d+)")  # fmt: skip


def gpu_mib(query: str) -> int:
    out = subprocess.run(
        ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(out.split()[0])


def fit_params(binary: Path, model: Path, extra: list[str]) -> tuple[str, list[dict]]:
    argv = [str(binary / "llama-fit-params"), "-m", str(model), "-c", str(CTX * NP), "-np",
            str(NP), "-fa", "on", *extra, "-v"]  # fmt: skip
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    text = p.stdout + p.stderr
    rows, seen = [], False
    for line in text.splitlines():
        if "memory breakdown [MiB]" in line:
            if seen:
                break
            seen = True
            continue
        m = _ROW.search(line) if seen else None
        if m:
            rows.append({k: (m.group(k).strip() if k == "name" else int(m.group(k)))
                         for k in ("name", "self", "model", "ctx", "compute")})  # fmt: skip
        elif rows:
            break
    fitted = [ln for ln in p.stdout.splitlines() if ln.startswith("-c ")]
    return (fitted[-1] if fitted else ""), rows


def moe_layers_in_ot(fitted: str) -> list[int]:
    """Layers whose expert tensors the -ot string of llama-fit-params sends to the CPU."""
    return sorted({int(m) for m in re.findall(r"blk\\\.(\d+)\\\.ffn_\(up\|down", fitted)})


def predict(shape, budget: int) -> dict:
    """Formula: whole model, smallest N (without / with Ollama's overhead), whole layers k."""

    def total(n: int) -> int:
        return formula_estimate(shape, FitSettings(CTX, NP, "f16", True, n_cpu_moe=n)).total_bytes

    n_fit = next((n for n in range(shape.n_layer + 1) if total(n) <= budget), None)
    n_ours = next((n for n in range(shape.n_layer + 1) if total(n) + OVERHEAD <= budget), None)
    full = formula_estimate(shape, FitSettings(CTX, NP, "f16", True))
    per_layer = full.weights_bytes / shape.n_layer
    k = int((budget - OVERHEAD - full.kv_bytes - full.compute_bytes) // per_layer)
    est = formula_estimate(shape, FitSettings(CTX, NP, "f16", True, n_cpu_moe=n_ours or 0))
    return {"n_like_fit": n_fit, "n_ours": n_ours, "whole_layers_k": max(0, min(k, shape.n_layer)),
            "device_bytes_at_n_ours": est.total_bytes, "host_bytes_at_n_ours": est.host_bytes,
            "predicted_vram_bytes": est.total_bytes + OVERHEAD, "detail": est.detail}  # fmt: skip


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def decode(url: str, clients: int, n_predict: int) -> dict:
    results: list[dict] = []
    body = {"prompt": "Tell me a story.", "n_predict": n_predict, "ignore_eos": True,
            "temperature": 0, "cache_prompt": False}  # fmt: skip

    def one(i: int) -> None:
        results.append(post(f"{url}/completion", {**body, "prompt": f"[{i}] {body['prompt']}"}))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    tokens = sum(r["timings"]["predicted_n"] for r in results)
    return {"clients": clients, "tokens": tokens, "wall_s": round(wall, 3),
            "aggregate_tok_s": round(tokens / wall, 2),
            "per_stream_tok_s": [round(r["timings"]["predicted_per_second"], 2) for r in results]}  # fmt: skip


def serve(binary: Path, model: Path, args: list[str], n_predict: int, port: int) -> dict:
    before = gpu_mib("memory.used")
    argv = [str(binary / "llama-server"), "-m", str(model), "--host", "127.0.0.1", "--port",
            str(port), "-c", str(CTX * NP), "-np", str(NP), "-fa", "on", "--no-webui", *args]  # fmt: skip
    log = open(f"/tmp/server_{port}.log", "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    out: dict = {"args": args}
    try:
        t0 = time.perf_counter()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama-server exited {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > 180:
                raise RuntimeError("not healthy after 180 s")
            time.sleep(0.5)
        out["load_s"] = round(time.perf_counter() - t0, 1)
        url = f"http://127.0.0.1:{port}"
        decode(url, 1, 16)  # warm-up
        out["vram_used_mib"] = gpu_mib("memory.used") - before
        out["one_stream"] = decode(url, 1, n_predict)
        out["four_clients"] = decode(url, 4, n_predict)
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        out["error"] = str(exc)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    text = Path(f"/tmp/server_{port}.log").read_text(errors="replace")
    out["log_tail"] = [ln for ln in text.splitlines() if "memory breakdown" in ln
                       or "CUDA0" in ln or "offloaded" in ln or "fit" in ln.lower()][-24:]  # fmt: skip
    return out


def run_model(name: str, a: argparse.Namespace, deadline: float) -> dict:
    path = a.shapes / f"{name}.gguf"
    if not path.exists():
        write_shape(SHAPES[name], path, fill=a.fill)
    g = read_gguf(path)
    shape = shape_from_metadata(g.metadata, g.file_size_bytes, read_gguf_tensors(path))
    gib = dict(x.split("=") for x in a.budgets.split(",") if "=" in x).get(name, a.budget_gib)
    budget = int(float(gib) * 1024) * MIB
    free = gpu_mib("memory.free")
    margin = free - budget // MIB
    rec: dict = {"model": name, "fill": a.fill, "ctx_per_slot": CTX, "parallel": NP,
                 "gpu_free_mib": free, "budget_mib": budget // MIB, "fit_target_mib": margin,
                 "expert_bytes_total": sum(shape.expert_bytes), "n_layer": shape.n_layer}  # fmt: skip
    rec["formula"] = predict(shape, budget)
    fitted, rows = fit_params(a.bin, path, ["-fitt", str(margin)])
    rec["llama_fit"] = {"args": fitted, "moe_layers_on_cpu": moe_layers_in_ot(fitted), "rows": rows}
    n = rec["formula"]["n_ours"]
    if n is not None:
        _, rows = fit_params(a.bin, path, ["-ngl", "999", "--n-cpu-moe", str(n), "-fit", "off"])
        rec["projection_at_n_ours"] = rows
    _save(a.out, name, rec)
    plans = [("fit on (Ollama default)", ["-fitt", str(margin)])]
    if n is not None:
        plans.append(
            (f"--n-cpu-moe {n} (ours)", ["-ngl", "999", "--n-cpu-moe", str(n), "-fit", "off"])
        )
        plans.append(
            (f"--n-cpu-moe {n + 2}", ["-ngl", "999", "--n-cpu-moe", str(n + 2), "-fit", "off"])
        )
    k = rec["formula"]["whole_layers_k"]
    plans.append((f"-ngl {k} whole layers (pre-0.30)", ["-ngl", str(k), "-fit", "off"]))
    rec["runs"] = {}
    for i, (label, args) in enumerate(plans):
        if time.monotonic() > deadline:
            rec["runs"][label] = {"skipped": "time limit of this run"}
            continue
        rec["runs"][label] = serve(a.bin, path, args, a.n_predict, 18100 + i)
        _save(a.out, name, rec)
        print(label, json.dumps({k2: v for k2, v in rec["runs"][label].items() if k2 != "log_tail"}),
              flush=True)  # fmt: skip
    return rec


def _save(out: Path, name: str, rec: dict) -> None:
    (out / f"moe_{name}.json").write_text(json.dumps(rec, indent=1))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--bin", type=Path, required=True)
    p.add_argument("--shapes", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--models", default="qwen3-30b-a3b,gpt-oss-20b")
    p.add_argument("--budget-gib", type=float, default=12.0)
    p.add_argument("--budgets", default="", help="per model: NAME=GiB,…")
    p.add_argument("--n-predict", type=int, default=128)
    p.add_argument("--fill", default="zeros", choices=("zeros", "sparse"))
    p.add_argument("--seconds", type=float, default=420.0)
    a = p.parse_args()
    a.shapes.mkdir(parents=True, exist_ok=True)
    a.out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + a.seconds
    for name in a.models.split(","):
        rec = run_model(name, a, deadline)
        print(json.dumps({k: v for k, v in rec.items() if k != "runs"})[:3000], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
