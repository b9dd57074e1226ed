"""`velollm compare … --apply-to-ollama`: a significant gain as Ollama runs it → `<model>-spec`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from velollm_desktop.cli_errors import CliError, say
from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.llamacpp.gguf import read_gguf
from velollm_desktop.core.settings import ollama_url_from_env
from velollm_desktop.core.speculative.compare import OLLAMA_MODE, CompareResult, significant_gain
from velollm_desktop.core.speculative.ollama_apply import spec_plan, use_in_ollama


def _consent(args: argparse.Namespace) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise CliError("--apply-to-ollama needs --yes when not run from a terminal")
    return input("Create it? [y/N] ").strip().lower() in ("y", "yes")


def apply_to_ollama(args: argparse.Namespace, result: CompareResult, draft: Path | None) -> int:
    """Offer (and with consent create) `<model>-spec`; measure before/after through Ollama."""
    mode = next((m for m in result.modes if m.mode == OLLAMA_MODE), None)
    if mode is None:
        print("nothing created in Ollama: the Ollama mode could not be measured (see above)")
        return 1
    if not significant_gain(mode):
        print(
            "nothing created in Ollama: as Ollama would run it, the gain is not significant "
            f"({mode.speedup or 0:.2f}×, 95 % interval {mode.speedup_ci95})"
        )
        return 1
    n = int(mode.args[mode.args.index("--spec-draft-n-max") + 1])
    arch = read_gguf(draft).architecture if draft else None
    plan = spec_plan(args.target.removeprefix("ollama:"), draft, n, arch)
    print(plan.describe())
    if not _consent(args):
        print("nothing created")
        return 1
    url = args.url or ollama_url_from_env()
    try:
        applied = use_in_ollama(url, plan)
    except UserFacingError as exc:
        raise CliError(say(exc)) from exc
    before, after = applied.before, applied.after
    if before and after and before.score and after.score and applied.speedup:
        ratio, lo, hi = applied.speedup
        print(
            f"through Ollama {applied.ollama_version}: {plan.model} {before.score.mean:.1f} tok/s, "
            f"{plan.name} {after.score.mean:.1f} tok/s: {ratio:.2f}× ({lo:.2f}–{hi:.2f}, 95 %)"
        )
    print(f"created {plan.name}; undo with `velollm compare --undo-ollama {plan.name}`")
    return 0
