"""Bounds of the transport that are not HTTP framing: a stream's pace, the TLS handshake as
a whole, and the one way a URL is printed (its `user:password@` redacted).

See docs/RELIABILITY.md ("Streams, names, addresses").
"""

from __future__ import annotations

import logging
import re
import select
import socket
import time
from dataclasses import dataclass
from typing import Any

from velollm_desktop.core.http.errors import RequestTimedOut, StreamBroken

RATE_GRACE_S = 30.0
"""Seconds after a stream's first line before its floor speed is enforced."""
TLS_HANDSHAKE_S = 10.0
"""The whole TLS handshake (not each read of it), and never past the request's deadline."""
MIN_TOKENS_PER_S = 0.5
"""Default floor speed of a stream once tokens flow: slower is "too slow to benchmark"."""
STALL_S = 300.0
"""Default longest wait for the next complete line (a cold model load can take minutes)."""


@dataclass(frozen=True)
class StreamPace:
    """How slow a benchmarked stream may be (`benchmark --stall-timeout / --min-speed`)."""

    stall_s: float = STALL_S
    min_tokens_per_s: float = MIN_TOKENS_PER_S


_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"]*@")


def redact_text(text: str) -> str:
    """Every `scheme://user:password@` in free text (an error line, a log record) → `***@`."""
    return _USERINFO.sub(r"\1***@", text)


class RedactingFormatter(logging.Formatter):
    """A log formatter that redacts URL userinfo from the whole formatted record."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def redact_url(url: object) -> str:
    """`url` with any `user:password@` replaced by `***@`: what we print or log of a URL."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    authority, slash, tail = rest.partition("/")
    if "@" not in authority:
        return text
    authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{tail}"


class Pace:
    """Progress of a stream is complete lines (tokens), not bytes: a server dripping a byte
    a second resets no timer here. No complete line for `stall_s` is a stall; once lines
    flow, fewer than `min_lines_per_s` (after RATE_GRACE_S) is too slow."""

    def __init__(self, stall_s: float, min_lines_per_s: float | None, what: str) -> None:
        self.stall_s, self.rate, self.what = stall_s, min_lines_per_s, what
        self.last = time.monotonic()
        self.first: float | None = None
        self.lines = 0

    def line(self) -> None:
        self.last = time.monotonic()
        self.first = self.first if self.first is not None else self.last
        self.lines += 1

    def check(self) -> None:
        now = time.monotonic()
        if now - self.last > self.stall_s:
            raise RequestTimedOut(
                f"{self.what} sent no complete line for {self.stall_s:g} s "
                "(bytes without a token are not progress); gave up"
            )
        rate = self.rate
        if rate and self.first is not None:
            elapsed = now - self.first
            if elapsed > RATE_GRACE_S and self.lines < rate * (elapsed - RATE_GRACE_S):
                raise RequestTimedOut(
                    f"this server is too slow to benchmark: {self.what} sent {self.lines} "
                    f"tokens in {elapsed:.0f} s, below the floor of {rate:g} token/s"
                )


def tls_handshake(ssl: Any, raw: socket.socket, host: str, end: float, what: str) -> socket.socket:
    """The TLS handshake, bounded AS A WHOLE by `end` (time.monotonic): non-blocking steps,
    each wait for the time left, so a server dripping its handshake a byte at a time cannot
    stretch it (a per-read timeout would restart at every byte)."""
    try:
        sock = ssl.create_default_context().wrap_socket(
            raw, server_hostname=host, do_handshake_on_connect=False
        )
    except (OSError, ssl.SSLError) as exc:
        raw.close()
        raise StreamBroken(f"TLS with {what} failed: {exc}") from None
    sock.setblocking(False)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            sock.close()
            raise RequestTimedOut(
                f"TLS with {what} was not set up in time ({TLS_HANDSHAKE_S:g} s at most)"
            )
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            select.select([sock], [], [], left)
            continue
        except ssl.SSLWantWriteError:
            select.select([], [sock], [], left)
            continue
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise StreamBroken(f"TLS with {what} failed: {exc}") from None
        sock.setblocking(True)
        return sock
