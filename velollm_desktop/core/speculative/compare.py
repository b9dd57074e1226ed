"""Compare decoding modes on one target model with real llama-server processes.

Each mode starts its own llama-server on a free loopback port, waits for /health, runs the
same prompts (code and prose; temperature 0, fixed seed, fixed length) N times, and is stopped
— on success, error and cancel. Speedups are ratios of mean decode speeds with a 95 % interval.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from velollm_desktop import __version__
from velollm_desktop.core.bench.model import RunMeasurement
from velollm_desktop.core.bench.stats import ratio_ci95, summarize_runs
from velollm_desktop.core.cancel import Cancelled
from velollm_desktop.core.energy import EnergyMeter, EnergyReading, with_tokens
from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.llamacpp.binaries import LlamaBinary, find_program, program_version
from velollm_desktop.core.llamacpp.client import LlamaServerClient
from velollm_desktop.core.llamacpp.gguf import GGUFInfo, read_gguf
from velollm_desktop.core.llamacpp.server import LlamaServer, ServerStartError
from velollm_desktop.core.progress import Phase, ProgressFn, RunCounter
from velollm_desktop.core.speculative.advice import (
    VOCAB_MAX_DIFFERENCE,
    advise,
    compatibility_problems,
    refused_note,
)
from velollm_desktop.core.speculative.model import (
    DEFAULT_PROMPTS,
    NGRAM_DESCRIPTIONS,
    NGRAM_TYPES,
    OLLAMA_MODE,
    CompareResult,
    ModeResult,
    SpecMode,
    draft_mode,
    ngram_mode,
    significant_gain,
)

__all__ = [  # the comparison's public names, wherever they now live
    "DEFAULT_PROMPTS",
    "NGRAM_DESCRIPTIONS",
    "NGRAM_TYPES",
    "OLLAMA_MODE",
    "VOCAB_MAX_DIFFERENCE",
    "CompareCancelled",
    "CompareResult",
    "ModeResult",
    "SpecMode",
    "advise",
    "compatibility_problems",
    "draft_mode",
    "ngram_mode",
    "refused_note",
    "run_compare",
    "significant_gain",
]


class CompareCancelled(Cancelled):
    """The user cancelled; every server was already stopped."""


def _agreement(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n / max(len(a), len(b))


def _check_draft(
    target: Path, draft: Path | None, modes: Sequence[SpecMode]
) -> tuple[GGUFInfo, GGUFInfo | None, list[str]]:
    """Read both GGUFs; refuse a draft that cannot draft for the target when a mode needs it."""
    target_info = read_gguf(target)
    draft_info = read_gguf(draft) if draft else None
    problems = compatibility_problems(target_info, draft_info) if draft_info else []
    if problems and any(m.name in ("draft", OLLAMA_MODE) for m in modes):
        name = draft.name if draft else "the draft"
        raise BadInput(f"{name} cannot draft for {target.name}: " + "; ".join(problems))
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
    progress: RunCounter,
    meter: EnergyMeter,
) -> tuple[list[RunMeasurement], EnergyReading | None]:
    """One llama-server for `mode`: warm up, then every prompt `runs` times (stopped on exit),
    the measured runs inside one energy window."""
    progress.say(f"{mode.name}: starting llama-server", Phase.STARTING)
    measured: list[RunMeasurement] = []
    with (
        LlamaServer(
            target, mode.args, binary=binary, threads=threads, ctx_size=4096, cancel=cancel
        ) as server,
        LlamaServerClient(server.url) as client,
    ):
        client.measure("warm-up", 8)  # page the weights in; not counted
        with meter.window() as w:
            _runs(client, mode, runs, prompts, n_predict, cancel, progress, measured)
    if cancel.is_set():
        raise CompareCancelled("cancelled; every llama-server was stopped")
    tokens = sum(m.eval_count or 0 for m in measured) or None
    return measured, with_tokens(w.reading, tokens) if w.reading else None


def _runs(
    client: LlamaServerClient,
    mode: SpecMode,
    runs: int,
    prompts: Sequence[tuple[str, str]],
    n_predict: int,
    cancel: threading.Event,
    progress: RunCounter,
    measured: list[RunMeasurement],
) -> None:
    """Every prompt `runs` times, appended to `measured` as they finish."""
    for r in range(runs):
        for label, prompt in prompts:
            if cancel.is_set():
                raise CompareCancelled("cancelled; every llama-server was stopped")
            m = client.measure(f"[run {r}] {prompt}", n_predict, cancel=cancel)
            measured.append(m)
            rate = f"{m.server_decode_tokens_per_s or 0:.1f} tok/s"
            text = f"{mode.name} · {label} run {r + 1}/{runs}: {rate}"
            progress.say(text, Phase.MEASURING, m, run_done=True)


def _mode_result(
    mode: SpecMode, measured: list[RunMeasurement], energy: EnergyReading | None = None
) -> ModeResult:
    """Summaries of one mode's runs (speedups come later, against the baseline)."""
    drafted = sum(m.draft_n or 0 for m in measured)
    accepted = sum(m.draft_n_accepted or 0 for m in measured)
    stats = summarize_runs(measured)
    return ModeResult(
        mode=mode.name,
        args=mode.args,
        runs=tuple(measured),
        decode_tokens_per_s=stats.server_decode_tokens_per_s,  # the server's clock
        ttft_ms=stats.ttft_ms,
        prompt_tokens_per_s=stats.prompt_tokens_per_s,
        acceptance=accepted / drafted if drafted else None,
        drafted=drafted,
        accepted=accepted,
        energy=energy,
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


def _measure_modes(
    measure: Callable[[SpecMode], tuple[list[RunMeasurement], EnergyReading | None]],
    modes: Sequence[SpecMode],
    tracker: RunCounter,
    cancel: threading.Event,
    runs_per_mode: int,
    notes: Sequence[str],
    on_mode: Callable[[ModeResult], None] | None,
) -> tuple[list[ModeResult], tuple[str, ...]]:
    """Every mode in turn, with speedups against the first; a mode "as Ollama would run it"
    that llama-server refuses becomes a note instead of a failure."""
    results: list[ModeResult] = []
    texts: dict[str, list[str]] = {}
    kept_notes = tuple(notes)
    for mode in modes:
        try:
            measured, reading = measure(mode)
        except ServerStartError as exc:
            if cancel.is_set():
                raise CompareCancelled("cancelled; every llama-server was stopped") from None
            if mode.name != OLLAMA_MODE:
                raise
            kept_notes = (*kept_notes, refused_note(mode, str(exc)))  # say so instead of failing
            tracker.total -= runs_per_mode
            continue
        texts[mode.name] = [m.text for m in measured]
        results.append(_mode_result(mode, measured, reading))
        if on_mode is not None:
            on_mode(_with_speedups(results, texts)[-1])
    return _with_speedups(results, texts), kept_notes


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
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    notes: Sequence[str] = (),
    on_mode: Callable[[ModeResult], None] | None = None,
    energy: EnergyMeter | None = None,
) -> CompareResult:
    """Measure every mode; the first mode is the baseline (normally vanilla). `notes` (what
    Ollama would do with this model) come first in the advice. `on_mode` gets each mode's
    result (its speedup against the baseline) as soon as that mode is measured. Each mode's
    energy is read with `energy` (default: this machine's sources; "n/a" with the reason if
    none)."""
    cancel = cancel or threading.Event()
    meter = energy if energy is not None else EnergyMeter.here()
    target_info, draft_info, problems = _check_draft(target, draft, modes)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    tracker = RunCounter(len(modes) * runs * len(prompts), progress)
    measure = partial(
        _measure_mode,
        target,
        runs=runs,
        n_predict=n_predict,
        threads=threads,
        prompts=prompts,
        binary=binary,
        cancel=cancel,
        progress=tracker,
        meter=meter,
    )
    results, notes = _measure_modes(
        measure, modes, tracker, cancel, runs * len(prompts), notes, on_mode
    )
    binary = binary or find_program("llama-server")
    result = CompareResult(
        __version__,
        started,
        target.name,
        draft.name if draft else None,
        n_predict,
        runs,
        tuple(results),
        (),
        tuple(problems),
        f"{binary.path} ({program_version(binary) or 'version n/a'})",
    )
    return replace(result, advice=(*notes, *advise(result, target_info, draft_info)))
