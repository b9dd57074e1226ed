"""Tune candidates for a mixture-of-experts model too big for the GPU (llama-server and Ollama).

Every layer on the GPU with the experts of the first N layers in RAM (`--n-cpu-moe N`,
`LLAMA_ARG_N_CPU_MOE`), for the smallest N the memory model says fits and its neighbours:
N-1 (pruned when it does not fit) and N+2 (room to spare). They are measured beside the
baseline, which in llama-server (and Ollama ≥ 0.30) is `--fit`'s own expert placement.
"""

from __future__ import annotations

from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.optimize.fit import budget_for, experts_to_cpu
from velollm_desktop.core.optimize.models import ModelProfile


def expert_offload_picks(
    hardware: HardwareSpec, profile: ModelProfile | None, ctx: int, parallel: int = 1
) -> list[tuple[str, int]]:
    """[(label, N)]: empty for a dense model, one that fits whole, or no discrete GPU."""
    if profile is None or not hardware.discrete_gpus:
        return []
    f = experts_to_cpu(profile, budget_for(hardware), ctx, parallel=parallel, flash_attention=False)
    if f is None:
        return []
    n = f.n_cpu_moe
    picks = sorted({max(0, n - 1), n, min(profile.block_count, n + 2)})
    return [(f"experts of {k} layers in RAM (--n-cpu-moe {k})", k) for k in picks]
