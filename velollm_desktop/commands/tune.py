"""`velollm tune`: measure, change, re-measure — keep the fastest llama-server setting."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from velollm_desktop.cli import CliError
from velollm_desktop.core import jsonio
from velollm_desktop.core.fsutil import atomic_write_text
from velollm_desktop.core.llamacpp.gguf import NotGGUF
from velollm_desktop.core.ollama.errors import OllamaError
from velollm_desktop.core.tune.llamacpp import (
    OBJECTIVES,
    TuneCancelled,
    TuneResult,
    apply_winner,
    tune,
)


def summary(result: TuneResult) -> dict:
    """The documented JSON: baseline, candidates (settings, mean/stddev), winner, gain."""

    def row(m):
        return {
            "name": m.candidate.name,
            "settings": m.candidate.settings,
            "mean": m.score.mean if m.score else None,
            "stddev": m.score.stddev if m.score else None,
            "ci95": [m.score.ci95_low, m.score.ci95_high] if m.score else None,
            "samples": list(m.samples),
            "latency_p50_ms": m.latency_p50_ms,
            "latency_p95_ms": m.latency_p95_ms,
            "pruned": m.pruned,
        }

    return {
        "model": result.model,
        "objective": result.objective,
        "concurrency": result.concurrency,
        "unit": "tokens/s",
        "baseline": row(result.baseline),
        "candidates": [row(m) for m in result.candidates],
        "winner": row(result.winner),
        "gain": result.gain,
        "significant": result.significant,
        "wall_s": result.wall_s,
        "notes": list(result.notes),
    }


def _cmd(args: argparse.Namespace) -> int:
    if args.backend == "ollama":
        raise CliError(
            "tuning Ollama's server settings needs a restart of the service: use `velollm optimize --apply`; "
            "per-request options can be compared with `velollm benchmark` (this build tunes llama-server)"
        )
    from velollm_desktop.core.hardware import detect_hardware  # noqa: PLC0415

    model = Path(args.model).expanduser()
    if not model.exists():
        raise CliError(f"model file not found: {model}")

    def progress(done: int, total: int, text: str) -> None:
        if not args.quiet:
            print(f"[{done}/{total}] {text}", file=sys.stderr, flush=True)

    try:
        result = tune(
            model,
            detect_hardware(),
            objective=args.objective,
            concurrency=args.concurrency,
            budget_s=args.budget,
            n_predict=args.n_predict,
            progress=progress,
        )
    except (NotGGUF, ValueError, OllamaError, TuneCancelled) as exc:
        raise CliError(str(exc)) from exc
    for m in result.candidates:
        score = (
            f"{m.score.mean:8.1f} ± {m.score.stddev:5.1f} tok/s"
            if m.score
            else f"pruned: {m.pruned}"
        )
        mark = "  ← winner" if m is result.winner else ""
        print(f"{m.candidate.name:<32}{score}{mark}")
    verdict = (
        f"gain {result.gain:.2f}× over the baseline (intervals do not overlap)"
        if result.significant
        else "no candidate is clearly better than the baseline: keep it"
    )
    print(verdict)
    for n in result.notes:
        print(f"note: {n}")
    if args.apply:
        path = apply_winner(result, model)
        print(f"saved the winner as the llama-server profile: {path}")
    if args.json:
        atomic_write_text(args.json, json.dumps(jsonio.to_plain(summary(result)), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune", help="closed-loop tuning: measure candidate settings, keep the fastest"
    )
    p.add_argument("--backend", choices=("llamacpp", "ollama"), default="llamacpp")
    p.add_argument(
        "--model",
        required=True,
        help="GGUF file (llama-server is started by us for each candidate)",
    )
    p.add_argument("--objective", choices=OBJECTIVES, default="decode")
    p.add_argument("--concurrency", type=int, default=4, help="clients for --objective throughput")
    p.add_argument(
        "--budget", type=float, default=180.0, help="time budget in seconds (default 180)"
    )
    p.add_argument("--n-predict", type=int, default=64)
    p.add_argument(
        "--apply", action="store_true", help="save the winner as the llama-server profile"
    )
    p.add_argument("--json", type=Path)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd)
