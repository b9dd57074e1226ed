"""Clients that measure one generation: llama-server's native API and OpenAI-compatible servers.

Both stream (so TTFT is real) and go through the shared choke point `_post_stream` over the
bounded transport (`core/http/transport.py`): one overall deadline per request, capped
lines and streams, non-finite numbers refused, and the same typed errors as the Ollama client.
Limits: a plain request ends within 10 s; a stream sends its next bytes within
`read_timeout_s` (300 s) and ends within `stream_deadline_s` (3600 s), at most
max_tokens + 512 events.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from velollm_desktop.core.http.bounds import MIN_TOKENS_PER_S, redact_url
from velollm_desktop.core.http.errors import (
    BadResponse,
    ServerNotRunning,
    StreamBroken,
    from_status,
)
from velollm_desktop.core.http.limits import stream_limits_for
from velollm_desktop.core.http.transport import (
    Limits,
    Response,
    error_detail,
    finite_json,
    open_request,
    printable,
)
from velollm_desktop.core.measurement import RunMeasurement

CONNECT_TIMEOUT_S = 2.0
GET_DEADLINE_S = 10.0
STREAM_DEADLINE_S = 3600.0
MIN_RATE_SPAN_S = 1e-3
EVENT_MARGIN = 512
"""Events allowed beyond max_tokens (one per token, plus role, usage and final events)."""


def number(d: Mapping[str, Any], key: str, what: str) -> float | None:
    """A non-negative finite number field, `None` when absent; anything else is BadResponse."""
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise BadResponse(f"{what} sent {key}={str(v)[:40]!r}, not a non-negative number")
    return v


def mapping(d: Mapping[str, Any], key: str, what: str) -> dict:
    """An object field (`{}` when absent or null); anything else is BadResponse."""
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise BadResponse(f"{what} sent a {type(v).__name__} for {key}, not an object")
    return v


class _SseClient:
    """Shared transport for servers that stream Server-Sent Events (`data: {...}` lines)."""

    product = "the server"
    start_hint = "start it first"
    final_event_required = False
    """Whether the stream must end with `data: [DONE]` (OpenAI) to count as complete."""

    def __init__(
        self,
        base_url: str,
        *,
        read_timeout_s: float = 300.0,
        stream_deadline_s: float = STREAM_DEADLINE_S,
        get_deadline_s: float = GET_DEADLINE_S,
        min_tokens_per_s: float = MIN_TOKENS_PER_S,
    ) -> None:
        self.base_url = base_url.strip().rstrip("/")
        self._floor = min_tokens_per_s
        self._get_limits = Limits(deadline_s=get_deadline_s, stall_s=get_deadline_s)
        self._stream_limits = Limits(deadline_s=stream_deadline_s, stall_s=read_timeout_s)

    @property
    def what(self) -> str:
        return f"{self.product} at {redact_url(self.base_url)}"

    def close(self) -> None:
        """Nothing to release: every request uses its own connection (no keep-alive)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(
        self,
        method: str,
        path: str,
        body: Any,
        model: str | None,
        limits: Limits,
        cancel: threading.Event | None = None,
    ) -> Response:
        try:
            resp = open_request(self.base_url, method, path, body, limits, self.product, cancel)
        except ServerNotRunning:
            raise ServerNotRunning(
                f"{self.product} is not running at {redact_url(self.base_url)}: {self.start_hint}"
            ) from None
        if resp.status >= 400:
            self._raise_for(resp, model)
        return resp

    def _get_json(self, path: str) -> dict:
        resp = self._open("GET", path, None, None, self._get_limits)
        try:
            raw = resp.read(self._get_limits.max_body_bytes)
        finally:
            resp.close()
        data = finite_json(raw, f"{self.what} ({path})")
        if not isinstance(data, dict):
            raise BadResponse(f"{self.what} sent a {type(data).__name__} on {path}, not an object")
        return data

    def get_text(self, path: str) -> str:
        """A text reply (llama-server's /metrics), bounded; undecodable bytes replaced."""
        resp = self._open("GET", path, None, None, self._get_limits)
        try:
            raw = resp.read(self._get_limits.max_body_bytes)
        finally:
            resp.close()
        return raw.decode("utf-8", "replace")

    def _raise_for(self, resp: Response, model: str | None) -> None:
        try:
            detail = error_detail(resp)
        finally:
            resp.close()
        error = from_status(
            resp.status, self.product, detail, model=printable(model) if model else None
        )
        if error is not None:
            raise error

    def _post_stream(
        self,
        path: str,
        body: Mapping[str, Any],
        model: str | None,
        cancel: threading.Event | None,
        max_tokens: int | None = None,
    ) -> Iterator[dict]:
        limits = self._stream_limits
        if max_tokens is not None and max_tokens >= 0:
            limits = stream_limits_for(
                limits, 2 * (max_tokens + EVENT_MARGIN), max_tokens, self._floor
            )
        resp = self._open("POST", path, body, model, limits, cancel)
        try:
            for raw in resp.iter_lines(limits):
                if cancel is not None and cancel.is_set():
                    return
                line = raw.decode("utf-8", "replace")
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return
                data = finite_json(payload, self.what)
                if not isinstance(data, dict):
                    raise StreamBroken(f"{self.product} sent an event that is not an object")
                if "error" in data:
                    err = printable(str(data["error"]))[:300]
                    raise StreamBroken(f"{self.product} reported an error mid-stream: {err}")
                yield data
        finally:
            resp.close()
        if self.final_event_required and not (cancel is not None and cancel.is_set()):
            raise StreamBroken(
                f"{self.product} ended the stream without its final event (data: [DONE]); "
                "the run is not counted"
            )


def client_decode_rate(token_times: list[float], n_tokens: int | None) -> float | None:
    """(tokens − 1) / (last − first token time), in tokens per second."""
    if len(token_times) < 2:
        return None
    span = token_times[-1] - token_times[0]
    n = n_tokens if n_tokens and n_tokens >= len(token_times) else len(token_times)
    # a burst (the whole answer in one packet) spans too little time to measure a rate
    return (n - 1) / span if span >= MIN_RATE_SPAN_S else None


def _count(d: Mapping[str, Any], key: str, what: str) -> int | None:
    v = number(d, key, what)
    return None if v is None else int(v)


TIMING_COUNTS = ("predicted_n", "prompt_n", "cache_n", "draft_n", "draft_n_accepted")
TIMING_RATES = ("predicted_per_second", "prompt_per_second")


def timings(event: Mapping[str, Any], what: str) -> dict:
    """llama.cpp's `timings` object of an event, every field checked (`{}` when absent)."""
    t = mapping(event, "timings", what)
    out: dict[str, Any] = {k: _count(t, k, what) for k in TIMING_COUNTS if t.get(k) is not None}
    out.update({k: number(t, k, what) for k in TIMING_RATES if t.get(k) is not None})
    return out


def _deltas(event: Mapping[str, Any], what: str) -> Iterator[str]:
    """Non-empty `choices[].delta.content` texts of one OpenAI chunk, types checked."""
    choices = event.get("choices") or []
    if not isinstance(choices, list):
        raise BadResponse(f"{what} sent a {type(choices).__name__} as choices")
    for choice in choices:
        if not isinstance(choice, dict):
            raise BadResponse(f"{what} sent a {type(choice).__name__} as a choice")
        content = mapping(choice, "delta", what).get("content") or ""
        if not isinstance(content, str):
            raise BadResponse(f"{what} sent a {type(content).__name__} as content")
        if content:
            yield content


class LlamaServerClient(_SseClient):
    """llama-server's native API: `/health`, `/props`, streaming `/completion` with `timings`."""

    product = "llama-server"
    start_hint = "start it with `llama-server -m MODEL.gguf --port 8080`"

    def health(self) -> bool:
        """Whether /health answers 200."""
        limits = Limits(deadline_s=2.0, stall_s=2.0)
        try:
            resp = open_request(self.base_url, "GET", "/health", None, limits, self.product)
        except ServerNotRunning:
            raise ServerNotRunning(
                f"{self.product} is not running at {redact_url(self.base_url)}: {self.start_hint}"
            ) from None
        resp.close()
        return resp.status == 200

    def props(self) -> dict:
        """`GET /props`: model path, context size, build info."""
        return self._get_json("/props")

    def model_name(self) -> str:
        """The model's file name as llama-server reports it."""
        props = self.props()
        path = str(props.get("model_path") or props.get("model_alias") or "unknown")
        return printable(path.rsplit("/", 1)[-1])[:200] or "unknown"

    def measure(
        self,
        prompt: str,
        max_tokens: int,
        options: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> RunMeasurement:
        """Generate `max_tokens` tokens for `prompt` and measure it."""
        # ignore_eos: every run generates exactly max_tokens, so runs are comparable (as llama-bench does)
        body: dict[str, Any] = {
            "prompt": prompt,
            "n_predict": max_tokens,
            "stream": True,
            "ignore_eos": True,
            "cache_prompt": False,
            "temperature": 0,
            "seed": 42,
        }
        body.update(options or {})
        t0 = time.perf_counter()
        times: list[float] = []
        text: list[str] = []
        final: dict = {}
        for event in self._post_stream("/completion", body, None, cancel, max_tokens):
            content = event.get("content") or ""
            if not isinstance(content, str):
                raise BadResponse(f"{self.what} sent a {type(content).__name__} as content")
            if content:
                times.append(time.perf_counter())
                text.append(content)
            if event.get("stop"):
                final = event
        total_ms = (time.perf_counter() - t0) * 1000
        if not final and not (cancel and cancel.is_set()):
            raise StreamBroken("llama-server closed the stream before its final event")
        t = timings(final, self.what)
        predicted = t.get("predicted_n") or _count(final, "tokens_predicted", self.what)
        return RunMeasurement(
            ttft_ms=(times[0] - t0) * 1000 if times else None,
            decode_tokens_per_s=client_decode_rate(times, t.get("predicted_n")),
            server_decode_tokens_per_s=t.get("predicted_per_second")
            if (t.get("predicted_n") or 0) >= 2
            else None,
            prompt_tokens_per_s=t.get("prompt_per_second"),
            prompt_tokens=t.get("prompt_n"),
            eval_count=predicted,
            load_ms=None,
            total_ms=total_ms,
            cached_prompt_tokens=t.get("cache_n"),
            draft_n=t.get("draft_n"),
            draft_n_accepted=t.get("draft_n_accepted"),
            text="".join(text),
        )


class OpenAIClient(_SseClient):
    """Any OpenAI-compatible server (LM Studio, vLLM, llama-server): `/v1/models`, streaming chat."""

    product = "the OpenAI-compatible server"
    final_event_required = True
    start_hint = "start the server (LM Studio, vLLM, llama-server …) and check the URL"

    def models(self) -> list[str]:
        """Model ids from `GET /v1/models`."""
        data = self._get_json("/v1/models").get("data") or []
        if not isinstance(data, list):
            raise BadResponse(f"{self.what} sent a {type(data).__name__} as its model list")
        return [printable(str(m.get("id")))[:200] for m in data if isinstance(m, dict)]

    def measure(
        self,
        prompt: str,
        max_tokens: int,
        options: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
        model: str = "",
    ) -> RunMeasurement:
        """Stream one chat completion and measure it (server timings used when present)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "stream": True,
            "temperature": 0,
            "seed": 42,
            "stream_options": {"include_usage": True},
            "ignore_eos": True,  # llama-server and vLLM honour it; other servers ignore unknown keys
        }
        body.update(options or {})
        t0 = time.perf_counter()
        times: list[float] = []
        text: list[str] = []
        usage: dict = {}
        timings_: dict = {}
        stream = self._post_stream("/v1/chat/completions", body, model or None, cancel, max_tokens)
        for event in stream:
            for content in _deltas(event, self.what):
                times.append(time.perf_counter())
                text.append(content)
            usage = mapping(event, "usage", self.what) or usage
            t = timings(event, self.what)
            timings_ = t or timings_
        total_ms = (time.perf_counter() - t0) * 1000
        n = _count(usage, "completion_tokens", self.what) or timings_.get("predicted_n")
        return RunMeasurement(
            ttft_ms=(times[0] - t0) * 1000 if times else None,
            decode_tokens_per_s=client_decode_rate(times, n),
            server_decode_tokens_per_s=timings_.get("predicted_per_second"),
            prompt_tokens_per_s=timings_.get("prompt_per_second"),
            prompt_tokens=_count(usage, "prompt_tokens", self.what) or timings_.get("prompt_n"),
            eval_count=n,
            load_ms=None,
            total_ms=total_ms,
            text="".join(text),
        )
