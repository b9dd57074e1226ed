"""The bounds of one request (`Limits`), and a stream's bounds derived from what was asked.

Every server client (Ollama, llama-server, OpenAI-compatible, the fleet) sends through
`transport` with a `Limits`; see docs/RELIABILITY.md for the defaults and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from velollm_desktop.core.http.bounds import MIN_TOKENS_PER_S, RATE_GRACE_S

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds of one request. Defaults are for a plain JSON request (see docs/RELIABILITY.md)."""

    deadline_s: float = 10.0
    """Overall: connect, send, headers and the whole body (or stream) must end by then."""
    stall_s: float = 10.0
    """Longest wait for the next bytes (a cold model load can take minutes for streams)."""
    max_body_bytes: int = 32 * MIB
    """A whole (non-streamed) body; also the cap on an error body we read."""
    max_line_bytes: int = 8 * MIB
    """One NDJSON / SSE line."""
    max_stream_bytes: int = 256 * MIB
    """All lines of one stream together."""
    max_lines: int | None = None
    """Lines of one stream (the clients derive it from num_predict / max_tokens)."""
    min_lines_per_s: float | None = None
    """Floor speed of a stream once its first line came: after RATE_GRACE_S, fewer lines
    than this rate gives are "too slow to benchmark" (a token a minute is not a benchmark)."""

    def with_(self, **kw: Any) -> Limits:
        return replace(self, **kw)


def stream_limits_for(
    limits: Limits, max_lines: int, tokens: int, floor: float = MIN_TOKENS_PER_S
) -> Limits:
    """A stream's limits from what was asked: `max_lines` lines at most, the floor speed, and
    an overall deadline of the first-line wait + the grace + `tokens` at the floor speed
    (never more than the configured stream deadline)."""
    asked_s = limits.stall_s + RATE_GRACE_S + (tokens + 1) / floor
    return limits.with_(
        max_lines=max_lines,
        min_lines_per_s=floor,
        deadline_s=min(limits.deadline_s, asked_s),
    )
