"""Typed errors for every server client: each message says what to do next."""

from __future__ import annotations

GUI_ADDRESS_FIX = "set the right address in Settings"
"""How a message tells the app's user to fix a wrong address; the CLI swaps in `--url`."""


class OllamaError(Exception):
    """Base of every error a server client raises (the message is shown to the user)."""


# Servers other than Ollama share the same hierarchy: the GUI and CLI need one `except`.
ServerError = OllamaError


class ServerNotRunning(OllamaError):
    """Nothing answers at the URL (connection refused / unreachable)."""


class ModelNotFound(OllamaError):
    """The server answered 404 for the model."""


class ServerBusy(OllamaError):
    """HTTP 503 persisted through the retries."""


class RequestTimedOut(OllamaError):
    """No answer (or no next stream line) within the timeout."""


class StreamBroken(OllamaError):
    """The connection dropped mid-stream, a line was not JSON, or an error line arrived."""


class BadResponse(OllamaError):
    """The server answered with something that is not the documented format."""


class TooLarge(BadResponse):
    """A reply went past a size cap (body, line, stream length); reading stopped."""


class BadURL(OllamaError):
    """The server address is not a usable http(s) URL."""


def from_transport(exc: Exception, product: str, url: str, start_hint: str) -> OllamaError:
    """The one mapping from a transport failure (httpx or socket) to a typed, actionable error.

    httpx is only imported when the error came from httpx: the tray's lightweight socket path
    must not load it (RSS, and no imports in worker threads).
    """
    refused: tuple[type, ...] = (ConnectionRefusedError,)
    timeout: tuple[type, ...] = (TimeoutError,)
    dropped: tuple[type, ...] = (OSError,)
    if type(exc).__module__.startswith("httpx"):
        import httpx  # noqa: PLC0415 - already loaded: the error came from it

        refused += (httpx.ConnectError, httpx.ConnectTimeout)
        timeout += (httpx.TimeoutException,)
        dropped += (httpx.RemoteProtocolError, httpx.ReadError)
    if isinstance(exc, refused):
        return ServerNotRunning(f"{product} is not running at {url}: {start_hint}")
    if isinstance(exc, timeout):
        return RequestTimedOut(f"{product} at {url} did not answer in time")
    if isinstance(exc, dropped):
        return StreamBroken(f"the connection to {product} at {url} dropped: {exc}")
    return OllamaError(f"talking to {product} at {url} failed: {exc}")
