"""Parse the timing lines of `llama-speculative` and `llama-completion` (`velollm compare
--engine llama-speculative`: llama.cpp's own command-line tools instead of llama-server).

The formats change across llama.cpp versions (log prefixes, `llama_perf_*` vs
`common_perf_print`), so each value is found by a regex on its own line, whatever precedes it.
Tested on recorded outputs in tests/fixtures/llamacpp/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from velollm_desktop.core.failure import CannotRun

_NUM = r"([0-9]+(?:\.[0-9]+)?)"


def _find(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text, re.MULTILINE)
    return float(m.group(1)) if m else None


@dataclass(frozen=True)
class SpeculativeRun:
    """What `llama-speculative` reports (tokens per second, counts)."""

    decoded_tokens: int | None
    decode_tokens_per_s: float | None
    prompt_tokens_per_s: float | None
    n_drafted: int | None
    n_accepted: int | None
    ttft_ms: float | None = None
    """Prompt processing before the first token ("encoded N tokens in S seconds"), model load
    excluded."""

    @property
    def acceptance(self) -> float | None:
        """Accepted / drafted, 0–1."""
        return (
            self.n_accepted / self.n_drafted
            if self.n_drafted and self.n_accepted is not None
            else None
        )


@dataclass(frozen=True)
class CompletionRun:
    """What `llama-completion` / `llama-cli` report."""

    decode_tokens_per_s: float | None
    prompt_tokens_per_s: float | None
    eval_tokens: int | None
    ttft_ms: float | None = None
    """Prompt processing before the first token ("prompt eval time"), model load excluded."""


def parse_speculative(text: str) -> SpeculativeRun:
    """Parse llama-speculative's stderr."""
    decoded = _find(rf"decoded\s+{_NUM}\s+tokens in", text)
    drafted = _find(rf"n_drafted\s*=\s*{_NUM}", text)
    accepted = _find(rf"n_accept\s*=\s*{_NUM}", text)
    return SpeculativeRun(
        decoded_tokens=int(decoded) if decoded is not None else None,
        decode_tokens_per_s=_find(
            rf"decoded\s+\d+\s+tokens in\s+[0-9.]+\s+seconds, speed:\s+{_NUM}", text
        ),
        prompt_tokens_per_s=_find(
            rf"encoded\s+\d+\s+tokens in\s+[0-9.]+\s+seconds, speed:\s+{_NUM}", text
        ),
        n_drafted=int(drafted) if drafted is not None else None,
        n_accepted=int(accepted) if accepted is not None else None,
        ttft_ms=(
            encoded * 1000
            if (encoded := _find(rf"encoded\s+\d+\s+tokens in\s+{_NUM}", text)) is not None
            else None
        ),
    )


def parse_completion(text: str) -> CompletionRun:
    """Parse llama-completion's (or llama-cli's) perf lines."""
    eval_line = re.search(
        rf"(?<!prompt )\beval time =\s+[0-9.]+ ms /\s+{_NUM} (?:runs|tokens).*?{_NUM} tokens per second",
        text,
    )
    return CompletionRun(
        decode_tokens_per_s=float(eval_line.group(2)) if eval_line else None,
        prompt_tokens_per_s=_find(rf"prompt eval time =.*?{_NUM} tokens per second", text),
        eval_tokens=int(float(eval_line.group(1))) if eval_line else None,
        ttft_ms=_find(rf"prompt eval time =\s+{_NUM} ms", text),
    )


def run_seed_tools(
    target: str,
    draft: str,
    prompt: str,
    n_predict: int = 64,
    threads: int = 2,
    bin_dir: str | None = None,
    timeout_s: float = 600,
) -> tuple[CompletionRun, SpeculativeRun]:
    """Run `llama-completion` (vanilla) and `llama-speculative` directly and parse them.

    Both are run with an argv list (no shell) and a timeout; a failure raises RuntimeError with the
    program's last output lines, a death by a signal `EngineCrashed` (crash.interpret_exit).
    """
    import subprocess  # noqa: PLC0415 - only this path starts these programs

    from velollm_desktop.core.llamacpp.binaries import find_program  # noqa: PLC0415
    from velollm_desktop.core.llamacpp.crash import PHASE_RUN, interpret_exit  # noqa: PLC0415

    source = find_program("llama-speculative", bin_dir).source

    def exe(name: str) -> str:
        return str(find_program(name, bin_dir).path)

    # --ignore-eos: every run generates n tokens (a prompt the model ends at once has no speed)
    common = ["-p", prompt, "-n", str(n_predict), "-t", str(threads), "--temp", "0"]
    common += ["--seed", "42", "-c", "2048", "--ignore-eos"]
    runs = []
    for argv in (
        [exe("llama-completion"), "-m", target, *common, "-no-cnv"],
        [exe("llama-speculative"), "-m", target, "-md", draft, *common, "--spec-draft-n-max", "8"],
    ):
        res = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if res.returncode != 0:
            tail = "\n".join(res.stderr.strip().splitlines()[-8:])
            name = Path(argv[0]).name
            crash = interpret_exit(name, res.returncode, PHASE_RUN, tail, source)
            if crash is not None:
                raise crash
            raise CannotRun(f"{name} exited with status {res.returncode}:\n{tail}")
        runs.append(res.stderr)
    return parse_completion(runs[0]), parse_speculative(runs[1])
