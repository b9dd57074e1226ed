"""Benchmark suites: the seed's standard suite, a quick one for the tray, and custom tests."""

from __future__ import annotations

from dataclasses import dataclass

from velollm_desktop.core.failure import BadInput


@dataclass(frozen=True)
class BenchTest:
    """One test: a prompt, how many tokens to generate, how many measured runs."""

    name: str
    prompt: str
    max_tokens: int
    runs: int


SHORT_PROMPT = "Explain in two sentences what a GPU does."
MEDIUM_PROMPT = (
    "Write a short story about a robot who learns to paint. Describe the colours it discovers."
)
CODE_PROMPT = "Write a Python function that returns the n-th Fibonacci number iteratively, with a docstring and tests."

SUITES: dict[str, tuple[BenchTest, ...]] = {
    "standard": (
        BenchTest("short_completion", SHORT_PROMPT, 50, 5),
        BenchTest("medium_completion", MEDIUM_PROMPT, 150, 3),
        BenchTest("code_generation", CODE_PROMPT, 200, 3),
    ),
    "quick": (BenchTest("quick_completion", SHORT_PROMPT, 64, 3),),
}


def suite(
    name: str, runs: int | None = None, max_tokens: int | None = None
) -> tuple[BenchTest, ...]:
    """The named suite, optionally with another run count / token count for every test."""
    try:
        tests = SUITES[name]
    except KeyError:
        raise BadInput(f"unknown suite '{name}': choose one of {', '.join(SUITES)}") from None
    return tuple(
        BenchTest(t.name, t.prompt, max_tokens or t.max_tokens, runs or t.runs) for t in tests
    )


def varied_prompt(prompt: str, run_index: int, nonce: str) -> str:
    """Make each run's prompt unique so a prompt-cache hit cannot inflate prompt speed."""
    return f"[benchmark run {run_index} · {nonce}]\n{prompt}"


def describe_suite(name: str) -> str:
    """ "3 tests, 11 measured runs after one warm-up, 1450 tokens to generate" (what Run does)."""
    tests = SUITES[name]
    runs = sum(t.runs for t in tests)
    tokens = sum(t.runs * t.max_tokens for t in tests)
    names = ", ".join(t.name for t in tests)
    return (
        f"{len(tests)} test{'s' if len(tests) != 1 else ''} ({names}): {runs} measured runs "
        f"after one warm-up, {tokens} tokens to generate; the time depends on the model's "
        "speed (at 20 tokens/s about "
        f"{max(1, round(tokens / 20 / 60))} min)."
    )
