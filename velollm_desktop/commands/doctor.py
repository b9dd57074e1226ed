"""`velollm doctor [--json]`: why a model is slow (CPU spill, VRAM held, settings, history).

Exit status: 0 nothing wrong, 1 a problem was found (scripts and cron), 2 usage or no server
answered."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from velollm_desktop.cli_errors import CliError
from velollm_desktop.core import jsonio
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.doctor import DoctorReport, diagnose
from velollm_desktop.core.hardware.model import hardware_from_json
from velollm_desktop.core.jsonio import read_json_object
from velollm_desktop.core.settings import ollama_url_from_env


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="find models spilling to the CPU, VRAM held by another model, settings that do not fit",
        description="Checks what Ollama has loaded (and llama-servers you name) against the "
        "memory fit and this machine's benchmark history. Exit status 1 when a problem was found.",
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument(
        "--url", help="Ollama's address (default: OLLAMA_HOST or http://127.0.0.1:11434)"
    )
    p.add_argument("--no-ollama", action="store_true", help="do not check Ollama")
    p.add_argument(
        "--llama-server",
        action="append",
        default=[],
        metavar="URL",
        help="also check this llama-server (repeatable)",
    )
    p.add_argument(
        "--hardware",
        type=Path,
        metavar="FILE",
        help="use this `velollm detect --json` report instead of detecting the hardware",
    )
    p.set_defaults(func=run)


def _text(report: DoctorReport) -> str:
    lines = [f"checked: {c}" for c in report.checked]
    lines += [f"note: {n}" for n in report.notes]
    if not report.findings:
        lines.append("No problem found.")
    for i, f in enumerate(report.findings, 1):
        tag = "PROBLEM" if f.problem else "advice"
        lines.append(f"{i}. [{tag}] {f.kind}: {f.cause}")
        lines += [f"   fix ({x.kind}): {x.text}" for x in f.fixes]
    for r in report.rerun:
        lines.append(f"re-run: {r.text}: velollm benchmark --model {r.model} --suite {r.suite}")
    if report.problems:
        lines.append("Fixes: the Doctor page of the app applies them (with confirmation and undo).")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    url = None if args.no_ollama else (args.url or ollama_url_from_env())
    if url is None and not args.llama_server:
        raise CliError("nothing to check: drop --no-ollama or name a --llama-server URL")
    try:
        hw = (
            hardware_from_json(read_json_object(args.hardware, "--hardware"))
            if args.hardware
            else None
        )
    except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CliError(
            f"--hardware {args.hardware}: not a `velollm detect --json` report ({exc})"
        ) from exc
    history = History()
    try:
        report = diagnose(url, args.llama_server, history=history, hardware=hw)
    finally:
        history.close()
    asked = (1 if url else 0) + len(args.llama_server)
    nobody = len(report.unreachable) == asked
    if args.json:
        print(json.dumps({**jsonio.to_plain(report), "problems": len(report.problems)}, indent=2))
    elif nobody:
        raise CliError("no server answered: " + " ".join(report.unreachable))
    else:
        print(_text(report))
    if nobody:
        return 2
    return 1 if report.problems else 0
