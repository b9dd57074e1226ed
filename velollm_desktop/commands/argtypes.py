"""Range-checked argparse types: a bad number is one `velollm …: error:` line, never a traceback."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    """An integer option within lo..hi."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({lo} to {hi})")
        return value

    parse.__name__ = "int"
    return parse


def float_range(lo: float, hi: float, *, low_open: bool = False) -> Callable[[str], float]:
    """A finite number within lo..hi (above lo when `low_open`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        too_low = value <= lo if low_open else value < lo
        if not math.isfinite(value) or too_low or value > hi:
            low = f"above {lo:g}" if low_open else f"{lo:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range ({low} to {hi:g})")
        return value

    parse.__name__ = "float"
    return parse


def enum_choice(choices: Sequence[E]) -> Callable[[str], E]:
    """An option naming one of `choices` (a str-valued enum), parsed once to the enum; any
    other text is argparse's own "invalid choice" line."""

    def parse(text: str) -> E:
        for choice in choices:
            if choice.value == text:
                return choice
        names = ", ".join(repr(c.value) for c in choices)
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {names})")

    parse.__name__ = type(choices[0]).__name__
    return parse
