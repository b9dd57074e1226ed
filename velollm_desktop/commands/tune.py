"""`velollm tune`: measure, change, re-measure — keep the fastest setting of llama-server or Ollama."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from velollm_desktop.cli import CliError
from velollm_desktop.commands.argtypes import float_range, int_range
from velollm_desktop.core import jsonio
from velollm_desktop.core.fsutil import atomic_write_text
from velollm_desktop.core.llamacpp.gguf import NotGGUF
from velollm_desktop.core.ollama.errors import OllamaError
from velollm_desktop.core.settings import ollama_url_from_env
from velollm_desktop.core.tune.common import OBJECTIVES, TuneCancelled, TuneResult


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
            "load_ms": m.load_ms,
        }

    return {
        "backend": result.backend,
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


def _run_llamacpp(args: argparse.Namespace, hardware, progress) -> TuneResult:
    from velollm_desktop.core.tune.llamacpp import tune  # noqa: PLC0415

    model = Path(args.model).expanduser()
    if not model.exists():
        raise CliError(
            f"model file not found: {model} (for Ollama use --backend ollama --model NAME)"
        )
    return tune(
        model,
        hardware,
        objective=args.objective,
        concurrency=args.concurrency,
        budget_s=args.budget,
        n_predict=args.n_predict,
        ctx=args.ctx or 2048,
        progress=progress,
    )


def _run_ollama(args: argparse.Namespace, hardware, progress) -> TuneResult:
    from velollm_desktop.core.tune.ollama import ServiceSettings, tune_ollama  # noqa: PLC0415

    server = None
    if args.allow_server_changes:
        server = ServiceSettings(args.url)
        print(
            "Server settings will be tried by writing Ollama's systemd drop-in and restarting the "
            "service; the original is restored at the end, also on error or Ctrl-C.",
            file=sys.stderr,
        )
    return tune_ollama(
        args.url,
        args.model,
        hardware,
        objective=args.objective,
        concurrency=args.concurrency,
        budget_s=args.budget,
        n_predict=args.n_predict,
        ctx=args.ctx,
        server=server,
        progress=progress,
    )


def _apply(args: argparse.Namespace, result: TuneResult) -> None:
    if result.backend == "llamacpp":
        from velollm_desktop.core.tune.llamacpp import apply_winner  # noqa: PLC0415

        print(
            f"saved the winner as the llama-server profile: {apply_winner(result, Path(args.model))}"
        )
        return
    from velollm_desktop.core.tune.ollama import apply_ollama_winner  # noqa: PLC0415

    name, server_env = apply_ollama_winner(result, args.url)
    if name:
        print(
            f"created the model {name} with the winner's options (`ollama run {name}`); the original is unchanged"
        )
    if server_env:
        pairs = " ".join(f"{k}={v}" for k, v in sorted(server_env.items()))
        print(
            f"the winner also needs server settings: apply them with `velollm optimize --apply` ({pairs})"
        )
    if not name and not server_env:
        print("the winner is the current setting: nothing to apply")


def _cmd(args: argparse.Namespace) -> int:
    from velollm_desktop.core.hardware import detect_hardware  # noqa: PLC0415

    if args.backend == "ollama":
        args.url = args.url or ollama_url_from_env()
    elif args.allow_server_changes:
        raise CliError("--allow-server-changes is for --backend ollama")

    def progress(done: int, total: int, text: str) -> None:
        if not args.quiet:
            print(f"[{done}/{total}] {text}", file=sys.stderr, flush=True)

    try:
        run = _run_ollama if args.backend == "ollama" else _run_llamacpp
        result = run(args, detect_hardware(), progress)
    except KeyboardInterrupt:
        raise CliError(
            "cancelled: every server we started was stopped and every setting restored"
        ) from None
    except (NotGGUF, ValueError, OllamaError, TuneCancelled, RuntimeError, PermissionError) as exc:
        raise CliError(str(exc)) from exc
    for m in result.candidates:
        score = (
            f"{m.score.mean:8.1f} ± {m.score.stddev:5.1f} tok/s"
            if m.score
            else f"pruned: {m.pruned}"
        )
        mark = "  ← winner" if m is result.winner else ""
        load = f"  load {m.load_ms:.0f} ms" if m.load_ms else ""
        print(f"{m.candidate.name:<36}{score}{load}{mark}")
    verdict = (
        f"gain {result.gain:.2f}× over the baseline (intervals do not overlap)"
        if result.significant
        else "no candidate is clearly better than the baseline: keep it"
    )
    print(verdict)
    for n in result.notes:
        print(f"note: {n}")
    if args.apply:
        try:
            _apply(args, result)
        except (OllamaError, OSError) as exc:
            raise CliError(f"could not apply the winner: {exc}") from exc
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
        help="llamacpp: a GGUF file (we start llama-server for each candidate); ollama: a model name",
    )
    p.add_argument(
        "--url", help="Ollama's address (default: OLLAMA_HOST or http://127.0.0.1:11434)"
    )
    p.add_argument(
        "--ctx",
        type=int_range(1, 10_000_000),
        help="the context every candidate must keep, tokens (ollama: num_ctx; llamacpp: per slot, default 2048)",
    )
    p.add_argument(
        "--allow-server-changes",
        action="store_true",
        help="ollama: also try flash attention, KV cache type and parallel slots by rewriting the "
        "service's drop-in and restarting it (Linux/systemd; restored at the end)",
    )
    p.add_argument("--objective", choices=OBJECTIVES, default="decode")
    p.add_argument(
        "--concurrency",
        type=int_range(1, 1024),
        default=4,
        help="clients for --objective throughput",
    )
    p.add_argument(
        "--budget",
        type=float_range(0, 7 * 24 * 3600, low_open=True),
        default=180.0,
        help="time budget in seconds (default 180)",
    )
    p.add_argument("--n-predict", type=int_range(1, 1_000_000), default=64)
    p.add_argument(
        "--apply",
        action="store_true",
        help="llamacpp: save the winner as the llama-server profile; ollama: create <model>-velollm with its options",
    )
    p.add_argument("--json", type=Path)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd)
