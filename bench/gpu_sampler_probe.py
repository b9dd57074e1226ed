"""Run the sampler for N seconds and print JSON samples (used on the H100 to prove NVML paths).

python bench/gpu_sampler_probe.py --seconds 10 --interval 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from velollm_desktop.core import jsonio
from velollm_desktop.core.hardware.nvidia import NVML
from velollm_desktop.core.monitor.sampler import SampleLoop, Sampler


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--interval", type=float, default=1.0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    sampler = Sampler()
    init_ms = (time.perf_counter() - t0) * 1000
    samples, costs = [], []

    def take():
        t = time.perf_counter()
        s = sampler.sample()
        costs.append((time.perf_counter() - t) * 1e6)
        return s

    class Timed:
        def sample(self):
            return take()

    loop = SampleLoop(Timed(), samples.append, args.interval)  # type: ignore[arg-type]
    import threading

    th = threading.Thread(target=loop.run)
    th.start()
    time.sleep(args.seconds)
    loop.stop()
    th.join()
    ticks = [s.monotonic_s - samples[0].monotonic_s for s in samples]
    print(
        json.dumps(
            {
                "sampler_init_ms": round(init_ms, 2),
                "samples": len(samples),
                "tick_offsets_s": [round(t, 4) for t in ticks],
                "sample_cost_us": {
                    "mean": round(sum(costs) / len(costs), 1),
                    "max": round(max(costs), 1),
                },
                "nvml_failed_reason": NVML.failed_reason,
                "gpu_samples": [jsonio.to_plain(s.gpus) for s in samples],
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
