"""The servers a benchmark can target, behind one small interface (`Backend`)."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Protocol

from velollm_desktop.core.bench.model import RunMeasurement, ServerInfo
from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.http.bounds import StreamPace
from velollm_desktop.core.http.errors import BadResponse, ModelNotFound, ServerError, StreamBroken
from velollm_desktop.core.kinds import BackendKind
from velollm_desktop.core.llamacpp.client import LlamaServerClient, OpenAIClient, client_decode_rate
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.models import GenerateChunk

NS_PER_S = 1e9
NS_PER_MS = 1e6
MAX_TOKENS_PER_S = 1e6
"""Above this a reported rate is not a measurement (no hardware decodes a million tokens/s)."""
MAX_COUNT = 2**53
MAX_MS = 7 * 24 * 3600 * 1000.0
"""A week: longer durations are not a measurement of one generation."""


def check_measurement(m: RunMeasurement, product: str) -> RunMeasurement:
    """`m` if every figure is physically possible, else BadResponse (the run is not stored).

    Rates are finite and within 0..MAX_TOKENS_PER_S, durations within 0..MAX_MS, counts
    within 0..2^53; `None` (not reported) is always fine.
    """
    bounds = {}
    for f in dataclasses.fields(m):
        if f.name.endswith("_per_s"):
            bounds[f.name] = MAX_TOKENS_PER_S
        elif f.name.endswith("_ms"):
            bounds[f.name] = MAX_MS
        elif f.name in (
            "prompt_tokens",
            "eval_count",
            "cached_prompt_tokens",
            "draft_n",
            "draft_n_accepted",
        ):
            bounds[f.name] = MAX_COUNT
    for name, top in bounds.items():
        v = getattr(m, name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise BadResponse(f"{product} reported {name}={v!r}: not a measurement; run not stored")
        if not 0 <= v <= top:
            raise BadResponse(
                f"{product} reported {name}={v:g}, which is physically impossible "
                f"(allowed 0 to {top:g}); run not stored"
            )
    return m


class Backend(Protocol):
    """What the runner needs from a server."""

    kind: str

    def info(self) -> ServerInfo: ...
    def model_name(self) -> str: ...
    def model_digest(self) -> str | None: ...
    def measure(
        self, prompt: str, max_tokens: int, cancel: threading.Event | None
    ) -> RunMeasurement: ...
    def close(self) -> None: ...


def _rate(count: int | None, duration_ns: int | None, minimum: int = 1) -> float | None:
    """Tokens per second from a count and nanoseconds; `None` below `minimum` tokens."""
    return count * NS_PER_S / duration_ns if count and count >= minimum and duration_ns else None


PACE = StreamPace()
"""The default pace (300 s stall, 0.5 token/s floor)."""


class OllamaBackend:
    """Ollama's `/api/generate`, streamed; server figures from its ns durations."""

    kind = "ollama"

    def __init__(
        self, url: str, model: str | None, options: dict | None = None, pace: StreamPace = PACE
    ) -> None:
        self.client = OllamaClient(
            url, stream_stall_timeout_s=pace.stall_s, min_tokens_per_s=pace.min_tokens_per_s
        )
        self.model = model
        self.options = {"temperature": 0, "seed": 42, **(options or {})}

    def info(self) -> ServerInfo:
        return ServerInfo(self.kind, self.client.base_url, self.client.version())

    def model_name(self) -> str:
        """The chosen model, else the first installed one."""
        if not self.model:
            installed = self.client.installed_models()
            if not installed:
                raise ModelNotFound(
                    "Ollama has no model installed: run `ollama pull llama3.2` first"
                )
            self.model = installed[0].name
        return self.model

    def model_digest(self) -> str | None:
        for m in self.client.installed_models():
            if m.name == self.model or m.name == f"{self.model}:latest":
                return m.digest
        return None

    def loaded_bytes(self) -> int | None:
        """The model's size in memory (`/api/ps`), after the warm-up loaded it."""
        try:
            loaded = self.client.loaded_models()
        except ServerError:
            return None  # a memory figure is a bonus: its absence is "n/a", not a failure
        for m in loaded:
            if m.name in (self.model, f"{self.model}:latest") and m.size_bytes > 0:
                return m.size_bytes
        return None

    def measure(
        self, prompt: str, max_tokens: int, cancel: threading.Event | None
    ) -> RunMeasurement:
        t0 = time.perf_counter()
        times: list[float] = []
        text: list[str] = []
        final = None
        for chunk in self.client.generate(
            self.model_name(), prompt, {**self.options, "num_predict": max_tokens}, cancel=cancel
        ):
            if chunk.text:
                times.append(time.perf_counter())
                text.append(chunk.text)
            if chunk.done:
                final = chunk
        total_ms = (time.perf_counter() - t0) * 1000
        if final is None and not (cancel and cancel.is_set()):
            raise StreamBroken("Ollama ended the stream without its final line")
        return check_measurement(self._measurement(final, times, t0, total_ms, text), "Ollama")

    def _measurement(
        self,
        final: GenerateChunk | None,
        times: list[float],
        t0: float,
        total_ms: float,
        text: list[str],
    ) -> RunMeasurement:
        eval_count = final.eval_count if final else None
        return RunMeasurement(
            ttft_ms=(times[0] - t0) * 1000 if times else None,
            decode_tokens_per_s=client_decode_rate(times, eval_count),
            # one generated token has no decode phase to speak of (Ollama then reports ~1e6 tok/s)
            server_decode_tokens_per_s=_rate(eval_count, final.eval_duration_ns, minimum=2)
            if final
            else None,
            prompt_tokens_per_s=_rate(final.prompt_eval_count, final.prompt_eval_duration_ns)
            if final
            else None,
            prompt_tokens=final.prompt_eval_count if final else None,
            eval_count=eval_count,
            load_ms=final.load_duration_ns / NS_PER_MS
            if final and final.load_duration_ns
            else None,
            total_ms=total_ms,
            text="".join(text),
        )

    def close(self) -> None:
        self.client.close()


class LlamaCppBackend:
    """llama-server's native `/completion` (prompt cache off, server `timings`)."""

    kind = "llamacpp"

    def __init__(self, url: str, options: dict | None = None, pace: StreamPace = PACE) -> None:
        self.client = LlamaServerClient(
            url, read_timeout_s=pace.stall_s, min_tokens_per_s=pace.min_tokens_per_s
        )
        self.options = dict(options or {})
        self._name: str | None = None

    def info(self) -> ServerInfo:
        props = self.client.props()
        build = props.get("build_info")
        return ServerInfo(self.kind, self.client.base_url, str(build) if build else None)

    def model_name(self) -> str:
        if self._name is None:
            self._name = self.client.model_name()
        return self._name

    def model_digest(self) -> str | None:
        return None

    def measure(
        self, prompt: str, max_tokens: int, cancel: threading.Event | None
    ) -> RunMeasurement:
        m = self.client.measure(prompt, max_tokens, self.options, cancel)
        return check_measurement(m, "llama-server")

    def close(self) -> None:
        self.client.close()


class OpenAIBackend:
    """Any OpenAI-compatible server (streamed chat completions)."""

    kind = "openai"

    def __init__(
        self,
        url: str,
        model: str | None = None,
        options: dict | None = None,
        pace: StreamPace = PACE,
    ) -> None:
        self.client = OpenAIClient(
            url, read_timeout_s=pace.stall_s, min_tokens_per_s=pace.min_tokens_per_s
        )
        self.model = model
        self.options = dict(options or {})

    def info(self) -> ServerInfo:
        self.client.models()  # fails clearly when nothing answers
        return ServerInfo(self.kind, self.client.base_url, None)

    def model_name(self) -> str:
        if not self.model:
            models = self.client.models()
            self.model = models[0] if models else "default"
        return self.model

    def model_digest(self) -> str | None:
        return None

    def measure(
        self, prompt: str, max_tokens: int, cancel: threading.Event | None
    ) -> RunMeasurement:
        m = self.client.measure(prompt, max_tokens, self.options, cancel, model=self.model_name())
        return check_measurement(m, "the OpenAI-compatible server")

    def close(self) -> None:
        self.client.close()


def make_backend(
    kind: BackendKind,
    url: str,
    model: str | None,
    options: dict | None = None,
    pace: StreamPace = PACE,
) -> Backend:
    """Build the backend for a running server of `kind` (Ollama, llama-server, OpenAI-compatible;
    the built-in engine is started by `core.bench.flow`); `pace`: how slow a stream may be
    (stall, floor speed: docs/RELIABILITY.md)."""
    if kind is BackendKind.OLLAMA:
        return OllamaBackend(url, model, options, pace)
    if kind is BackendKind.LLAMACPP:
        return LlamaCppBackend(url, options, pace)
    if kind is BackendKind.OPENAI:
        return OpenAIBackend(url, model, options, pace)
    raise BadInput(f"'{kind}' is not a running server's kind: choose ollama, llamacpp or openai")
