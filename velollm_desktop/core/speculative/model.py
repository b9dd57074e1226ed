"""What a speculative comparison measures and returns: the modes and the frozen results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from velollm_desktop.core.bench.model import RunMeasurement
from velollm_desktop.core.bench.stats import Stats
from velollm_desktop.core.energy import EnergyReading
from velollm_desktop.core.failure import BadInput

OLLAMA_MODE = "ollama"
"""The mode "as Ollama would run it" (core/ollama/spec_info.py derives its flags)."""
NGRAM_TYPES = ("ngram-simple", "ngram-map-k", "ngram-map-k4v", "ngram-mod", "ngram-cache")
NGRAM_DESCRIPTIONS = {  # in our words, after llama.cpp's docs/speculative.md
    "ngram-simple": "repeats what followed the last match of the recent tokens (lowest cost)",
    "ngram-map-k": "drafts a continuation once it has followed the recent tokens before",
    "ngram-map-k4v": "tracks up to four continuations, drafts the clearly most frequent "
    "(experimental; long repetitions)",
    "ngram-mod": "a small rolling hash of past tokens, shared by all requests (about 16 MB)",
    "ngram-cache": "statistics of short token sequences",
}
"""What each llama-server `--spec-type` n-gram mode does: no draft model, the guesses come from
text that already appeared (code edits, summaries, answers that repeat the question)."""

DEFAULT_PROMPTS = (
    (
        "code",
        "Write a Python function that checks whether a string is a palindrome, then three unit tests for it.",
    ),
    ("prose", "Explain to a new employee, in a few paragraphs, how to write a clear bug report."),
)


@dataclass(frozen=True)
class SpecMode:
    """One way of decoding: its name and the llama-server flags that select it."""

    name: str
    args: tuple[str, ...] = ()


def draft_mode(draft: Path, n_max: int = 8, n_min: int = 0, p_min: float = 0.75) -> SpecMode:
    """Draft-model speculation (defaults: 8 drafted tokens per step, within the 5–16 that
    published draft-model results use, and a minimum draft probability of 0.75)."""
    return SpecMode(
        "draft",
        (
            "-md",
            str(draft),
            "--spec-type",
            "draft-simple",
            "--spec-draft-n-max",
            str(n_max),
            "--spec-draft-n-min",
            str(n_min),
            "--spec-draft-p-min",
            str(p_min),
        ),
    )


def ngram_mode(kind: str) -> SpecMode:
    """Draft-free speculation from n-grams of the context."""
    if kind not in NGRAM_TYPES:
        raise BadInput(f"unknown n-gram type {kind!r}: choose one of {', '.join(NGRAM_TYPES)}")
    return SpecMode(kind, ("--spec-type", kind))


@dataclass(frozen=True)
class ModeResult:
    """Measurements of one mode."""

    mode: str
    args: tuple[str, ...]
    runs: tuple[RunMeasurement, ...]
    decode_tokens_per_s: Stats | None
    ttft_ms: Stats | None
    prompt_tokens_per_s: Stats | None
    acceptance: float | None
    """Accepted / drafted tokens over all runs (0–1); None when the mode drafts nothing."""
    drafted: int
    accepted: int
    speedup: float | None = None
    speedup_ci95: tuple[float, float] | None = None
    agreement_with_vanilla: float | None = None
    """Mean share of the output text identical to vanilla's (common prefix / length), 0–1."""
    energy: EnergyReading | None = None
    """The mode's measured runs as one energy window (J per generated token), when measured."""


@dataclass(frozen=True)
class CompareResult:
    """The whole comparison (saved and exported as JSON: docs/SPECULATIVE_FORMAT.md)."""

    app_version: str
    started_at: str
    target: str
    draft: str | None
    n_predict: int
    runs_per_prompt: int
    modes: tuple[ModeResult, ...]
    advice: tuple[str, ...]
    compatibility: tuple[str, ...] = field(default=())
    llama_cpp: str | None = None
    """The llama-server used: its path and `--version` line."""


def significant_gain(mode: ModeResult) -> bool:
    """Faster than vanilla with 95 % confidence (the interval's low end above 1)."""
    return mode.speedup_ci95 is not None and mode.speedup_ci95[0] > 1.0
