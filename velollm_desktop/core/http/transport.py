"""Bounded HTTP/1.1 over one socket: the transport every server client goes through.

Each request has ONE overall deadline (`Limits.deadline_s`, monotonic clock): every `recv`
waits at most the time left (and at most `stall_s` for the next bytes), so a server that
drips one byte a second cannot hold a caller past the deadline. Header lines, header count,
body size, line length and stream size are capped; every failure is one typed `ServerError`
whose message names the server and the limit. Only `socket` (and `ssl` for https) is used,
so the tray's `/api/ps` poll loads neither httpx nor http.client.
"""

from __future__ import annotations

import base64
import json
import math
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from velollm_desktop.core.http.bounds import (
    TLS_HANDSHAKE_S,
    Pace,
    redact_url,
    tls_handshake,
)
from velollm_desktop.core.http.errors import (
    BadResponse,
    BadURL,
    RequestTimedOut,
    ServerError,
    ServerNotRunning,
    StreamBroken,
    TooLarge,
)
from velollm_desktop.core.http.limits import MIB, Limits

CONNECT_TIMEOUT_S = 2.0
MAX_HEADER_LINE_BYTES = 16 * 1024
MAX_HEADERS = 100
CANCEL_POLL_S = 0.25


class Cancelled(ServerError):
    """The caller's cancel event was set while waiting for the server."""


@dataclass(frozen=True)
class Target:
    """A parsed base URL."""

    scheme: str
    host: str
    port: int
    prefix: str
    auth: str | None = None
    """`user:password` from the URL (sent as HTTP Basic auth, never printed)."""


def parse_base_url(url: str, product: str) -> Target:
    """`http://host:port/prefix` → Target, or one clear `BadURL` (never ValueError)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BadURL(f"{product} address {redact_url(url)!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadURL(
            f"{product} address {redact_url(url)!r} is not a valid URL: use http://HOST:PORT"
        ) from None
    if any(c.isspace() or ord(c) < 32 for c in parts.hostname):
        raise BadURL(
            f"{product} address {redact_url(url)!r} has spaces or control characters in its host"
        )
    default = 443 if parts.scheme == "https" else 80
    auth = None
    if parts.username is not None:
        auth = (
            urllib.parse.unquote(parts.username) + ":" + urllib.parse.unquote(parts.password or "")
        )
    return Target(parts.scheme, parts.hostname, port or default, parts.path.rstrip("/"), auth)


def finite_json(text: bytes | str, what: str) -> Any:
    """`json.loads` that refuses NaN / Infinity / 1e999 (JSON has no such numbers)."""

    def bad_constant(name: str) -> Any:
        raise BadResponse(f"{what} sent a non-finite number ({name}), which JSON does not allow")

    def parse_float(s: str) -> float:
        value = float(s)
        if not math.isfinite(value):
            bad_constant(s[:20])
        return value

    try:
        return json.loads(text, parse_constant=bad_constant, parse_float=parse_float)
    except (ValueError, RecursionError) as exc:
        raise BadResponse(f"{what} sent something that is not JSON: {str(exc)[:120]}") from None


class Response:
    """An open HTTP response: status, headers and a bounded body reader."""

    def __init__(self, conn: _Conn, status: int, reason: str, headers: dict[str, str]) -> None:
        self._conn = conn
        self.status = status
        self.reason = reason
        self.headers = headers

    def iter_body(self, cap: int) -> Iterator[bytes]:
        """The body's blocks (content-length, chunked or until close), at most `cap` bytes."""
        total = 0
        try:
            for block in self._conn.body_blocks(self.headers):
                total += len(block)
                if total > cap:
                    raise TooLarge(
                        f"{self._conn.what} sent more than {cap // MIB} MiB; stopped reading"
                    )
                yield block
        except Cancelled:
            return  # the caller asked to stop: the body simply ends

    def read(self, cap: int) -> bytes:
        return b"".join(self.iter_body(cap))

    def iter_lines(self, limits: Limits) -> Iterator[bytes]:
        """Lines of the body (without the newline), every cap of `limits` enforced."""
        buf = bytearray()
        lines = 0
        pace = Pace(limits.stall_s, limits.min_lines_per_s, self._conn.what)
        for block in self.iter_body(limits.max_stream_bytes):
            buf += block
            while (nl := buf.find(b"\n")) >= 0:
                line = bytes(buf[:nl]).rstrip(b"\r")
                del buf[: nl + 1]
                lines += 1
                if limits.max_lines is not None and lines > limits.max_lines:
                    raise TooLarge(
                        f"{self._conn.what} sent more than {limits.max_lines} lines for this "
                        "request (far more than it asked for); stopped reading"
                    )
                if line.strip():
                    pace.line()
                yield line
            pace.check()
            if len(buf) > limits.max_line_bytes:
                raise TooLarge(
                    f"{self._conn.what} sent a line longer than "
                    f"{limits.max_line_bytes // MIB} MiB; stopped reading"
                )
        if buf.strip():
            yield bytes(buf)

    def close(self) -> None:
        self._conn.close()


class _Conn:
    """One socket with a deadline; every receive is bounded by it."""

    def __init__(
        self, target: Target, limits: Limits, what: str, cancel: threading.Event | None
    ) -> None:
        self.target, self.limits, self.what, self.cancel = target, limits, what, cancel
        self.deadline = time.monotonic() + limits.deadline_s
        self.buf = bytearray()
        self.sock: socket.socket | None = None

    def connect(self) -> None:
        t = self.target
        try:
            sock = socket.create_connection(
                (t.host, t.port), timeout=min(CONNECT_TIMEOUT_S, self._left())
            )
        except (socket.gaierror, ConnectionRefusedError, TimeoutError) as exc:
            raise ServerNotRunning(f"nothing answers at {t.host}:{t.port} ({exc})") from None
        except (OSError, OverflowError, ValueError) as exc:
            raise BadURL(f"cannot connect to {t.host}:{t.port}: {exc}") from None
        if t.scheme == "https":
            import ssl  # noqa: PLC0415 - remote TLS servers only

            end = min(time.monotonic() + TLS_HANDSHAKE_S, self.deadline)
            sock = tls_handshake(ssl, sock, t.host, end, self.what)
        self.sock = sock

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RequestTimedOut(
                f"{self.what} did not finish within {self.limits.deadline_s:g} s "
                "(the overall deadline of one request)"
            )
        return left

    def send(self, data: bytes) -> None:
        assert self.sock is not None
        self.sock.settimeout(self._left())
        try:
            self.sock.sendall(data)
        except TimeoutError:
            self._left()
            raise RequestTimedOut(f"{self.what} did not accept the request in time") from None
        except OSError as exc:
            raise StreamBroken(f"the connection to {self.what} dropped: {exc}") from None

    def recv(self) -> bytes:
        """Next bytes (b"" at end of stream), bounded by stall and deadline; Cancelled on cancel."""
        assert self.sock is not None
        last_byte = time.monotonic()
        while True:
            stall_left = self.limits.stall_s - (time.monotonic() - last_byte)
            if stall_left <= 0:
                raise RequestTimedOut(
                    f"{self.what} sent nothing for {self.limits.stall_s:g} s; gave up"
                )
            wait = min(self._left(), stall_left)
            if self.cancel is not None:
                if self.cancel.is_set():
                    raise Cancelled("cancelled")
                wait = min(wait, CANCEL_POLL_S)
            self.sock.settimeout(wait)
            try:
                return self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise StreamBroken(f"the connection to {self.what} dropped: {exc}") from None

    def readline(self, cap: int) -> bytes:
        while (nl := self.buf.find(b"\n")) < 0:
            if len(self.buf) > cap:
                raise BadResponse(f"{self.what} sent a header line longer than {cap} bytes")
            data = self.recv()
            if not data:
                raise StreamBroken(f"the connection to {self.what} dropped mid-response")
            self.buf += data
        line = bytes(self.buf[:nl])
        del self.buf[: nl + 1]
        return line.rstrip(b"\r")

    def read_head(self) -> tuple[int, str, dict[str, str]]:
        """Status line and headers (1xx interim answers skipped)."""
        while True:
            status_line = self.readline(MAX_HEADER_LINE_BYTES).decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise BadResponse(f"{self.what} sent something that is not HTTP")
            headers: dict[str, str] = {}
            for _ in range(MAX_HEADERS + 1):
                line = self.readline(MAX_HEADER_LINE_BYTES)
                if not line:
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            else:
                raise BadResponse(f"{self.what} sent more than {MAX_HEADERS} headers")
            status = int(parts[1])
            if not 100 <= status < 200:
                return status, parts[2] if len(parts) > 2 else "", headers

    def body_blocks(self, headers: dict[str, str]) -> Iterator[bytes]:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            yield from self._chunked()
            return
        length = headers.get("content-length")
        left = int(length) if length and length.isdigit() else None
        if self.buf:
            block = bytes(self.buf if left is None else self.buf[:left])
            self.buf.clear()
            left = None if left is None else left - len(block)
            yield block
        while left is None or left > 0:
            data = self.recv()
            if not data:
                if left:
                    raise StreamBroken(f"the connection to {self.what} dropped mid-response")
                return
            if left is not None:
                data = data[:left]
                left -= len(data)
            yield data

    def _chunked(self) -> Iterator[bytes]:
        while True:
            size_line = self.readline(MAX_HEADER_LINE_BYTES)
            try:
                size = int(size_line.split(b";")[0].strip() or b"x", 16)
            except ValueError:
                raise BadResponse(f"{self.what} sent a malformed chunked response") from None
            if size == 0:
                return
            while size > 0:
                if not self.buf:
                    data = self.recv()
                    if not data:
                        raise StreamBroken(f"the connection to {self.what} dropped mid-response")
                    self.buf += data
                block = bytes(self.buf[:size])
                del self.buf[: len(block)]
                size -= len(block)
                yield block
            self.readline(MAX_HEADER_LINE_BYTES)  # the CRLF after the chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def open_request(
    base_url: str,
    method: str,
    path: str,
    body: Any,
    limits: Limits,
    product: str,
    cancel: threading.Event | None = None,
) -> Response:
    """Send one request and read the head; the caller reads (and closes) the body."""
    target = parse_base_url(base_url, product)
    what = f"{product} at {redact_url(base_url)}"
    data = json.dumps(body).encode() if body is not None else None
    host = f"[{target.host}]" if ":" in target.host else target.host
    head = [
        f"{method} {target.prefix}{path} HTTP/1.1",
        f"Host: {host}:{target.port}",
        "Accept: application/json",
        "Connection: close",
        "User-Agent: velollm-desktop",
    ]
    if target.auth is not None:
        token = base64.b64encode(target.auth.encode("utf-8")).decode("ascii")
        head.append(f"Authorization: Basic {token}")
    if data is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    conn = _Conn(target, limits, what, cancel)
    try:
        conn.connect()
        conn.send(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (data or b""))
        status, reason, headers = conn.read_head()
    except ServerError:
        conn.close()
        raise
    return Response(conn, status, reason, headers)


def error_detail(resp: Response) -> str:
    """The `error` field of an error body (or its first 200 characters), read within caps."""
    try:
        raw = resp.read(64 * 1024)
    except ServerError:
        return ""
    try:
        data = json.loads(raw)
        detail = data.get("error", "") if isinstance(data, dict) else ""
    except ValueError:
        detail = raw[:200].decode("utf-8", "replace")
    return printable(str(detail))[:200]


def printable(text: str) -> str:
    """Server text made safe for a terminal or a label: control and escape characters removed."""
    return "".join(c if c.isprintable() or c == " " else " " for c in text).strip()
