"""`velollm compare --engine llama-speculative`: llama.cpp's command-line tools instead of
llama-server — `llama-completion` (vanilla) and `llama-speculative` (draft model), each started
per prompt and run, their timing lines parsed (core/speculative/cli_parsers.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from velollm_desktop.cli_errors import CliError, say
from velollm_desktop.core.bench.stats import ratio_ci95, summarize
from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fsutil import atomic_write_text
from velollm_desktop.core.speculative.cli_parsers import run_seed_tools
from velollm_desktop.core.speculative.compare import DEFAULT_PROMPTS


def run_tools(args: argparse.Namespace, target: Path, draft: Path | None) -> int:
    """Measure both tools `args.runs` times per prompt; print and optionally save the result."""
    if draft is None:
        raise CliError("--engine llama-speculative needs --draft")
    comp, spec = [], []
    for r in range(args.runs):
        for label, prompt in DEFAULT_PROMPTS:
            if not args.quiet:
                print(f"[run {r + 1}/{args.runs}] {label}", file=sys.stderr, flush=True)
            try:
                c, s = run_seed_tools(
                    str(target), str(draft), prompt, args.n_predict, args.threads or 2
                )
            except (UserFacingError, OSError) as exc:
                raise CliError(say(exc)) from exc
            comp.append(c)
            spec.append(s)
    data = summarize_tools(comp, spec)
    print(render_tools(data))
    if args.json:
        atomic_write_text(args.json, json.dumps(data, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def summarize_tools(comp: list, spec: list) -> dict:
    """Means ± stddev, acceptance and the speed-up (ratio of means, 95 % interval)."""
    vanilla = summarize([c.decode_tokens_per_s for c in comp])
    speculative = summarize([s.decode_tokens_per_s for s in spec])
    drafted = sum(s.n_drafted or 0 for s in spec)
    accepted = sum(s.n_accepted or 0 for s in spec)
    speedup = ratio_ci95(speculative, vanilla) if vanilla and speculative else None

    def plain(st):
        return {"mean": st.mean, "stddev": st.stddev, "n": st.n} if st else None

    return {
        "engine": "llama-speculative",
        "vanilla": {
            "decode_tokens_per_s": plain(vanilla),
            "ttft_ms": plain(summarize([c.ttft_ms for c in comp])),
        },
        "speculative": {
            "decode_tokens_per_s": plain(speculative),
            "ttft_ms": plain(summarize([s.ttft_ms for s in spec])),
            "drafted": drafted,
            "accepted": accepted,
            "acceptance": accepted / drafted if drafted else None,
        },
        "speedup": speedup[0] if speedup else None,
        "speedup_ci95": list(speedup[1:]) if speedup else None,
    }


def _mean_sd(st: dict | None, sd: bool = True) -> str:
    if not st:
        return "n/a"
    return f"{st['mean']:.1f} ± {st['stddev']:.1f}" if sd else f"{st['mean']:.0f}"


def render_tools(data: dict) -> str:
    lines = [f"{'tool':<20}{'decode tok/s':>18}{'TTFT ms':>10}{'accepted':>10}"]
    for name, key in (("llama-completion", "vanilla"), ("llama-speculative", "speculative")):
        d = data[key]
        acc = d.get("acceptance")
        acc_text = f"{acc:.0%}" if acc is not None else "n/a"
        lines.append(
            f"{name:<20}{_mean_sd(d['decode_tokens_per_s']):>18}"
            f"{_mean_sd(d['ttft_ms'], sd=False):>10}{acc_text:>10}"
        )
    if data["speedup"] is not None:
        lo, hi = data["speedup_ci95"]
        lines.append(f"speed-up {data['speedup']:.2f}× ({lo:.2f}–{hi:.2f}, 95 %)")
    lines.append("TTFT here = the tool's prompt processing time (model load excluded).")
    return "\n".join(lines)
