"""Throughput tuning (4 concurrent clients) of SmolLM2-135M in several weight formats.

    python bench/tune_throughput.py [--formats F32 Q8_0 Q4_0 Q4_1] [--budget 150] [--json FILE]

Makes each format once with llama-quantize from the test model (cached next to it), runs
`velollm tune --objective throughput --concurrency 4` on it, and prints, per format, the
single-slot default, the winner and the gain with their 95 % intervals. Whether extra slots
pay on a CPU depends on the format: batching several sequences only helps when decode is bound
by reading the weights, not by the kernels' arithmetic.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import test_model_path  # noqa: E402
from velollm_desktop.core.llamacpp.binaries import find_program  # noqa: E402


def model_in(fmt: str) -> Path:
    src = test_model_path()
    if fmt == "Q4_1":
        return src  # the test model itself
    out = src.with_name(f"smol-{fmt if fmt != 'F32' else 'f32'}.gguf")
    if not out.exists():
        quantize = find_program("llama-quantize").path
        part = out.with_suffix(".part")
        subprocess.run(
            [str(quantize), "--allow-requantize", str(src), str(part), fmt],
            check=True,
            capture_output=True,
        )
        part.rename(out)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--formats", nargs="+", default=["F32", "Q8_0", "Q4_0", "Q4_1"])
    ap.add_argument("--budget", type=float, default=150)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    velollm = Path(sys.executable).with_name("velollm")
    rows = {}
    for fmt in args.formats:
        with tempfile.NamedTemporaryFile(suffix=".json") as fh:
            subprocess.run(
                [
                    str(velollm),
                    "tune",
                    "--model",
                    str(model_in(fmt)),
                    "--objective",
                    "throughput",
                    "--concurrency",
                    "4",
                    "--budget",
                    str(args.budget),
                    "--json",
                    fh.name,
                    "-q",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            data = json.loads(Path(fh.name).read_text())
        rows[fmt] = {
            "baseline": data["baseline"],
            "winner": data["winner"],
            "gain": data["gain"],
            "significant": data["significant"],
            "candidates": data["candidates"],
        }
        b, w = data["baseline"], data["winner"]
        print(
            f"{fmt:<5} default {b['mean']:6.1f} ± {b['stddev']:4.1f} tok/s → {w['name']}: "
            f"{w['mean']:6.1f} ± {w['stddev']:4.1f} tok/s = {data['gain']:.2f}×",
            file=sys.stderr,
        )
    text = json.dumps(rows, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
