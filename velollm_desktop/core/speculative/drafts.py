"""Which local models can draft for a target, and what to say about a comparison's noise."""

from __future__ import annotations

from velollm_desktop.core.bench.stats import noise_warning
from velollm_desktop.core.llamacpp.gguf import NotGGUF, read_gguf
from velollm_desktop.core.ollama import store as ollama_store
from velollm_desktop.core.speculative.advice import compatibility_problems
from velollm_desktop.core.speculative.model import DEFAULT_PROMPTS, CompareResult


def compatible_drafts(target_spec: str, candidates: list[str]) -> list[str]:
    """The candidates whose tokenizer matches the target's (llama.cpp's own rule), never the
    target itself. Reads GGUF headers: run it in a worker."""
    try:
        target = read_gguf(ollama_store.model_path(target_spec))
    except (NotGGUF, LookupError, OSError, ValueError):
        return []
    keep = []
    for spec in candidates:
        if spec == target_spec:
            continue
        try:
            if not compatibility_problems(target, read_gguf(ollama_store.model_path(spec))):
                keep.append(spec)
        except (NotGGUF, LookupError, OSError, ValueError):
            continue
    return keep


def spec_noise_notes(result: CompareResult) -> list[str]:
    """Noise warnings: every mode that finished fewer runs than asked, and a noisy baseline.

    Only vanilla gets the 10 % spread rule: with a draft, speed rightly differs between the
    prompts (code is guessed better than prose), and each speedup is relative to vanilla.
    """
    asked = result.runs_per_prompt * len(DEFAULT_PROMPTS)
    notes = []
    for m in result.modes:
        stats = m.decode_tokens_per_s
        if m.mode == "vanilla":
            note = noise_warning(stats, asked, runs_done=len(m.runs))
        else:
            note = noise_warning(None, asked, runs_done=len(m.runs))
        if note:
            notes.append(f"{m.mode}: {note}")
    return notes
