"""A failure as data: what went wrong and the fix it calls for, typed, across threads and layers.

An exception class names its fix (`fix = Fix.START_SERVER` on `ServerNotRunning`, …); the job
runner turns a job's exception into a frozen `Failure` that the page reads (`Failure.fix`),
so rewording a message never disables a feature that depends on it. The GUI and the CLI
each say the fix in their own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Fix(Enum):
    NONE = "none"
    START_SERVER = "start-the-server"
    """Nothing answers at the address: start it (or use the built-in engine)."""
    SET_ADDRESS = "set-the-address"
    """The address is not a usable URL."""
    INSTALL_ENGINE = "install-the-engine"
    """No usable llama.cpp program was found."""


@dataclass(frozen=True)
class Failure:
    type_name: str
    message: str
    """One sentence for the user (a bug's says where its traceback was logged)."""
    fix: Fix = Fix.NONE
    expected: bool = True
    """False for a bug (its traceback is in the log)."""


def fix_of(exc: BaseException) -> Fix:
    fix = getattr(type(exc), "fix", Fix.NONE)
    return fix if isinstance(fix, Fix) else Fix.NONE
