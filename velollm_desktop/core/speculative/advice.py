"""The comparison's words: why a draft cannot draft, why Ollama's flags were refused, and
whether speculation pays here."""

from __future__ import annotations

import re

from velollm_desktop.core.llamacpp.gguf import GGUFInfo
from velollm_desktop.core.speculative.model import OLLAMA_MODE, CompareResult, SpecMode

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
