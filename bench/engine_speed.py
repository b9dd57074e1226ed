"""Portable vs native llama.cpp build: llama-bench pp512 / tg128, median of 5, interleaved.

    python bench/engine_speed.py --model M.gguf --build portable=DIR --build native=DIR [--rounds 2]

Each round runs every build once (`llama-bench -r REPS -o json`, default 5), builds alternating
so that a slow moment of the machine hits both alike. Prints JSON: per build and round the
median of the samples (tokens/s), every sample pooled over the rounds and its median, the CPU
backend variant llama.cpp loaded, the load average before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path


def run_bench(bin_dir: Path, model: Path, threads: int) -> dict:
    argv = [
        str(bin_dir / "llama-bench"),
        "-m",
        str(model),
        "-p",
        "512",
        "-n",
        "128",
        "-r",
        "5",
        "-t",
        str(threads),
        "-o",
        "json",
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=True)
    rows = json.loads(out.stdout)
    m = re.search(r"loaded CPU backend from (\S+)", out.stderr)
    result: dict = {"cpu_backend": Path(m.group(1)).name if m else None, "tests": {}}
    for row in rows:
        name = f"pp{row['n_prompt']}" if row["n_gen"] == 0 else f"tg{row['n_gen']}"
        samples = row["samples_ts"]
        result["tests"][name] = {"median_ts": statistics.median(samples), "samples_ts": samples}
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--build", action="append", required=True, help="NAME=BIN_DIR")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5, help="llama-bench -r per run")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    builds = dict(b.split("=", 1) for b in args.build)
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    out: dict = {
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "threads": args.threads},
        "model": args.model.name,
        "loadavg_before": os.getloadavg(),
        "rounds": [],
    }
    for _ in range(args.rounds):
        out["rounds"].append(
            {name: run_bench(Path(d), args.model, args.threads) for name, d in builds.items()}
        )
    out["loadavg_after"] = os.getloadavg()
    names = list(builds)
    out["pooled_median_ts"] = {  # every sample of a build, all rounds: robust to a busy moment
        n: {
            t: statistics.median(s for r in out["rounds"] for s in r[n]["tests"][t]["samples_ts"])
            for t in out["rounds"][0][n]["tests"]
        }
        for n in names
    }
    if len(names) == 2:
        a, b = names
        out["ratio_first_over_second"] = {
            t: statistics.median(
                r[a]["tests"][t]["median_ts"] / r[b]["tests"][t]["median_ts"] for r in out["rounds"]
            )
            for t in out["rounds"][0][a]["tests"]
        }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
