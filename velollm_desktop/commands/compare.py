"""`velollm compare`: vanilla vs draft model vs n-gram speculative decoding, with llama-server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from velollm_desktop.cli_errors import CliError, say
from velollm_desktop.commands.argtypes import float_range, int_range
from velollm_desktop.core import jsonio
from velollm_desktop.core.bench.store import History, unsaved_text
from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fsutil import atomic_write_text
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.llamacpp.binaries import BinaryNotFound
from velollm_desktop.core.llamacpp.gguf import NotGGUF
from velollm_desktop.core.ollama import store as ollama_store
from velollm_desktop.core.ollama.store import OllamaModelNotFound
from velollm_desktop.core.progress import ProgressEvent
from velollm_desktop.core.settings import ollama_url_from_env
from velollm_desktop.core.speculative.compare import (
    NGRAM_TYPES,
    OLLAMA_MODE,
    CompareCancelled,
    SpecMode,
    draft_mode,
    ngram_mode,
)
from velollm_desktop.core.speculative.flow import compare_and_save


def model_path(spec: str) -> Path:
    """A .gguf path, or `ollama:NAME[:TAG]` resolved to Ollama's downloaded blob."""
    try:
        path = ollama_store.model_path(spec)
    except OllamaModelNotFound as exc:
        raise CliError(say(exc)) from exc
    if not path.exists():
        raise CliError(f"model file not found: {path}")
    return path


def summary_json(result) -> dict:
    """The documented shape: modes[{mode, decode_tokens_per_s{mean,stddev}, acceptance, speedup}] + details."""
    data = jsonio.to_plain(result)
    for m in data["modes"]:
        for r in m["runs"]:
            r.pop("text", None)
    return data


def render(result) -> str:
    lines = [
        f"target {result.target}"
        + (f", draft {result.draft}" if result.draft else "")
        + f" — {result.runs_per_prompt} runs × {result.n_predict} tokens per prompt",
        f"llama.cpp: {result.llama_cpp}",
    ]
    lines.append(
        f"{'mode':<16}{'decode tok/s':>18}{'TTFT ms':>12}{'accepted':>12}{'speedup (95% CI)':>26}{'same text':>11}"
    )
    for m in result.modes:
        d = m.decode_tokens_per_s
        acc = f"{m.acceptance:.0%}" if m.acceptance is not None else "n/a"
        sp = (
            f"{m.speedup:.2f}× ({m.speedup_ci95[0]:.2f}–{m.speedup_ci95[1]:.2f})"
            if m.speedup_ci95
            else "n/a"
        )
        agree = f"{m.agreement_with_vanilla:.0%}" if m.agreement_with_vanilla is not None else "n/a"
        lines.append(
            f"{m.mode:<16}{(f'{d.mean:.1f} ± {d.stddev:.1f}' if d else 'n/a'):>18}"
            f"{(f'{m.ttft_ms.mean:.0f}' if m.ttft_ms else 'n/a'):>12}{acc:>12}{sp:>26}{agree:>11}"
        )
    lines += [f"- {a}" for a in result.advice]
    return "\n".join(lines)


def _ollama_mode(args: argparse.Namespace, target: Path, draft: Path | None) -> tuple[list, list]:
    """The fourth mode, "as Ollama would run it": ([SpecMode] or [], advice notes)."""
    from velollm_desktop.core.llamacpp.binaries import find_program  # noqa: PLC0415
    from velollm_desktop.core.ollama.spec_info import (  # noqa: PLC0415
        ollama_mode_args,
        server_support,
    )

    support = server_support(find_program("llama-server"))
    flags, notes = ollama_mode_args(target, draft, args.draft_num_predict, support)
    return ([SpecMode(OLLAMA_MODE, flags)] if flags else []), notes


def _model_notes(args: argparse.Namespace, target: Path) -> list[str]:
    """What Ollama does with the target's speculation (MTP heads, an attached DRAFT): from
    `/api/show` for a running Ollama's model, else from the GGUF file."""
    from velollm_desktop.core.ollama.spec_info import (  # noqa: PLC0415
        info_from_gguf,
        mtp_advice,
        ollama_model_advice,
    )

    if args.target.startswith("ollama:"):
        try:
            return ollama_model_advice(
                args.url or ollama_url_from_env(), args.target.removeprefix("ollama:")
            )[1]
        except ServerError:
            pass  # Ollama not running: the blob says as much about MTP heads
    try:
        return mtp_advice(info_from_gguf(target, args.target))
    except (NotGGUF, OSError):
        return []


def _undo_ollama(args: argparse.Namespace) -> int:
    """`--undo-ollama NAME-spec`: delete a model that `--apply-to-ollama` created."""
    from velollm_desktop.core.speculative.ollama_apply import undo_use_in_ollama  # noqa: PLC0415

    try:
        undo_use_in_ollama(args.url or ollama_url_from_env(), args.undo_ollama)
    except ServerError as exc:
        raise CliError(say(exc)) from exc
    print(f"deleted {args.undo_ollama}")
    return 0


def _modes(args: argparse.Namespace, target: Path, draft: Path | None):
    """The modes to measure (vanilla first) and the notes about the target."""
    modes = [SpecMode("vanilla")]
    if draft:
        modes.append(draft_mode(draft, args.draft_max, args.draft_min, args.p_min))
    for kind in args.spec_type or ([] if draft else ["ngram-simple"]):
        modes.append(ngram_mode(kind))
    notes = _model_notes(args, target)
    if args.as_ollama or args.apply_to_ollama:
        try:
            extra, mode_notes = _ollama_mode(args, target, draft)
        except (NotGGUF, BinaryNotFound, OSError) as exc:
            raise CliError(say(exc)) from exc
        modes += extra
        notes = list(dict.fromkeys(notes + mode_notes))
    return modes, notes


def _cmd(args: argparse.Namespace) -> int:
    if args.undo_ollama:
        return _undo_ollama(args)
    if not args.target:
        raise CliError("--target is required")
    if args.apply_to_ollama and not args.target.startswith("ollama:"):
        raise CliError("--apply-to-ollama needs an Ollama target: --target ollama:NAME[:TAG]")
    target = model_path(args.target)
    draft = model_path(args.draft) if args.draft else None
    if args.engine == "llama-speculative":
        from velollm_desktop.commands.compare_tools import run_tools  # noqa: PLC0415

        return run_tools(args, target, draft)
    modes, notes = _modes(args, target, draft)

    def progress(event: ProgressEvent) -> None:
        if not args.quiet:
            print(f"[{event.done}/{event.total}] {event.text}", file=sys.stderr, flush=True)

    history = History()
    try:
        run = compare_and_save(
            target,
            modes,
            draft=draft,
            runs=args.runs,
            n_predict=args.n_predict,
            threads=args.threads,
            progress=progress,
            history=history,
            notes=notes,
        )
    except (UserFacingError, CompareCancelled) as exc:
        raise CliError(say(exc)) from exc
    finally:
        history.close()
    result = run.result
    print(render(result))
    if run.unsaved_path is not None:
        print(unsaved_text(run.unsaved_reason, run.unsaved_path), file=sys.stderr)
    else:
        print(f"saved in the history as comparison #{run.history_id}")
    if args.json:
        import json  # noqa: PLC0415

        atomic_write_text(args.json, json.dumps(summary_json(result), indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.apply_to_ollama:
        from velollm_desktop.commands.compare_ollama import apply_to_ollama  # noqa: PLC0415

        return apply_to_ollama(args, result, draft)
    return 0


def _add_model_args(p: argparse.ArgumentParser) -> None:
    """What is compared: target, draft, n-gram modes, engine."""
    p.add_argument("--target", help="target model: FILE.gguf or ollama:NAME[:TAG] (required)")
    p.add_argument("--draft", help="draft model: FILE.gguf or ollama:NAME[:TAG]")
    p.add_argument(
        "--spec-type",
        action="append",
        choices=NGRAM_TYPES,
        help="also measure a draft-free n-gram mode (repeatable; default without --draft: ngram-simple)",
    )
    p.add_argument(
        "--engine",
        choices=("llama-server", "llama-speculative"),
        default="llama-server",
        help="llama-server modes (default), or llama.cpp's llama-completion vs "
        "llama-speculative command-line tools (needs --draft)",
    )


def _add_measure_args(p: argparse.ArgumentParser) -> None:
    """How it is measured: runs, length, threads, drafting parameters."""
    p.add_argument(
        "--runs", type=int_range(1, 10_000), default=3, help="runs per prompt and mode (default 3)"
    )
    p.add_argument(
        "--n-predict",
        type=int_range(1, 1_000_000),
        default=128,
        help="tokens per run (default 128)",
    )
    p.add_argument("--threads", type=int_range(1, 4096), help="CPU threads for llama-server")
    p.add_argument(
        "--draft-max",
        type=int_range(1, 1024),
        default=8,
        help="tokens drafted per step (default 8; published results use 5–16)",
    )
    p.add_argument("--draft-min", type=int_range(0, 1024), default=0)
    p.add_argument(
        "--p-min",
        type=float_range(0.0, 1.0),
        default=0.75,
        help="minimum draft probability (default 0.75)",
    )


def _add_output_and_ollama_args(p: argparse.ArgumentParser) -> None:
    """Where results go: JSON, the Ollama mode, applying to / undoing in Ollama."""
    p.add_argument(
        "--json", type=Path, help="write the result as JSON (docs/SPECULATIVE_FORMAT.md)"
    )
    p.add_argument(
        "--as-ollama",
        action="store_true",
        help="also measure the target as Ollama >= 0.30 would run it (its MTP heads, or --draft "
        "attached as DRAFT, with Ollama's llama-server flags)",
    )
    p.add_argument(
        "--draft-num-predict",
        type=int_range(1, 1024),
        help="Ollama's draft_num_predict for --as-ollama (default 4)",
    )
    p.add_argument(
        "--apply-to-ollama",
        action="store_true",
        help="if the Ollama mode is significantly faster, create NAME-spec in Ollama "
        "(asks first; the target itself is not changed; undo: --undo-ollama NAME-spec)",
    )
    p.add_argument("--yes", action="store_true", help="do not ask before --apply-to-ollama")
    p.add_argument(
        "--undo-ollama",
        metavar="NAME-spec",
        help="delete a NAME-spec model that --apply-to-ollama created (only those)",
    )
    p.add_argument("--url", help="Ollama URL (default: OLLAMA_HOST or http://127.0.0.1:11434)")
    p.add_argument("-q", "--quiet", action="store_true")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare vanilla vs speculative decoding (llama.cpp)")
    _add_model_args(p)
    _add_measure_args(p)
    _add_output_and_ollama_args(p)
    p.set_defaults(func=_cmd)
