"""The Ollama HTTP client: one overall deadline per request, size caps, one choke point.

Every request goes through `transport.open_request` (a bounded HTTP/1.1 exchange over a
socket: no httpx or http.client, which cost ~14 MB and ~7 MB of RSS in the tray) and then
`_send` (JSON) or `_ndjson` (streams), which map HTTP failures to the typed errors in
`errors.py` and check every reply against `schema.py` before a dataclass is built from it.

Limits (docs/RELIABILITY.md): a plain request must end within `read_timeout_s` (10 s) overall;
a load (preload, create) within `stream_stall_timeout_s`; a stream must send its next line
within `stream_stall_timeout_s` (300 s, a cold load) and end within `stream_deadline_s`
(3600 s). Bodies are capped at 32 MiB, lines at 8 MiB, streams at 256 MiB and at
`num_predict` + 512 lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from velollm_desktop.core.http.bounds import MIN_TOKENS_PER_S, redact_url
from velollm_desktop.core.http.errors import (
    OllamaNotRunning,
    ServerBusy,
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
from velollm_desktop.core.ollama import schema
from velollm_desktop.core.ollama.models import GenerateChunk, InstalledModel, LoadedModel, ModelShow

READ_TIMEOUT_S = 10.0
"""Overall deadline of one plain JSON request, in seconds."""
STREAM_STALL_TIMEOUT_S = 300.0
"""Longest wait for the next NDJSON line, in seconds (a cold model load can take minutes)."""
STREAM_DEADLINE_S = 3600.0
"""Overall deadline of one stream, in seconds."""
STREAM_LINE_MARGIN = 512
"""Lines allowed beyond `num_predict` (Ollama sends one per token plus a final one)."""
BUSY_RETRIES = 3
BUSY_BACKOFF_S = 0.5


class OllamaClient:
    """A client for one Ollama server (`base_url` like http://127.0.0.1:11434)."""

    PRODUCT = "Ollama"
    START_HINT = "start it with `ollama serve` (or open the Ollama app)"
    """What `OllamaNotRunning` says to do (the GUI and the CLI add how to set the address)."""

    def __init__(
        self,
        base_url: str,
        *,
        read_timeout_s: float = READ_TIMEOUT_S,
        stream_stall_timeout_s: float = STREAM_STALL_TIMEOUT_S,
        stream_deadline_s: float = STREAM_DEADLINE_S,
        busy_backoff_s: float = BUSY_BACKOFF_S,
        lightweight: bool = False,
        min_tokens_per_s: float = MIN_TOKENS_PER_S,
    ) -> None:
        self.base_url = base_url.strip().rstrip("/")
        self._limits = Limits(deadline_s=read_timeout_s, stall_s=read_timeout_s)
        self._load_limits = Limits(
            deadline_s=stream_stall_timeout_s, stall_s=stream_stall_timeout_s
        )
        self._stream_limits = Limits(deadline_s=stream_deadline_s, stall_s=stream_stall_timeout_s)
        self._backoff = busy_backoff_s
        self._floor = min_tokens_per_s
        self._lightweight = lightweight  # kept for callers: every path is now lightweight

    def close(self) -> None:
        """Nothing to release: every request uses its own connection."""

    def __enter__(self) -> OllamaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the choke point ------------------------------------------------------------------
    def _open(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        model: str | None,
        limits: Limits,
        cancel: threading.Event | None = None,
    ) -> Response:
        """Open one request, retrying HTTP 503 with backoff; errors become typed ones."""
        for attempt in range(BUSY_RETRIES + 1):
            try:
                resp = open_request(self.base_url, method, path, body, limits, self.PRODUCT, cancel)
            except ServerNotRunning:
                raise OllamaNotRunning(
                    f"Ollama is not running at {redact_url(self.base_url)}: {self.START_HINT}"
                ) from None
            if resp.status < 400:
                return resp
            try:
                self._raise_status(resp, model)
            except ServerBusy:
                if attempt == BUSY_RETRIES:
                    raise
                time.sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _raise_status(self, resp: Response, model: str | None) -> None:
        try:
            detail = error_detail(resp)
        finally:
            resp.close()
        error = from_status(
            resp.status,
            self.PRODUCT,
            detail or printable(resp.reason)[:80],
            model=printable(model) if model else None,
            pull="ollama pull",
        )
        if error is not None:
            raise error

    def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        model: str | None = None,
        *,
        slow: bool = False,
    ) -> Any:
        """Send one request and return its decoded JSON body (within the deadline and caps)."""
        limits = self._load_limits if slow else self._limits
        resp = self._open(method, path, body, model, limits)
        try:
            raw = resp.read(limits.max_body_bytes)
        finally:
            resp.close()
        if not raw.strip():
            return {}  # DELETE answers 200 with no body
        return finite_json(raw, f"Ollama at {redact_url(self.base_url)}")

    def _ndjson(
        self, path: str, body: Mapping[str, Any], model: str | None, cancel: threading.Event | None
    ) -> Iterator[GenerateChunk]:
        limits = self._stream_limits
        n_predict = (body.get("options") or {}).get("num_predict")
        if isinstance(n_predict, int) and n_predict >= 0:
            limits = stream_limits_for(
                limits, n_predict + STREAM_LINE_MARGIN, n_predict, self._floor
            )
        resp = self._open("POST", path, body, model, limits, cancel)
        what = f"Ollama at {redact_url(self.base_url)}"
        try:
            for line in resp.iter_lines(limits):
                if cancel is not None and cancel.is_set():
                    return
                if not line.strip():
                    continue
                data = finite_json(line, what) if line.lstrip()[:1] in (b"{", b"[") else None
                if not isinstance(data, dict):
                    raise StreamBroken(
                        f"Ollama sent a line that is not JSON or not an object: {line[:80]!r}"
                    )
                if "error" in data:
                    raise StreamBroken(
                        f"Ollama reported an error mid-stream: {printable(str(data['error']))[:300]}"
                    )
                chunk = GenerateChunk.from_json(schema.chunk(data, what))
                yield chunk
                if chunk.done:
                    return
        finally:
            resp.close()
        if cancel is not None and cancel.is_set():
            return
        raise StreamBroken("Ollama closed the stream before the final (done) line")

    # -- API ------------------------------------------------------------------------------
    def version(self) -> str:
        """`GET /api/version` → "0.33.0"."""
        return schema.version(self._send("GET", "/api/version"), self.base_url)

    def installed_models(self) -> list[InstalledModel]:
        """`GET /api/tags`: models on disk."""
        data = self._send("GET", "/api/tags")
        return [InstalledModel.from_json(m) for m in schema.tags(data, self.base_url)]

    def loaded_models(self) -> list[LoadedModel]:
        """`GET /api/ps`: models in memory with their CPU/GPU split."""
        data = self._send("GET", "/api/ps")
        return [LoadedModel.from_json(m) for m in schema.ps(data, self.base_url)]

    def show(self, model: str, verbose: bool = True) -> ModelShow:
        """`POST /api/show` (verbose so arrays such as per-layer head counts are included)."""
        data = self._send("POST", "/api/show", {"model": model, "verbose": verbose}, model)
        return ModelShow.from_json(model, schema.show(data, self.base_url))

    def show_json(self, model: str) -> dict[str, Any]:
        """`POST /api/show` (verbose) as sent: modelfile, parameters, model_info, tensors."""
        return dict(self._send("POST", "/api/show", {"model": model, "verbose": True}, model))

    def generate(
        self,
        model: str,
        prompt: str,
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: str | int | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[GenerateChunk]:
        """Stream `POST /api/generate`, one typed chunk per NDJSON line."""
        body: dict[str, Any] = {"model": model, "prompt": prompt, "stream": True}
        if options:
            body["options"] = dict(options)
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        return self._ndjson("/api/generate", body, model, cancel)

    def chat(
        self,
        model: str,
        messages: list[Mapping[str, str]],
        options: Mapping[str, Any] | None = None,
        *,
        cancel: threading.Event | None = None,
    ) -> Iterator[GenerateChunk]:
        """Stream `POST /api/chat`."""
        body: dict[str, Any] = {"model": model, "messages": list(messages), "stream": True}
        if options:
            body["options"] = dict(options)
        return self._ndjson("/api/chat", body, model, cancel)

    def preload(self, model: str, options: Mapping[str, Any] | None = None) -> GenerateChunk:
        """Load `model` without generating (empty prompt); returns the final chunk (load_duration_ns)."""
        body: dict[str, Any] = {"model": model, "stream": False}
        if options:
            body["options"] = dict(options)
        data = self._send("POST", "/api/generate", body, model, slow=True)
        return GenerateChunk.from_json(schema.chunk(data, f"Ollama at {redact_url(self.base_url)}"))

    def create(
        self,
        model: str,
        base: str,
        parameters: Mapping[str, Any],
        *,
        draft_files: Mapping[str, str] | None = None,
    ) -> None:
        """`POST /api/create` a model `model` from `base` with Modelfile `parameters` (and a
        draft: `draft_files` {file name: blob digest}, Modelfile `DRAFT`)."""
        body = {"model": model, "from": base, "parameters": dict(parameters), "stream": False}
        if draft_files:
            body["draft_files"] = dict(draft_files)
        self._send("POST", "/api/create", body, base, slow=True)

    def delete(self, model: str) -> None:
        """`DELETE /api/delete` a model (the derived ones we created)."""
        self._send("DELETE", "/api/delete", {"model": model}, model)

    def unload(self, model: str) -> None:
        """Unload `model` now (`keep_alive: 0`)."""
        self._send(
            "POST",
            "/api/generate",
            {"model": model, "keep_alive": 0, "stream": False},
            model,
            slow=True,
        )
