"""Compare decoding modes on one target model with real llama-server processes.

Each mode starts its own llama-server on a free loopback port, waits for /health, runs the
same prompts (code and prose; temperature 0, fixed seed, fixed length) N times, and is stopped
— on success, error and cancel. Speedups are ratios of mean decode speeds with a 95 % interval.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from velollm_desktop import __version__
from velollm_desktop.core.bench.model import RunMeasurement
from velollm_desktop.core.bench.stats import Stats, ratio_ci95, summarize
from velollm_desktop.core.cancel import Cancelled
from velollm_desktop.core.llamacpp.binaries import LlamaBinary, find_program, program_version
from velollm_desktop.core.llamacpp.client import LlamaServerClient
from velollm_desktop.core.llamacpp.gguf import GGUFInfo, read_gguf
from velollm_desktop.core.llamacpp.server import LlamaServer, ServerStartError
from velollm_desktop.core.progress import runs_left_text

OLLAMA_MODE = "ollama"
"""The mode "as Ollama would run it" (core/speculative/ollama_spec.py derives its flags)."""
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
VOCAB_MAX_DIFFERENCE = 128
"""llama.cpp's tolerance (SPEC_VOCAB_MAX_SIZE_DIFFERENCE) between target and draft vocabularies."""


def refused_note(mode: SpecMode, error: str) -> str:
    """Why llama-server did not start with Ollama's flags (its error lines)."""
    log = error.splitlines()
    first_e = next((i for i, x in enumerate(log) if re.search(r" E ", x)), None)
    picked = [] if first_e is None else log[max(first_e - 1, 0) :]  # the warning that caused it
    lines = [
        x.split(": ", 1)[-1].strip()
        for x in picked
        if re.search(r" [EW] ", x) and not re.search(r"exiting|cleaning up", x)
    ]
    why = "; ".join(dict.fromkeys(lines[:4])) or (log or ["?"])[-1].strip()
    return (
        f"as Ollama would run it (`{' '.join(mode.args)}`): not measured — this llama-server "
        f"refuses these flags: {why}. Ollama ≥ 0.30 passes the same flags to its own "
        "llama-server, so expect the same there."
    )


def significant_gain(mode: ModeResult) -> bool:
    """Faster than vanilla with 95 % confidence (the interval's low end above 1)."""
    return mode.speedup_ci95 is not None and mode.speedup_ci95[0] > 1.0


class CompareCancelled(Cancelled):
    """The user cancelled; every server was already stopped."""


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
        raise ValueError(f"unknown n-gram type {kind!r}: choose one of {', '.join(NGRAM_TYPES)}")
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


def compatibility_problems(target: GGUFInfo, draft: GGUFInfo) -> list[str]:
    """Why `draft` cannot speculate for `target` (empty list: compatible)."""
    problems = []
    if target.tokenizer_model != draft.tokenizer_model:
        problems.append(
            f"different tokenizers: {target.tokenizer_model} vs {draft.tokenizer_model}"
        )
    tv, dv = target.vocab_size or 0, draft.vocab_size or 0
    if abs(tv - dv) > VOCAB_MAX_DIFFERENCE:
        problems.append(
            f"vocabularies differ by {abs(tv - dv)} tokens ({tv} vs {dv}; llama.cpp allows {VOCAB_MAX_DIFFERENCE})"
        )
    for key in ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"):
        if target.metadata.get(key) != draft.metadata.get(key):
            problems.append(
                f"{key.rsplit('.', 1)[-1]} differs: {target.metadata.get(key)} vs {draft.metadata.get(key)}"
            )
    if target.token_head(200) != draft.token_head(200):
        problems.append("the first 200 vocabulary entries differ")
    return problems


def _agreement(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n / max(len(a), len(b))


@dataclass
class _Progress:
    """Runs done / runs planned, reported as they change, with the time left at this pace."""

    report: Callable[[int, int, str], None]
    total: int
    done: int = 0
    started: float = field(default_factory=time.monotonic)

    def say(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        self.report(
            self.done, self.total, f"{text} — {runs_left_text(self.done, self.total, elapsed)}"
        )


def _check_draft(
    target: Path, draft: Path | None, modes: Sequence[SpecMode]
) -> tuple[GGUFInfo, GGUFInfo | None, list[str]]:
    """Read both GGUFs; refuse a draft that cannot draft for the target when a mode needs it."""
    target_info = read_gguf(target)
    draft_info = read_gguf(draft) if draft else None
    problems = compatibility_problems(target_info, draft_info) if draft_info else []
    if problems and any(m.name in ("draft", OLLAMA_MODE) for m in modes):
        name = draft.name if draft else "the draft"
        raise ValueError(f"{name} cannot draft for {target.name}: " + "; ".join(problems))
    return target_info, draft_info, problems


def _measure_mode(
    target: Path,
    mode: SpecMode,
    *,
    runs: int,
    n_predict: int,
    threads: int | None,
    prompts: Sequence[tuple[str, str]],
    binary: LlamaBinary | None,
    cancel: threading.Event,
    progress: _Progress,
) -> list[RunMeasurement]:
    """One llama-server for `mode`: warm up, then every prompt `runs` times (stopped on exit)."""
    progress.say(f"{mode.name}: starting llama-server")
    measured: list[RunMeasurement] = []
    with (
        LlamaServer(
            target, mode.args, binary=binary, threads=threads, ctx_size=4096, cancel=cancel
        ) as server,
        LlamaServerClient(server.url) as client,
    ):
        client.measure("warm-up", 8)  # page the weights in; not counted
        for r in range(runs):
            for label, prompt in prompts:
                if cancel.is_set():
                    raise CompareCancelled("cancelled; every llama-server was stopped")
                m = client.measure(f"[run {r}] {prompt}", n_predict, cancel=cancel)
                measured.append(m)
                progress.done += 1
                progress.say(
                    f"{mode.name} · {label} run {r + 1}/{runs}: "
                    f"{m.server_decode_tokens_per_s or 0:.1f} tok/s"
                )
    if cancel.is_set():
        raise CompareCancelled("cancelled; every llama-server was stopped")
    return measured


def _mode_result(mode: SpecMode, measured: list[RunMeasurement]) -> ModeResult:
    """Summaries of one mode's runs (speedups come later, against the baseline)."""
    drafted = sum(m.draft_n or 0 for m in measured)
    accepted = sum(m.draft_n_accepted or 0 for m in measured)
    return ModeResult(
        mode=mode.name,
        args=mode.args,
        runs=tuple(measured),
        decode_tokens_per_s=summarize([m.server_decode_tokens_per_s for m in measured]),
        ttft_ms=summarize([m.ttft_ms for m in measured]),
        prompt_tokens_per_s=summarize([m.prompt_tokens_per_s for m in measured]),
        acceptance=accepted / drafted if drafted else None,
        drafted=drafted,
        accepted=accepted,
    )


def _with_speedups(results: list[ModeResult], texts: dict[str, list[str]]) -> list[ModeResult]:
    """Each mode's speedup (95 % interval) and output agreement against the first mode."""
    base = results[0]
    final = []
    for res in results:
        speed = ci = None
        if base.decode_tokens_per_s and res.decode_tokens_per_s:
            speed, lo, hi = ratio_ci95(res.decode_tokens_per_s, base.decode_tokens_per_s)
            ci = (lo, hi)
        agree = [_agreement(a, b) for a, b in zip(texts[base.mode], texts[res.mode], strict=False)]
        final.append(
            replace(
                res,
                speedup=speed,
                speedup_ci95=ci,
                agreement_with_vanilla=sum(agree) / len(agree) if agree else None,
            )
        )
    return final


def run_compare(
    target: Path,
    modes: Sequence[SpecMode],
    *,
    draft: Path | None = None,
    runs: int = 3,
    n_predict: int = 128,
    threads: int | None = None,
    prompts: Sequence[tuple[str, str]] = DEFAULT_PROMPTS,
    binary: LlamaBinary | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: threading.Event | None = None,
    notes: Sequence[str] = (),
    on_mode: Callable[[ModeResult], None] | None = None,
) -> CompareResult:
    """Measure every mode; the first mode is the baseline (normally vanilla). `notes` (what
    Ollama would do with this model) come first in the advice. `on_mode` gets each mode's
    result (its speedup against the baseline) as soon as that mode is measured."""
    cancel = cancel or threading.Event()
    target_info, draft_info, problems = _check_draft(target, draft, modes)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    tracker = _Progress(progress or (lambda *_: None), len(modes) * runs * len(prompts))
    results: list[ModeResult] = []
    texts: dict[str, list[str]] = {}
    for mode in modes:
        try:
            measured = _measure_mode(
                target,
                mode,
                runs=runs,
                n_predict=n_predict,
                threads=threads,
                prompts=prompts,
                binary=binary,
                cancel=cancel,
                progress=tracker,
            )
        except ServerStartError as exc:
            if cancel.is_set():
                raise CompareCancelled("cancelled; every llama-server was stopped") from None
            if mode.name != OLLAMA_MODE:
                raise
            notes = (*notes, refused_note(mode, str(exc)))  # say so instead of failing
            tracker.total -= runs * len(prompts)
            continue
        texts[mode.name] = [m.text for m in measured]
        results.append(_mode_result(mode, measured))
        if on_mode is not None:
            on_mode(_with_speedups(results, texts)[-1])
    binary = binary or find_program("llama-server")
    result = CompareResult(
        __version__,
        started,
        target.name,
        draft.name if draft else None,
        n_predict,
        runs,
        tuple(_with_speedups(results, texts)),
        (),
        tuple(problems),
        f"{binary.path} ({program_version(binary) or 'version n/a'})",
    )
    return replace(result, advice=(*notes, *advise(result, target_info, draft_info)))


def advise(result: CompareResult, target: GGUFInfo, draft: GGUFInfo | None) -> list[str]:
    """Plain words: does speculation pay here, and why (not)?"""
    out = []
    base = result.modes[0]
    for m in result.modes[1:]:
        if m.speedup is None or m.speedup_ci95 is None:
            continue
        lo, hi = m.speedup_ci95
        if lo > 1.0:
            verdict = f"{m.mode} pays here: {m.speedup:.2f}× ({lo:.2f}–{hi:.2f}, 95 %)"
        elif hi < 1.0:
            verdict = f"{m.mode} is slower here: {m.speedup:.2f}× ({lo:.2f}–{hi:.2f}, 95 %)"
        else:
            verdict = (
                f"{m.mode} makes no clear difference: {m.speedup:.2f}× ({lo:.2f}–{hi:.2f}, 95 %)"
            )
        why = []
        if m.acceptance is not None and m.acceptance < 0.5:
            why.append(f"only {m.acceptance:.0%} of drafted tokens were accepted")
        elif m.acceptance is not None:
            why.append(f"{m.acceptance:.0%} of drafted tokens were accepted")
        if m.mode in ("draft", OLLAMA_MODE) and draft is not None:
            ratio = draft.file_size_bytes / max(target.file_size_bytes, 1)
            if ratio > 0.25:
                why.append(
                    f"the draft is {ratio:.0%} of the target's size: drafting costs almost as much as verifying"
                )
        if base.decode_tokens_per_s and base.decode_tokens_per_s.mean > 30 and m.speedup < 1.1:
            why.append(
                f"the target already decodes at {base.decode_tokens_per_s.mean:.0f} tok/s; targets above "
                "~30 tok/s rarely gain"
            )
        out.append(verdict + (" — " + "; ".join(why) if why else ""))
    return out
