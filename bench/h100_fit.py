"""Predicted vs measured VRAM, and decode speed vs llama-bench, on a CUDA llama.cpp build.

    PYTHONPATH=. python3 bench/h100_fit.py --bin /path/to/llama.cpp/build/bin --out "$OUT"

For each shape (tests/gguf_shapes.py writes it with the data region as zeros: same memory and
speed as real weights of that shape and type) and each setting it:
1. runs `llama-fit-params -v` (llama.cpp's own projection, CUDA0 row) and our formula;
2. starts `llama-server -ngl 999` with the same setting, waits for /health, reads the
   process's VRAM with `nvidia-smi --query-compute-apps=pid,used_memory` and the buffer sizes
   llama-server logs, then stops it (SIGTERM, then SIGKILL);
3. appends one JSON object per case to OUT/results.jsonl as it goes.
The CUDA context is measured once as the VRAM of a llama-server holding a 2 MB model.
Then on the 8B shape: `llama-bench -p 0 -n 128` vs our llama-server decode measurement
(core's LlamaServerClient when httpx is importable, else the same request with urllib).
Every step is in try/except; a failure is recorded and the run goes on.
`--quick` runs tiny shapes and small settings (a CPU check of this script).
Output: OUT/results.jsonl (raw, one object per step), OUT/summary.md (the table), and the logs
of every llama-fit-params and llama-server run. Needs only Python ≥ 3.10's standard library
(httpx, when present, lets our decode figure come from the app's own client).

The llama.cpp build dir must hold llama-server, llama-bench and llama-fit-params (CUDA build:
`--target llama-server llama-bench llama-fit-params`). Each shape × 6 settings takes a few
minutes on an H100 (writing a 16 GB zero file, 6 server loads); run one shape per call to stay
under a 10-minute limit, e.g. `--shapes llama31-8b` then `--shapes gemma3-27b --no-bench`.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gguf_shapes import SHAPES, write_shape  # noqa: E402
from velollm_desktop.core.llamacpp.gguf import read_gguf  # noqa: E402
from velollm_desktop.core.optimize.footprint import (  # noqa: E402
    MIB,
    FitSettings,
    formula_estimate,
    shape_from_metadata,
)
from velollm_desktop.core.optimize.footprint_llamacpp import (  # noqa: E402
    estimate_from_rows,
    fit_params_argv,
    parse_breakdown,
    run_bounded,
)

# (ctx per slot, slots, KV type, flash attention)
SETTINGS = [
    (8192, 1, "f16", True),
    (32768, 1, "f16", True),
    (32768, 1, "q8_0", True),
    (8192, 4, "f16", True),
    (8192, 1, "f16", False),
    (16384, 2, "q8_0", True),
]
QUICK_SETTINGS = [(2048, 1, "f16", True), (4096, 2, "q8_0", True), (2048, 1, "f16", False)]
BUFFER_LINE = re.compile(r"(\S+) (model|KV|compute) buffer size =\s+([\d.]+) MiB")


class Recorder:
    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / "results.jsonl"

    def add(self, kind: str, **data: object) -> dict:
        row = {"kind": kind, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **data}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
        return row


def guarded(rec: Recorder, kind: str, fn, **ctx: object) -> object:
    """Run fn(); record an error row (and return None) instead of raising."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - a bench run must go on
        rec.add(
            kind + "_error",
            error=f"{type(exc).__name__}: {exc}",
            trace=traceback.format_exc()[-2000:],
            **ctx,
        )
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_vram_mib(pid: int) -> int | None:
    """This process's GPU memory from nvidia-smi (MiB), None when it has none / no nvidia-smi."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None  # no nvidia-smi (a CPU check of this script)
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] == str(pid) and parts[1].isdigit():
            return int(parts[1])
    return None


LIVE: set[Server] = set()


def _stop_all(signum: int = 0, _frame: object = None) -> None:
    for srv in list(LIVE):
        srv.stop()
    if signum:
        sys.exit(128 + signum)


class Server:
    """llama-server on 127.0.0.1; always stopped by stop() (group SIGTERM, then SIGKILL),
    also when this script is interrupted or killed with SIGTERM (a timeout)."""

    def __init__(self, exe: Path, model: Path, args: list[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        argv = [
            str(exe),
            "-m",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-webui",
            *args,
        ]
        self.argv = argv
        self._fh = log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        LIVE.add(self)

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama-server exited {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"llama-server not healthy after {timeout_s} s: {self.tail()}")

    def tail(self, n: int = 8) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def buffers(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for m in BUFFER_LINE.finditer(self.log.read_text(errors="replace")):
            key = f"{m.group(1)} {m.group(2)}"
            found[key] = found.get(key, 0.0) + float(m.group(3))
        return found

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        finally:
            LIVE.discard(self)
            self._fh.close()


def server_args(ctx: int, slots: int, kv: str, fa: bool, ngl: str) -> list[str]:
    return [
        "-c",
        str(ctx * slots),
        "-np",
        str(slots),
        "-fa",
        "on" if fa else "off",
        "-ctk",
        kv,
        "-ctv",
        kv,
        "-b",
        "512",
        "-ub",
        "512",
        "-ngl",
        ngl,
        "--fit",
        "off",
    ]


def measure_server(args, model: Path, extra: list[str], tag: str) -> dict:
    srv = Server(args.bin / "llama-server", model, extra, args.out / f"server-{tag}.log")
    try:
        srv.wait_healthy(args.start_timeout)
        time.sleep(2)
        return {
            "process_vram_mib": process_vram_mib(srv.proc.pid),
            "buffers_mib": srv.buffers(),
            "argv": srv.argv[1:],
        }
    finally:
        srv.stop()


def one_case(args, rec: Recorder, name: str, path: Path, shape, case: tuple) -> None:
    ctx, slots, kv, fa = case
    st = FitSettings(ctx, slots, kv, fa, device=args.device)
    tag = f"{name}-{ctx}x{slots}-{kv}-fa{int(fa)}"
    row: dict = {
        "shape": name,
        "ctx_per_slot": ctx,
        "slots": slots,
        "kv_type": kv,
        "flash_attention": fa,
    }
    meta = read_gguf(path).metadata
    meta_only = formula_estimate(shape_from_metadata(meta, shape.weights_bytes), st)
    row["formula_metadata_only_mib"] = meta_only.total_bytes / MIB  # as for a remote Ollama
    f = formula_estimate(shape, st)
    row["formula_mib"] = {
        "weights": f.weights_bytes / MIB,
        "kv": f.kv_bytes / MIB,
        "compute": f.compute_bytes / MIB,
        "total": f.total_bytes / MIB,
    }

    def projection() -> dict:
        text = run_bounded(fit_params_argv(args.bin / "llama-fit-params", path, st), 300)
        (args.out / f"fit-params-{tag}.log").write_text(text)
        rows = parse_breakdown(text)
        e = estimate_from_rows(rows, args.device)
        return {
            "rows": [r.__dict__ for r in rows],
            "weights": e.weights_bytes / MIB,
            "kv": e.kv_bytes / MIB,
            "compute": e.compute_bytes / MIB,
            "total": e.total_bytes / MIB,
        }

    row["llamacpp_mib"] = guarded(rec, "fit_params", projection, case=tag)
    if not args.projection_only:
        row["server"] = guarded(
            rec,
            "server",
            lambda: measure_server(args, path, server_args(*case, args.ngl), tag),
            case=tag,
        )
    rec.add("case", **row)


def cuda_context(args, rec: Recorder, tiny: Path) -> None:
    def run() -> dict:
        return measure_server(args, tiny, server_args(512, 1, "f16", True, args.ngl), "tiny")

    got = guarded(rec, "cuda_context", run)
    if got:
        rec.add("cuda_context", **got)


def our_decode(url: str, n: int, runs: int) -> dict:
    """Core's measurement when httpx is there (the app's own code path), else urllib."""
    prompt = "Write a short story about a lighthouse keeper."
    try:
        from velollm_desktop.core.llamacpp.client import LlamaServerClient  # noqa: PLC0415
    except ImportError:
        LlamaServerClient = None  # noqa: N806
    rates, server_rates = [], []
    for _ in range(runs):
        if LlamaServerClient is not None:
            with LlamaServerClient(url) as c:
                m = c.measure(prompt, n)
            rates.append(m.decode_tokens_per_s)
            server_rates.append(m.server_decode_tokens_per_s)
        else:
            body = json.dumps(
                {
                    "prompt": prompt,
                    "n_predict": n,
                    "ignore_eos": True,
                    "cache_prompt": False,
                    "temperature": 0,
                }
            ).encode()
            req = urllib.request.Request(
                url + "/completion", body, {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=600) as r:
                t = json.loads(r.read()).get("timings", {})
            server_rates.append(t.get("predicted_per_second"))
    return {
        "client": "core LlamaServerClient" if LlamaServerClient else "urllib (no httpx)",
        "decode_tok_s": rates,
        "server_decode_tok_s": server_rates,
    }


def bench(args, rec: Recorder, model: Path) -> None:
    def llama_bench() -> dict:
        out = subprocess.run(
            [
                str(args.bin / "llama-bench"),
                "-m",
                str(model),
                "-p",
                "0",
                "-n",
                str(args.n),
                "-r",
                "3",
                "-ngl",
                "99" if args.ngl != "0" else "0",
                "-fa",
                "on",  # as our server below
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=580,
            check=True,
        )
        rows = json.loads(out.stdout)
        return {
            "avg_ts": rows[0]["avg_ts"],
            "stddev_ts": rows[0].get("stddev_ts"),
            "n_gen": rows[0].get("n_gen"),
        }

    def ours() -> dict:
        srv = Server(
            args.bin / "llama-server",
            model,
            server_args(4096, 1, "f16", True, args.ngl),
            args.out / "server-bench.log",
        )
        try:
            srv.wait_healthy(args.start_timeout)
            return our_decode(srv.url, args.n, 3)
        finally:
            srv.stop()

    rec.add(
        "bench",
        model=model.name,
        n=args.n,
        llama_bench=guarded(rec, "llama_bench", llama_bench),
        ours=guarded(rec, "our_decode", ours),
    )


def _cell(x: float | None, used: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.0f}" + (f" ({100 * (x / used - 1):+.1f} %)" if used else "")


def summarize(path: Path) -> str:
    """A markdown table: measured process VRAM (minus the CUDA context) vs both predictions."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    ctx_mib = next((r.get("process_vram_mib") for r in rows if r["kind"] == "cuda_context"), None)
    out = [
        f"CUDA context (tiny model's process VRAM): {ctx_mib} MiB",
        "",
        "| shape | ctx × slots, KV, FA | NVML − context (MiB) | llama.cpp (MiB) | formula (MiB) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] != "case":
            continue
        vram = (r.get("server") or {}).get("process_vram_mib")
        used = vram - ctx_mib if vram is not None and ctx_mib is not None else None
        lc = (r.get("llamacpp_mib") or {}).get("total")
        fo = r["formula_mib"]["total"]

        setting = f"{r['ctx_per_slot']} × {r['slots']}, {r['kv_type']}, "
        setting += "on" if r["flash_attention"] else "off"
        out.append(
            f"| {r['shape']} | {setting} | {used if used is not None else 'n/a'} "
            f"| {_cell(lc, used)} | {_cell(fo, used)} |"
        )
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", type=Path, required=True, help="llama.cpp build/bin directory")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "h100-fit-out")))
    ap.add_argument("--models", type=Path, default=Path("/tmp/velollm-shapes"))
    ap.add_argument("--shapes", default="llama31-8b,gemma3-27b")
    ap.add_argument("--fill", choices=("zeros", "sparse"), default="zeros")
    ap.add_argument("--ngl", default="999")
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--start-timeout", type=float, default=300)
    ap.add_argument("--quick", action="store_true", help="tiny shapes, small settings (CPU)")
    ap.add_argument("--no-bench", action="store_true")
    ap.add_argument("--projection-only", action="store_true", help="no llama-server runs")
    ap.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _stop_all)
    signal.signal(signal.SIGINT, _stop_all)
    atexit.register(_stop_all)
    rec = Recorder(args.out)
    names = ["tiny-llama", "tiny-gemma3"] if args.quick else args.shapes.split(",")
    if not args.projection_only:
        tiny = write_shape(SHAPES["tiny-llama"], args.models / "tiny-llama.gguf").path
        cuda_context(args, rec, tiny)
    settings = QUICK_SETTINGS if args.quick else SETTINGS
    env = {"argv": sys.argv, "python": sys.version}
    for tool in (["nvidia-smi", "-L"], [str(args.bin / "llama-server"), "--version"]):
        env[tool[0]] = guarded(
            rec,
            "env",
            lambda t=tool: (
                subprocess.run(t, capture_output=True, text=True, timeout=60, check=False).stdout[
                    -500:
                ]
                or ""
            ),
        )
    rec.add("env", **env)
    for name in names:
        w = guarded(
            rec,
            "write",
            lambda n=name: write_shape(SHAPES[n], args.models / f"{n}.gguf", fill=args.fill),
            shape=name,
        )
        if w is None:
            continue
        tensors = [{"name": n, "type": t, "shape": list(d)} for n, d, t in w.tensors]
        shape = shape_from_metadata(read_gguf(w.path).metadata, w.path.stat().st_size, tensors)
        rec.add("shape", shape=name, file_bytes=w.path.stat().st_size, fill=args.fill)
        for case in settings:
            guarded(
                rec,
                "case",
                lambda c=case, n=name, p=w.path, sh=shape: one_case(args, rec, n, p, sh, c),
                shape=name,
                case=list(case),
            )
    if not args.no_bench:
        target = args.models / ("tiny-llama.gguf" if args.quick else "llama31-8b.gguf")
        if target.exists():
            bench(args, rec, target)
    table = guarded(rec, "summary", lambda: summarize(rec.path))
    if table:
        (args.out / "summary.md").write_text(table)
        print(table)
    print(f"results: {rec.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
