"""`velollm`: the command-line face of the same core the desktop app uses."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence

from velollm_desktop import __version__
from velollm_desktop.cli_errors import CliError, say
from velollm_desktop.core import jsonio
from velollm_desktop.core.failure import UserFacingError

__all__ = ["CliError", "build_parser", "main"]


def _cmd_detect(args: argparse.Namespace) -> int:
    from velollm_desktop.core.hardware import detect_hardware  # noqa: PLC0415
    from velollm_desktop.core.hardware.report import render_text  # noqa: PLC0415

    spec = detect_hardware()
    print(jsonio.dumps(spec) if args.json else render_text(spec))
    return 0


EXAMPLES = """examples:
  velollm detect                                  what hardware this machine has
  velollm benchmark --suite quick                 a one-minute benchmark of Ollama's first model
  velollm optimize --dry-run                      what Ollama settings would suit this machine
"""

OPTION_HELP = {
    # Options the sub-command modules register without a help text (filled in here, so each
    # module keeps its own argument list): (command, option) → help.
    ("benchmark", "--backend"): "which server to measure (default ollama)",
    ("benchmark", "--suite"): "standard: 3 tests, 5/3/3 runs; quick: 1 test, 3 runs",
    ("compare", "--draft-min"): "minimum tokens drafted per step (default 0)",
    ("compare", "--quiet"): "no progress lines",
    ("optimize", "--strategy"): "fit: size the context to fit memory (default); heuristic: the "
    "seed's rules",
    ("tune", "--backend"): "llamacpp: start llama-server per candidate (default); ollama: a "
    "running Ollama",
    ("tune", "--objective"): "decode: tokens/s of one client (default); throughput: all clients "
    "together",
    ("tune", "--n-predict"): "tokens generated per measurement (default 64)",
    ("tune", "--json"): "also write the result as JSON",
    ("tune", "--quiet"): "no progress lines",
}


def _fill_help(sub: argparse._SubParsersAction) -> None:
    for name, command in sub.choices.items():
        for action in command._actions:
            key = next((o for o in action.option_strings if o.startswith("--")), None)
            if action.help is None and (name, key) in OPTION_HELP:
                action.help = OPTION_HELP[(name, key)]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (sub-commands register themselves here)."""
    parser = argparse.ArgumentParser(
        prog="velollm",
        description="See your hardware, benchmark local LLMs honestly, and tune Ollama.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"velollm {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the probes do")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    detect = sub.add_parser("detect", help="detect GPUs, CPU, memory and OS")
    detect.add_argument(
        "--json", action="store_true", help="print one JSON object (see docs/DETECT_FORMAT.md)"
    )
    detect.set_defaults(func=_cmd_detect)

    for register in _extra_commands():
        register(sub)
    _fill_help(sub)
    return parser


def _extra_commands() -> list:
    """Sub-command registrars of the other capabilities (each in its own module)."""
    from velollm_desktop import commands  # noqa: PLC0415

    return commands.REGISTRARS


_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f\x9b]"
)


def plain(text: str) -> str:
    """`text` without terminal escape sequences or control characters (newlines and tabs kept)."""
    from velollm_desktop.core.http.bounds import redact_text  # noqa: PLC0415

    return redact_text(_CONTROL.sub("", text))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `velollm` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `velollm` alone: what it can do, not an error
        parser.print_help()
        return 0
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from velollm_desktop.core.http.bounds import RedactingFormatter  # noqa: PLC0415

    for handler in logging.getLogger().handlers:  # no password of a URL reaches a log line
        handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    try:
        return int(args.func(args) or 0)
    except (CliError, UserFacingError) as exc:
        # the message says what is wrong; `say` adds the CLI's words for its typed fix
        print(f"velollm: error: {plain(say(exc))}", file=sys.stderr)
        from velollm_desktop.core.llamacpp.crash import details_block  # noqa: PLC0415 - error path

        details = details_block(exc)  # a crashed llama.cpp program: its last lines, under it
        if details:
            print(f"  details (the program's last output):\n{plain(details)}", file=sys.stderr)
        return exc.code if isinstance(exc, CliError) else 2
    except KeyboardInterrupt:
        print("velollm: interrupted", file=sys.stderr)
        return 130
    except (OSError, RecursionError, MemoryError) as exc:
        # a file, socket or permission failure no command turned into a CliError, or input too
        # deep or too large: one line (-v: the traceback). A bug (a plain ValueError, …) is not
        # caught: Python prints its traceback.
        logging.getLogger("velollm").debug("unexpected failure", exc_info=True)
        print(f"velollm: error: {plain(str(exc))[:500]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
