"""`velollm optimize`: current vs recommended Ollama configuration; write, apply, undo."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from velollm_desktop.cli_errors import CliError, fix_text, say
from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fsutil import atomic_write_text
from velollm_desktop.core.hardware.model import HardwareSpec, hardware_from_json
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.jsonio import read_json_object
from velollm_desktop.core.optimize import writers
from velollm_desktop.core.optimize.parse import exposure_warnings
from velollm_desktop.core.optimize.recommend import (
    Recommendation,
    as_json_summary,
)
from velollm_desktop.core.optimize.session import optimize_state
from velollm_desktop.core.optimize.sources import CurrentConfig
from velollm_desktop.core.optimize.table import rows, worded
from velollm_desktop.core.settings import ollama_url_from_env
from velollm_desktop.core.wording import sentence

FORMATS = ("shell", "systemd", "launchd", "windows", "modelfile", "json")


def _hardware(path: Path | None) -> HardwareSpec:
    if path is None:
        from velollm_desktop.core.hardware import detect_hardware  # noqa: PLC0415

        return detect_hardware()
    try:
        return hardware_from_json(read_json_object(path, "--hardware"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CliError(f"--hardware {path}: not a `velollm detect --json` file ({exc})") from exc


def render(rec: Recommendation, fmt: str) -> str:
    """The recommendation in one output format."""
    if fmt == "json":
        return json.dumps(as_json_summary(rec), indent=2) + "\n"
    if fmt == "modelfile":
        return (
            "\n".join(
                f"# {name}\n{writers.render_modelfile(name, opts)}"
                for name, opts in rec.per_model.items()
            )
            or "# no per-model options recommended\n"
        )
    return {
        "shell": writers.render_shell,
        "systemd": writers.render_systemd,
        "launchd": writers.render_launchd,
        "windows": writers.render_windows,
    }[fmt](rec.env)


def render_report(
    current: CurrentConfig, rec: Recommendation, hardware: HardwareSpec | None = None
) -> str:
    """Current (with source) vs recommended, and why: the Optimize page's rows
    (`core.optimize.table.rows`: only the variables that matter)."""
    lines = [
        f"Budget: {rec.budget}",
        "",
        f"{'variable':<28}{'current':<34}{'recommended':<14}",
    ]
    for row in rows(current, rec, hardware):
        lines.append(f"{row.name:<28}{row.current:<34}{row.recommended:<14}")
    lines.append("")
    for f in rec.fits:
        where = f.placement
        lines.append(
            f"{f.name}: ctx {f.num_ctx or 'n/a'} × {f.parallel} slot(s), {f.vram_bytes / 2**30:.1f} GiB "
            f"(weights {f.weights_bytes / 2**30:.1f} + KV {f.kv_cache_bytes / 2**30:.2f} + compute "
            f"{f.compute_bytes / 2**30:.2f}) of {max(f.budget_bytes, 0) / 2**30:.1f} GiB — {where}"
        )
        lines.append(
            f"  bytes: weights {f.weights_bytes:,} / KV {f.kv_cache_bytes:,} / compute "
            f"{f.compute_bytes:,} — by {f.method}"
        )
    lines.append("")
    lines += [f"- {r.setting} = {r.value}: {r.why}" for r in rec.reasons]
    lines += [f"! {w}" for w in (*rec.warnings, *current.warnings, *current.notes)]
    return "\n".join(lines)


def _undo(applier, yes: bool) -> int:
    """`--undo`: a file edited since we wrote it is only discarded when the user says so."""
    from velollm_desktop.core.optimize import flow  # noqa: PLC0415

    outcome = flow.undo(applier)
    if outcome.kind is flow.UndoKind.EDITED:
        ask = not yes and sys.stdin.isatty()
        if not (
            yes or (ask and input(f"{outcome.text}. Discard them? [y/N] ").strip().lower() == "y")
        ):
            raise CliError(f"{outcome.text}; nothing changed (--undo --yes discards them)")
        outcome = flow.undo(applier, force=True)
    if outcome.kind is flow.UndoKind.FAILED:
        raise CliError(outcome.error)
    print(outcome.text)
    return 0


def _preview_or_reason(state, applier):
    """(plan, preview) of applying here, or the sentence saying why nothing can be applied."""
    from velollm_desktop.core.optimize.flow import preview_or_reason  # noqa: PLC0415

    planned = preview_or_reason(state, applier)
    return planned if isinstance(planned, str) else (planned.plan, planned.preview)


def _undo_models(url: str) -> int:
    """`--undo-models`: delete the NAME-velollm models that `--apply` created (only those)."""
    from velollm_desktop.core.optimize.per_model import undo_all_per_model  # noqa: PLC0415

    try:
        gone = undo_all_per_model(url)
    except ServerError as exc:
        raise CliError(say(exc)) from exc
    print("deleted " + ", ".join(gone) if gone else "no per-model models to delete")
    return 0


def _to_apply(planned, models, only_models: bool) -> tuple[object | None, str]:
    """Print what `--apply` will do (the server-settings preview unless `--only-models`, then the
    per-model models it creates); return (the env plan or None, the consent question)."""
    from velollm_desktop.core.optimize.per_model import describe  # noqa: PLC0415

    if only_models:
        print(describe(models))
        return None, "Create these models"
    if isinstance(planned, str):
        raise CliError(f"nothing can be applied here: {planned}")
    plan, preview = planned
    print(preview.text())
    if models:
        print(describe(models))
    return plan, preview.accept_label


def _apply_models(url: str, models) -> None:
    """Create the per-model NAME-velollm models and say what happened to each."""
    from velollm_desktop.core.optimize.per_model import apply_per_model  # noqa: PLC0415

    for done in apply_per_model(url, models):
        opts = " ".join(f"{k}={v}" for k, v in sorted(done.plan.options.items()))
        print(
            f"created {done.plan.name} ({opts}); undo with `velollm optimize --undo-models`"
            if done.created
            else f"not created {done.plan.name}: {done.error}"
        )
        for why in done.plan.reasons:
            print(f"  - {why}")


def _state(args: argparse.Namespace, root):
    """The recommendation for this machine, with notes and warnings on stderr."""
    spec = _hardware(args.hardware)
    try:
        state = optimize_state(
            spec, args.url or ollama_url_from_env(), args.strategy, args.model_info or [], root=root
        )
    except (OSError, UserFacingError) as exc:
        # each bad model is already a note ("skipped …", naming where it came from): what
        # reaches here is not about one model, so no option the user did not pass is named
        raise CliError(f"cannot plan: {exc}") from exc
    if args.model_info and not state.models:  # every file named was unusable: say so, exit 2
        raise CliError("no --model-info file could be used: " + "; ".join(state.notes))
    for n in worded(state.notes, fix_text):
        print(f"note: {sentence(n)}", file=sys.stderr)
    for w in exposure_warnings({k: v.parsed.raw for k, v in state.current.values.items()}):
        print(f"WARNING: {w}", file=sys.stderr)
    if not state.models and not args.model_info:
        print("note: add --model-info NAME=FILE to plan for a model", file=sys.stderr)
    return state


def _output(args: argparse.Namespace, rec: Recommendation) -> int | None:
    """`-o FILE` or `--format` without `--apply`: write or print the rendering (else None)."""
    fmt = args.format or "shell"
    try:
        text = render(rec, fmt)  # also checks every value before anything else is done
    except writers.UnsafeValue as exc:
        raise CliError(say(exc)) from exc
    if not (args.output or (args.format and not args.apply)):
        return None
    if args.output:
        atomic_write_text(args.output, text, backup=args.output.exists())
        print(f"wrote {args.output} ({fmt})")
    else:
        print(text, end="")
    return 0


def _report(args: argparse.Namespace, state, planned) -> int:
    """Without `--apply`: the report, and with `--dry-run` what applying would do."""
    print(render_report(state.current, state.recommendation, state.hardware))
    if args.dry_run:
        print("\nDry run — nothing was changed. ", end="")
        if isinstance(planned, str):
            print(f"Nothing can be applied here: {planned}")
        else:
            print(f"Applying would do this:\n{planned[1].text()}\n\n{planned[0].content}", end="")
    return 0


def _apply(args: argparse.Namespace, state, planned, applier) -> int:
    """`--apply`: show what changes, ask (or `--yes`), apply, create the per-model models,
    and with `--verify` check what the running server reports."""
    from velollm_desktop.core.optimize import per_model  # noqa: PLC0415

    rec, url = state.recommendation, args.url or ollama_url_from_env()
    models = per_model.per_model_plans(rec)
    plan, question = _to_apply(planned, models, args.only_models)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("--apply needs --yes when not run from a terminal")
        if input(f"{question}? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    if plan is not None:
        from velollm_desktop.core.optimize import flow  # noqa: PLC0415

        # --verify reads the server next: wait until the restarted Ollama answers first
        outcome = flow.apply_recommendation(applier, plan, wait_url=url if args.verify else None)
        if outcome.kind is flow.ApplyKind.FAILED:
            raise CliError(outcome.error)
        late = f"; {outcome.late}" if outcome.late else ""
        print(
            f"applied; backup: {outcome.backup or 'none (new file)'}; "
            f"undo with `velollm optimize --undo`{late}"
        )
    _apply_models(url, models)
    if args.verify:
        from velollm_desktop.core.optimize.verify import verify  # noqa: PLC0415

        report = verify(rec.env, url)
        print("\n".join(report.checks + tuple(f"MISMATCH: {m}" for m in report.mismatches)))
        return 0 if report.ok else 3
    return 0


def _cmd(args: argparse.Namespace) -> int:
    from velollm_desktop.core.optimize.apply import Applier  # noqa: PLC0415
    from velollm_desktop.core.optimize.service import dropin_path, system_root  # noqa: PLC0415

    root = system_root()
    applier = Applier(dropin=dropin_path(root))
    if args.undo:
        return _undo(applier, args.yes)
    if args.undo_models:
        return _undo_models(args.url or ollama_url_from_env())
    if args.output:  # before any work: a bad target is one line, at once
        try:
            writers.check_output_path(args.output)
        except writers.UnsafeValue as exc:
            raise CliError(f"-o: {exc}") from exc
    state = _state(args, root)
    written = _output(args, state.recommendation)
    if written is not None:
        return written
    planned = _preview_or_reason(state, applier)
    if not args.apply:
        return _report(args, state, planned)
    return _apply(args, state, planned, applier)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optimize",
        help="recommend (and apply) an Ollama configuration for this hardware and models",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="show the recommendation and what applying would do; change nothing",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        help="write the recommendation to FILE (format: --format, default shell)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="print (or with -o write) this format instead of the report",
    )
    p.add_argument(
        "--apply",
        action="store_true",
        help="write it where Ollama reads it and restart Ollama; create NAME-velollm models "
        "carrying the per-model options (num_ctx, num_thread, num_gpu, num_batch)",
    )
    p.add_argument("--yes", action="store_true", help="do not ask before --apply")
    p.add_argument(
        "--only-models",
        action="store_true",
        help="with --apply: only create the per-model derived models (NAME-velollm), "
        "leave the server settings alone",
    )
    p.add_argument(
        "--undo-models",
        action="store_true",
        help="delete the NAME-velollm models that --apply created",
    )
    p.add_argument(
        "--verify", action="store_true", help="after --apply, check what the server runs with"
    )
    p.add_argument(
        "--undo", action="store_true", help="restore the configuration from before the last --apply"
    )
    p.add_argument("--strategy", choices=("fit", "heuristic"), default="fit")
    p.add_argument(
        "--hardware",
        type=Path,
        help="plan for the machine described by a `velollm detect --json` file",
    )
    p.add_argument(
        "--model-info",
        action="append",
        metavar="NAME=FILE",
        help="a saved /api/show response (repeatable)",
    )
    p.add_argument("--url", help="Ollama URL (default: OLLAMA_HOST or http://127.0.0.1:11434)")
    p.set_defaults(func=_cmd)
