"""Clients that measure one generation: llama-server's native API and OpenAI-compatible servers.

Both stream (so TTFT is real) and go through the shared choke point `_post_stream`, which maps
transport errors to the same typed errors as the Ollama client.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from velollm_desktop.core.measurement import RunMeasurement
from velollm_desktop.core.ollama.errors import (
    BadResponse,
    OllamaError,
    StreamBroken,
    from_status,
    from_transport,
)

CONNECT_TIMEOUT_S = 2.0


class _SseClient:
    """Shared transport for servers that stream Server-Sent Events (`data: {...}` lines)."""

    product = "the server"
    start_hint = "start it first"

    def __init__(self, base_url: str, *, read_timeout_s: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        # No keep-alive: llama-server (cpp-httplib) closes a connection after a few requests,
        # and reusing one it just closed fails with "Server disconnected without sending a
        # response" (seen 1 in 5 CLI runs). A fresh loopback connection costs ~0.1 ms.
        self._http = httpx.Client(
            base_url=self.base_url,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _explain(self, exc: Exception) -> OllamaError:
        return from_transport(exc, self.product, self.base_url, self.start_hint)

    def _get_json(self, path: str) -> Any:
        try:
            resp = self._http.get(path, timeout=10.0)
        except httpx.HTTPError as exc:
            raise self._explain(exc) from exc
        self._raise_for(resp, None)
        try:
            return resp.json()
        except ValueError as exc:
            raise BadResponse(f"{self.product} sent something that is not JSON on {path}") from exc

    def _raise_for(self, resp: httpx.Response, model: str | None) -> None:
        if resp.status_code < 400:
            return
        resp.read()
        error = from_status(resp.status_code, self.product, resp.text[:200], model=model)
        if error is not None:
            raise error

    def _post_stream(
        self, path: str, body: Mapping[str, Any], model: str | None, cancel: threading.Event | None
    ) -> Iterator[dict]:
        try:
            with self._http.stream("POST", path, json=body) as resp:
                self._raise_for(resp, model)
                for line in resp.iter_lines():
                    if cancel is not None and cancel.is_set():
                        return
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        return
                    try:
                        data = json.loads(payload)
                    except ValueError as exc:
                        raise StreamBroken(
                            f"{self.product} sent an event that is not JSON: {payload[:80]!r}"
                        ) from exc
                    if isinstance(data, dict) and "error" in data:
                        raise StreamBroken(
                            f"{self.product} reported an error mid-stream: {data['error']}"
                        )
                    yield data
        except httpx.HTTPError as exc:
            raise self._explain(exc) from exc


def client_decode_rate(token_times: list[float], n_tokens: int | None) -> float | None:
    """(tokens − 1) / (last − first token time), in tokens per second."""
    if len(token_times) < 2:
        return None
    span = token_times[-1] - token_times[0]
    n = n_tokens if n_tokens and n_tokens >= len(token_times) else len(token_times)
    return (n - 1) / span if span > 0 else None


class LlamaServerClient(_SseClient):
    """llama-server's native API: `/health`, `/props`, streaming `/completion` with `timings`."""

    product = "llama-server"
    start_hint = "start it with `llama-server -m MODEL.gguf --port 8080`"

    def health(self) -> bool:
        """Whether /health answers 200."""
        try:
            return self._http.get("/health", timeout=2.0).status_code == 200
        except httpx.HTTPError as exc:
            raise self._explain(exc) from exc

    def props(self) -> dict:
        """`GET /props`: model path, context size, build info."""
        return self._get_json("/props")

    def model_name(self) -> str:
        """The model's file name as llama-server reports it."""
        props = self.props()
        path = str(props.get("model_path") or props.get("model_alias") or "unknown")
        return path.rsplit("/", 1)[-1]

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
        for event in self._post_stream("/completion", body, None, cancel):
            content = event.get("content") or ""
            if content:
                times.append(time.perf_counter())
                text.append(content)
            if event.get("stop"):
                final = event
        total_ms = (time.perf_counter() - t0) * 1000
        if not final and not (cancel and cancel.is_set()):
            raise StreamBroken("llama-server closed the stream before its final event")
        t = final.get("timings") or {}
        return RunMeasurement(
            ttft_ms=(times[0] - t0) * 1000 if times else None,
            decode_tokens_per_s=client_decode_rate(times, t.get("predicted_n")),
            server_decode_tokens_per_s=t.get("predicted_per_second")
            if (t.get("predicted_n") or 0) >= 2
            else None,
            prompt_tokens_per_s=t.get("prompt_per_second"),
            prompt_tokens=t.get("prompt_n"),
            eval_count=t.get("predicted_n") or final.get("tokens_predicted"),
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
    start_hint = "start the server (LM Studio, vLLM, llama-server …) and check the URL"

    def models(self) -> list[str]:
        """Model ids from `GET /v1/models`."""
        data = self._get_json("/v1/models")
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]

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
        timings: dict = {}
        for event in self._post_stream("/v1/chat/completions", body, model or None, cancel):
            for choice in event.get("choices") or []:
                content = (choice.get("delta") or {}).get("content") or ""
                if content:
                    times.append(time.perf_counter())
                    text.append(content)
            usage = event.get("usage") or usage
            timings = event.get("timings") or timings
        total_ms = (time.perf_counter() - t0) * 1000
        n = usage.get("completion_tokens") or timings.get("predicted_n")
        return RunMeasurement(
            ttft_ms=(times[0] - t0) * 1000 if times else None,
            decode_tokens_per_s=client_decode_rate(times, n),
            server_decode_tokens_per_s=timings.get("predicted_per_second"),
            prompt_tokens_per_s=timings.get("prompt_per_second"),
            prompt_tokens=usage.get("prompt_tokens") or timings.get("prompt_n"),
            eval_count=n,
            load_ms=None,
            total_ms=total_ms,
            text="".join(text),
        )
