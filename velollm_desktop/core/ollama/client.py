"""The Ollama HTTP client: explicit timeouts, one error choke point.

Streaming goes through httpx. With `lightweight=True` (the tray's `/api/ps` poll), the plain
JSON requests are one HTTP/1.0 exchange over a socket (http.client for https), and neither
httpx nor http.client is imported: they cost ~14 MB and ~7 MB of RSS in a tray app whose
reference floor is ~54 MB.

Every request goes through `_send` (or `_stream` for NDJSON), which maps transport and HTTP
failures to the typed errors in `errors.py`, with messages that say what to do.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from velollm_desktop.core.ollama.errors import (
    BadResponse,
    ModelNotFound,
    OllamaError,
    ServerBusy,
    ServerNotRunning,
    StreamBroken,
    from_transport,
)
from velollm_desktop.core.ollama.models import GenerateChunk, InstalledModel, LoadedModel, ModelShow

if TYPE_CHECKING:
    import httpx

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 10.0
STREAM_STALL_TIMEOUT_S = 300.0
"""Longest wait for the next NDJSON line, in seconds (a cold model load can take minutes)."""
BUSY_RETRIES = 3
BUSY_BACKOFF_S = 0.5


def _dechunk(body: bytes) -> bytes:
    """Decode a chunked transfer-encoded body (a server may chunk even for HTTP/1.0)."""
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError as exc:
            raise BadResponse("malformed chunked response from Ollama") from exc
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


class OllamaClient:
    """A client for one Ollama server (`base_url` like http://127.0.0.1:11434)."""

    def __init__(
        self,
        base_url: str,
        *,
        read_timeout_s: float = READ_TIMEOUT_S,
        stream_stall_timeout_s: float = STREAM_STALL_TIMEOUT_S,
        busy_backoff_s: float = BUSY_BACKOFF_S,
        lightweight: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._read_timeout = read_timeout_s
        self._stall = stream_stall_timeout_s
        self._backoff = busy_backoff_s
        self._lightweight = lightweight
        self._client: httpx.Client | None = None

    @property
    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx  # noqa: PLC0415 - see module docstring

            self._client = httpx.Client(
                base_url=self.base_url,
                timeout=httpx.Timeout(self._read_timeout, connect=CONNECT_TIMEOUT_S),
                trust_env=False,  # a desktop proxy setting must not hijack a loopback server
            )
        return self._client

    def close(self) -> None:
        """Release the connection pool."""
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> OllamaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the choke point ------------------------------------------------------------------
    PRODUCT = "Ollama"
    START_HINT = "start it with `ollama serve` (or open the Ollama app), or set the right address in Settings"

    def _explain(self, exc: Exception) -> OllamaError:
        return from_transport(exc, self.PRODUCT, self.base_url, self.START_HINT)

    def _check_status(self, resp: httpx.Response, model: str | None) -> None:
        import httpx  # noqa: PLC0415 - already loaded by the caller

        if resp.status_code < 400:
            return
        try:
            resp.read()
            detail = resp.json().get("error", "")
        except (ValueError, AttributeError, httpx.HTTPError):
            detail = resp.text[:200] if resp.is_stream_consumed else ""
        if resp.status_code == 404 and model:
            raise ModelNotFound(
                f"model '{model}' is not installed in Ollama: run `ollama pull {model}`"
            )
        if resp.status_code == 503:
            raise ServerBusy(
                f"Ollama is busy (HTTP 503: {detail or 'server busy'}); try again later"
            )
        raise OllamaError(
            f"Ollama answered HTTP {resp.status_code}: {detail or resp.reason_phrase}"
        )

    def _exchange(self, method: str, path: str, data: bytes | None) -> tuple[int, str, bytes]:
        """One request → (status, reason, body). HTTP/1.0 over a socket for http://."""
        url = urllib.parse.urlsplit(self.base_url)
        host, target = url.hostname or "127.0.0.1", url.path.rstrip("/") + path
        if url.scheme == "https":
            import http.client  # noqa: PLC0415 - remote TLS servers only

            conn = http.client.HTTPSConnection(host, url.port, timeout=self._read_timeout)
            try:
                conn.request(
                    method,
                    target,
                    body=data,
                    headers={"Content-Type": "application/json"} if data else {},
                )
                resp = conn.getresponse()
                return resp.status, resp.reason, resp.read()
            finally:
                conn.close()
        port = url.port or 80
        head = [
            f"{method} {target} HTTP/1.0",
            f"Host: {host}:{port}",
            "Accept: application/json",
            "Connection: close",
        ]
        if data is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        with socket.create_connection((host.strip("[]"), port), timeout=CONNECT_TIMEOUT_S) as sock:
            sock.settimeout(self._read_timeout)
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (data or b""))
            chunks = []
            while block := sock.recv(65536):
                chunks.append(block)
        raw = b"".join(chunks)
        header, sep, body = raw.partition(b"\r\n\r\n")
        status_line = header.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        if not sep or len(status_line) < 2 or not status_line[1].isdigit():
            raise BadResponse(f"Ollama at {self.base_url} sent something that is not HTTP")
        if b"transfer-encoding: chunked" in header.lower():
            body = _dechunk(body)
        return int(status_line[1]), status_line[2] if len(status_line) > 2 else "", body

    def _send_stdlib(
        self, method: str, path: str, body: Mapping[str, Any] | None, model: str | None
    ) -> Any:
        """The lightweight path: same typed errors as httpx's path."""
        data = json.dumps(body).encode() if body is not None else None
        try:
            status, reason, raw = self._exchange(method, path, data)
        except socket.gaierror as exc:  # unknown host name: nothing to connect to
            raise ServerNotRunning(
                f"Ollama is not running at {self.base_url}: {self.START_HINT}"
            ) from exc
        except OSError as exc:  # refused, timed out, dropped: the shared mapping
            raise self._explain(exc) from exc
        if status >= 400:
            try:
                detail = json.loads(raw).get("error", "")
            except (ValueError, AttributeError):
                detail = raw[:200].decode("utf-8", "replace")
            if status == 404 and model:
                raise ModelNotFound(
                    f"model '{model}' is not installed in Ollama: run `ollama pull {model}`"
                )
            if status == 503:
                raise ServerBusy(
                    f"Ollama is busy (HTTP 503: {detail or 'server busy'}); try again later"
                )
            raise OllamaError(f"Ollama answered HTTP {status}: {detail or reason}")
        try:
            return json.loads(raw) if raw.strip() else {}  # DELETE answers 200 with no body
        except ValueError as exc:
            raise BadResponse(
                f"Ollama at {self.base_url} sent something that is not JSON: {exc}"
            ) from exc

    def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        model: str | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON body (retrying 503 with backoff)."""
        if self._lightweight:
            for attempt in range(BUSY_RETRIES + 1):
                try:
                    return self._send_stdlib(method, path, body, model)
                except ServerBusy:
                    if attempt == BUSY_RETRIES:
                        raise
                    time.sleep(self._backoff * 2**attempt)
        import httpx  # noqa: PLC0415

        for attempt in range(BUSY_RETRIES + 1):
            try:
                resp = self._http.request(method, path, json=body)
                self._check_status(resp, model)
                return resp.json() if resp.content.strip() else {}
            except ServerBusy:
                if attempt == BUSY_RETRIES:
                    raise
                time.sleep(self._backoff * 2**attempt)
            except OllamaError:
                raise
            except ValueError as exc:
                raise BadResponse(
                    f"Ollama at {self.base_url} sent something that is not JSON: {exc}"
                ) from exc
            except httpx.HTTPError as exc:
                raise self._explain(exc) from exc
        raise AssertionError("unreachable")

    @contextmanager
    def _stream(
        self, path: str, body: Mapping[str, Any], model: str | None
    ) -> Iterator[httpx.Response]:
        import httpx  # noqa: PLC0415

        timeout = httpx.Timeout(self._stall, connect=CONNECT_TIMEOUT_S)
        for attempt in range(BUSY_RETRIES + 1):
            try:
                with self._http.stream("POST", path, json=body, timeout=timeout) as resp:
                    self._check_status(resp, model)
                    yield resp
                    return
            except ServerBusy:
                if attempt == BUSY_RETRIES:
                    raise
                time.sleep(self._backoff * 2**attempt)
            except httpx.HTTPError as exc:
                raise self._explain(exc) from exc

    def _ndjson(
        self, path: str, body: Mapping[str, Any], model: str | None, cancel: threading.Event | None
    ) -> Iterator[GenerateChunk]:
        import httpx  # noqa: PLC0415

        with self._stream(path, body, model) as resp:
            try:
                for line in resp.iter_lines():
                    if cancel is not None and cancel.is_set():
                        return
                    if not line.strip():
                        continue
                    try:
                        data = json.loads(line)
                    except ValueError as exc:
                        raise StreamBroken(
                            f"Ollama sent a line that is not JSON: {line[:80]!r}"
                        ) from exc
                    if not isinstance(data, dict):
                        raise StreamBroken(f"Ollama sent an unexpected line: {line[:80]!r}")
                    if "error" in data:
                        raise StreamBroken(f"Ollama reported an error mid-stream: {data['error']}")
                    chunk = GenerateChunk.from_json(data)
                    yield chunk
                    if chunk.done:
                        return
            except httpx.HTTPError as exc:
                raise self._explain(exc) from exc
        raise StreamBroken("Ollama closed the stream before the final (done) line")

    # -- API ------------------------------------------------------------------------------
    def version(self) -> str:
        """`GET /api/version` → "0.33.0"."""
        return str(self._send("GET", "/api/version").get("version", ""))

    def installed_models(self) -> list[InstalledModel]:
        """`GET /api/tags`: models on disk."""
        return [
            InstalledModel.from_json(m) for m in self._send("GET", "/api/tags").get("models") or []
        ]

    def loaded_models(self) -> list[LoadedModel]:
        """`GET /api/ps`: models in memory with their CPU/GPU split."""
        return [LoadedModel.from_json(m) for m in self._send("GET", "/api/ps").get("models") or []]

    def show(self, model: str, verbose: bool = True) -> ModelShow:
        """`POST /api/show` (verbose so arrays such as per-layer head counts are included)."""
        return ModelShow.from_json(
            model, self._send("POST", "/api/show", {"model": model, "verbose": verbose}, model)
        )

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
        return GenerateChunk.from_json(self._send("POST", "/api/generate", body, model))

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
        self._send("POST", "/api/create", body, base)

    def delete(self, model: str) -> None:
        """`DELETE /api/delete` a model (the derived ones we created)."""
        self._send("DELETE", "/api/delete", {"model": model}, model)

    def unload(self, model: str) -> None:
        """Unload `model` now (`keep_alive: 0`)."""
        self._send(
            "POST", "/api/generate", {"model": model, "keep_alive": 0, "stream": False}, model
        )
