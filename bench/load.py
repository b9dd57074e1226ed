"""Load: the concurrent benchmark at N clients against a real llama-server for a long time.

    python bench/load.py [--clients 16] [--minutes 5] [--slots 4] [--model GGUF] [--json FILE]
                         [--server-arg=-cram --server-arg=0 …]

Starts llama-server (SmolLM2-135M by default, --slots parallel slots), runs
`velollm_desktop.core.bench.concurrent.run_load` in this process and, every 10 s, records
this process's RSS and threads (the client side: ours) and llama-server's RSS. Prints JSON:
the load result (errors split into the server's and ours), the memory series and its growth.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import test_model_path  # noqa: E402
from velollm_desktop.core import jsonio  # noqa: E402
from velollm_desktop.core.bench.backends import LlamaCppBackend  # noqa: E402
from velollm_desktop.core.bench.concurrent import run_load  # noqa: E402
from velollm_desktop.core.llamacpp.server import LlamaServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--server-arg", action="append", default=[], help="extra llama-server flag (repeat)"
    )
    args = ap.parse_args()
    model = args.model or test_model_path()
    me = psutil.Process()
    memory: list[dict] = []
    server_args = ["-np", str(args.slots), *args.server_arg]
    with LlamaServer(model, server_args, ctx_size=1024 * args.slots) as server:
        srv = psutil.Process(server.proc.pid)
        stop = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.wait(10):
                memory.append(
                    {
                        "t_s": round(time.monotonic() - t0),
                        "ours_rss_mb": round(me.memory_info().rss / 1e6, 2),
                        "ours_threads": me.num_threads(),
                        "server_rss_mb": round(srv.memory_info().rss / 1e6, 2),
                    }
                )

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        result = run_load(
            lambda: LlamaCppBackend(server.url),
            args.clients,
            args.minutes * 60,
            max_tokens=args.max_tokens,
            progress=lambda d, t, text: (
                print(f"[{d}/{t} s] {text}", file=sys.stderr, flush=True) if d % 30 == 0 else None
            ),
        )
        stop.set()
        sampler.join()
    later = [m for m in memory if m["t_s"] >= 60]  # after the first minute (connections, caches)
    out = {
        "model": model.name,
        "clients": args.clients,
        "slots": args.slots,
        "server_args": server_args,
        "result": jsonio.to_plain(result),
        "ours_rss_growth_after_1min_mb": later[-1]["ours_rss_mb"] - later[0]["ours_rss_mb"]
        if later
        else None,
        "server_rss_growth_after_1min_mb": later[-1]["server_rss_mb"] - later[0]["server_rss_mb"]
        if later
        else None,
        "ours_threads_min_max": [
            min(m["ours_threads"] for m in memory),
            max(m["ours_threads"] for m in memory),
        ]
        if memory
        else None,
        "memory": memory,
    }
    text = json.dumps(out, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 1 if result.our_errors else 0


if __name__ == "__main__":
    sys.exit(main())
