"""`velollm tune`: measure, change, re-measure — keep the fastest setting of llama-server or Ollama."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from velollm_desktop.cli_errors import CliError, say
from velollm_desktop.commands.argtypes import enum_choice, float_range, int_range
from velollm_desktop.core import jsonio
from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fsutil import atomic_write_text
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.kinds import BackendKind, Objective, default_url
from velollm_desktop.core.progress import ProgressEvent
from velollm_desktop.core.tune.common import (
    OBJECTIVES,
    TuneCancelled,
    TuneResult,
    verdict_text,
)
from velollm_desktop.core.tune.energy import score_unit
from velollm_desktop.core.tune.ollama import ServiceSettings
from velollm_desktop.core.tune.target import TuneSettings, TuneTarget, target_for
from velollm_desktop.core.wording import sentence

TUNE_KINDS = (BackendKind.LLAMACPP, BackendKind.OLLAMA)
"""What `velollm tune --backend` can tune (`core.tune.target.target_for`)."""


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
        "unit": score_unit(result.objective),
        "baseline": row(result.baseline),
        "candidates": [row(m) for m in result.candidates],
        "winner": row(result.winner),
        "gain": result.gain,
        "significant": result.significant,
        "wall_s": result.wall_s,
        "notes": list(result.notes),
    }


def _target(args: argparse.Namespace) -> TuneTarget:
    """The target the flags name (the one backend branch is in `core.tune.target`)."""
    if args.backend is BackendKind.LLAMACPP:
        if args.allow_server_changes:
            raise CliError("--allow-server-changes is for --backend ollama")
        model = Path(args.model).expanduser()
        if not model.exists():
            raise CliError(
                f"model file not found: {model} (for Ollama use --backend ollama --model NAME)"
            )
    server = None
    if args.allow_server_changes:
        server = ServiceSettings(args.url or default_url(BackendKind.OLLAMA))
        print(
            "Server settings will be tried by writing Ollama's systemd drop-in and restarting the "
            "service; the original is restored at the end, also on error or Ctrl-C.",
            file=sys.stderr,
        )
    return target_for(args.backend, args.model, url=args.url, server=server)


def _print_table(result: TuneResult) -> None:
    for m in result.candidates:
        score = (
            f"{m.score.mean:8.2f} ± {m.score.stddev:5.2f} {score_unit(result.objective)}"
            if m.score
            else f"{m.pruned or 'n/a'}"
        )
        mark = (
            "  ← winner"
            if m is result.winner and result.significant
            else ("  (baseline, kept)" if m is result.baseline else "")
        )
        load = f"  load {m.load_ms:.0f} ms" if m.load_ms else ""
        print(f"{m.candidate.name:<36} {score}{load}{mark}")
    print(verdict_text(result))
    for n in result.notes:
        print(f"note: {sentence(n)}")


def _cmd(args: argparse.Namespace) -> int:
    target = _target(args)
    settings = TuneSettings(
        Objective(args.objective), args.concurrency, args.budget, args.n_predict, args.ctx
    )

    shown = {"tick": -1}

    def progress(event: ProgressEvent) -> None:
        """A finished candidate always; the running clock every 10 s (not every second)."""
        if args.quiet:
            return
        tick = event.done // 10
        if event.measurement is None and tick == shown["tick"]:
            return
        shown["tick"] = tick
        print(f"[{event.done} s / {event.total} s] {event.text}", file=sys.stderr, flush=True)

    try:
        result = target.tune(detect_hardware(), settings, progress=progress)
    except KeyboardInterrupt:
        raise CliError(
            "cancelled: every server we started was stopped and every setting restored"
        ) from None
    except (UserFacingError, TuneCancelled, PermissionError) as exc:
        raise CliError(say(exc)) from exc
    _print_table(result)
    if args.apply:
        try:
            print(target.apply(result).message)
        except (ServerError, OSError) as exc:
            raise CliError(f"could not apply the winner: {say(exc)}") from exc
    if args.json:
        atomic_write_text(args.json, json.dumps(jsonio.to_plain(summary(result)), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune", help="closed-loop tuning: measure candidate settings, keep the fastest"
    )
    p.add_argument(
        "--backend",
        type=enum_choice(TUNE_KINDS),
        choices=TUNE_KINDS,
        default=BackendKind.LLAMACPP,
    )
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
