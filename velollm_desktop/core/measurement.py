"""One measured generation, shared by every client (Ollama, llama-server, OpenAI-compatible).

It lives outside `core.bench` and `core.llamacpp` so neither package imports the other for it
(`core.bench.backends` uses the llama.cpp clients; the clients only need this record).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunMeasurement:
    """One generation, measured by the client clock and, where available, by the server."""

    ttft_ms: float | None
    """Request sent → first non-empty token, client clock."""
    decode_tokens_per_s: float | None
    """Client clock: (tokens − 1) / (last token time − first token time)."""
    server_decode_tokens_per_s: float | None
    """The server's own counters (Ollama eval_count/eval_duration, llama.cpp predicted_per_second)."""
    prompt_tokens_per_s: float | None
    prompt_tokens: int | None
    eval_count: int | None
    """Generated tokens."""
    load_ms: float | None
    total_ms: float
    """Request sent → stream closed, client clock."""
    cached_prompt_tokens: int | None = None
    draft_n: int | None = None
    draft_n_accepted: int | None = None
    text: str = ""
