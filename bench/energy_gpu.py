"""Energy per token on an NVIDIA GPU: NVML's energy counter vs integrated power, same windows.

Run on a machine with an NVIDIA GPU, a CUDA llama-server and a model (tests/gguf_shapes.py
writes the Llama 3.1 8B shape with zero weights):

    python bench/energy_gpu.py --server build/bin/llama-server --model llama31-8b.gguf --out DIR

For each window (one stream through the benchmark runner; 8 clients through the concurrent
benchmark) the same `EnergyMeter` reads the counter at both ends and integrates
`nvmlDeviceGetPowerUsage` at 10 Hz in between, so the two methods cover the same seconds.
Then llama-server is started with partial and with no GPU offload (-ngl 8, -ngl 0) and what
it reports (/props, /slots, /metrics) is kept for the doctor's tests. Results: DIR/energy.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from velollm_desktop.core import jsonio
from velollm_desktop.core.bench.backends import LlamaCppBackend
from velollm_desktop.core.bench.concurrent import run_load
from velollm_desktop.core.bench.runner import run_benchmark
from velollm_desktop.core.bench.suites import BenchTest
from velollm_desktop.core.energy import EnergyMeter
from velollm_desktop.core.energy.sources import NvmlEnergy
from velollm_desktop.core.hardware.nvidia import NVML
from velollm_desktop.core.llamacpp.binaries import LlamaBinary
from velollm_desktop.core.llamacpp.server import LlamaServer

PROMPT = "Write a detailed essay about the history of computing, from Babbage to GPUs."


def machine() -> dict:
    q = "name,driver_version,memory.total,power.limit"
    out = subprocess.run(
        ["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    cuda = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=10, check=False)
    line = next((ln for ln in cuda.stdout.splitlines() if "CUDA Version" in ln), "")
    return {"nvidia_smi": out, "header": line.strip()}


def agreement(reading) -> dict:
    part = reading.parts[0]
    c, i = part.energy_j, part.integrated_energy_j
    return {
        "counter_j": c,
        "integrated_j": i,
        "diff_pct": 100 * (i - c) / c if c and i is not None else None,
        "method": part.method,
    }


def fetch(url: str) -> object:
    import httpx

    r = httpx.get(url, timeout=10)
    ct = r.headers.get("content-type", "")
    return r.json() if "json" in ct else r.text


def one_stream(url: str, meter: EnergyMeter, runs: int, tokens: int) -> dict:
    backend = LlamaCppBackend(url)
    try:
        res = run_benchmark(
            backend,
            [BenchTest("one_stream", PROMPT, tokens, runs)],
            suite_name="energy",
            energy=meter,
        )
    finally:
        backend.close()
    t = res.results[0]
    return {
        "decode_tokens_per_s": jsonio.to_plain(t.decode_tokens_per_s),
        "energy": jsonio.to_plain(t.energy),
        "agreement": agreement(t.energy),
    }


def clients(url: str, meter: EnergyMeter, n: int, seconds: float, tokens: int) -> dict:
    load = run_load(lambda: LlamaCppBackend(url), n, seconds, max_tokens=tokens, energy=meter)
    return {
        "clients": n,
        "tokens_per_s": load.tokens_per_s,
        "requests_ok": load.requests_ok,
        "errors": list(load.server_errors + load.our_errors)[:5],
        "energy": jsonio.to_plain(load.energy),
        "agreement": agreement(load.energy),
    }


def partial(binary: LlamaBinary, model: Path, ngl: int) -> dict:
    with LlamaServer(
        model, ["-ngl", str(ngl), "-np", "2", "--metrics", "--slots"], binary=binary, ctx_size=4096
    ) as srv:
        backend = LlamaCppBackend(srv.url)
        try:
            m = backend.measure(PROMPT, 32, None)
        finally:
            backend.close()
        mem = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.used,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        return {
            "ngl": ngl,
            "props": fetch(srv.url + "/props"),
            "slots": fetch(srv.url + "/slots"),
            "metrics": fetch(srv.url + "/metrics"),
            "decode_tokens_per_s": m.decode_tokens_per_s,
            "nvidia_smi_memory_used_total_mib": mem,
            "stderr_tail": srv.stderr_tail(40),
        }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args(argv)
    out: dict = {"machine": machine(), "model": a.model.name}
    path = a.out / "energy.json"
    binary = LlamaBinary(a.server, "cli")
    meter = EnergyMeter([NvmlEnergy(0, NVML)], interval_s=0.1)
    steps = [("one_stream", None), ("clients_8", None), ("ngl_8", 8), ("ngl_0", 0)]
    with LlamaServer(
        a.model, ["-ngl", "99", "-np", "8", "-fa", "on"], binary=binary, ctx_size=8 * 2048
    ) as srv:
        for name, _ in steps[:2]:
            t0 = time.monotonic()
            try:
                out[name] = (
                    one_stream(srv.url, meter, a.runs, a.tokens)
                    if name == "one_stream"
                    else clients(srv.url, meter, 8, a.seconds, a.tokens)
                )
            except Exception as exc:  # noqa: BLE001 - keep going: record what failed
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            out[name]["wall_s"] = time.monotonic() - t0
            path.write_text(json.dumps(out, indent=1))
            print(name, json.dumps(out[name].get("agreement")), flush=True)
    for name, ngl in steps[2:]:
        try:
            out[name] = partial(binary, a.model, int(ngl or 0))
        except Exception as exc:  # noqa: BLE001
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        path.write_text(json.dumps(out, indent=1))
        print(name, "done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
