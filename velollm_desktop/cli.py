"""`velollm`: the command-line face of the same core the desktop app uses."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence

from velollm_desktop import __version__
from velollm_desktop.core import jsonio


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _cmd_detect(args: argparse.Namespace) -> int:
    from velollm_desktop.core.hardware import detect_hardware  # noqa: PLC0415
    from velollm_desktop.core.hardware.report import render_text  # noqa: PLC0415

    spec = detect_hardware()
    print(jsonio.dumps(spec) if args.json else render_text(spec))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (sub-commands register themselves here)."""
    parser = argparse.ArgumentParser(
        prog="velollm",
        description="See your hardware, benchmark local LLMs honestly, and tune Ollama.",
    )
    parser.add_argument("--version", action="version", version=f"velollm {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the probes do")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    detect = sub.add_parser("detect", help="detect GPUs, CPU, memory and OS")
    detect.add_argument(
        "--json", action="store_true", help="print one JSON object (see docs/DETECT_FORMAT.md)"
    )
    detect.set_defaults(func=_cmd_detect)

    for register in _extra_commands():
        register(sub)
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
    return _CONTROL.sub("", text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `velollm` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from velollm_desktop.core.ollama.errors import OllamaError  # noqa: PLC0415

    try:
        return int(args.func(args) or 0)
    except (CliError, OllamaError) as exc:
        print(f"velollm: error: {plain(str(exc))}", file=sys.stderr)
        return exc.code if isinstance(exc, CliError) else 2
    except KeyboardInterrupt:
        print("velollm: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, RecursionError, MemoryError) as exc:
        # bad input that no command turned into a CliError: still one line (-v: the traceback)
        logging.getLogger("velollm").debug("unexpected failure", exc_info=True)
        print(f"velollm: error: {plain(str(exc))[:500]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
