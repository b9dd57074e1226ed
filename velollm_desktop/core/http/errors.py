"""Typed errors for every server client: each message says what to do next."""

from __future__ import annotations

from velollm_desktop.core.failure import Fix, UserFacingError


class ServerError(UserFacingError):
    """Base of every error a server client raises — Ollama, llama-server, OpenAI-compatible,
    fleet targets (the message is shown to the user): the GUI and CLI need one `except`."""


OllamaError = ServerError
"""The former name of `ServerError` (kept for code written against earlier versions)."""


class ServerNotRunning(ServerError):
    """Nothing answers at the URL (connection refused / unreachable)."""

    fix = Fix.START_SERVER


class OllamaNotRunning(ServerNotRunning):
    """Ollama does not answer at its address (a setting: the app's Settings, the CLI's --url)."""

    fix = Fix.START_OLLAMA


class ModelNotFound(ServerError):
    """The server answered 404 for the model."""


class ServerBusy(ServerError):
    """HTTP 503 persisted through the retries."""


class RequestTimedOut(ServerError):
    """No answer (or no next stream line) within the timeout."""


class StreamBroken(ServerError):
    """The connection dropped mid-stream, a line was not JSON, or an error line arrived."""


class BadResponse(ServerError):
    """The server answered with something that is not the documented format."""


class TooLarge(BadResponse):
    """A reply went past a size cap (body, line, stream length); reading stopped."""


class BadURL(ServerError):
    """The server address is not a usable http(s) URL."""

    fix = Fix.SET_ADDRESS


def from_transport(
    exc: Exception,
    product: str,
    url: str,
    start_hint: str,
    not_running: type[ServerNotRunning] = ServerNotRunning,
) -> ServerError:
    """The one mapping from a transport failure (httpx or socket) to a typed, actionable error
    (`not_running`: the class of "nothing answers", whose fix the GUI and CLI word).

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
        return not_running(f"{product} is not running at {url}: {start_hint}")
    if isinstance(exc, timeout):
        return RequestTimedOut(f"{product} at {url} did not answer in time")
    if isinstance(exc, dropped):
        return StreamBroken(f"the connection to {product} at {url} dropped: {exc}")
    return ServerError(f"talking to {product} at {url} failed: {exc}")


def from_status(
    status: int, product: str, detail: str = "", *, model: str | None = None, pull: str = ""
) -> ServerError | None:
    """The one mapping from an HTTP error status to a typed error (None below 400).

    `detail` is the server's own error text, `model` the model the request named (a 404 then
    means that model is missing), `pull` the command that downloads one (e.g. "ollama pull").
    """
    if status < 400:
        return None
    if status == 404 and model:
        if pull:
            return ModelNotFound(
                f"model '{model}' is not installed in {product}: run `{pull} {model}`"
            )
        return ModelNotFound(f"{product} has no model '{model}'")
    if status == 503:
        why = f": {detail}" if detail else ""
        return ServerBusy(f"{product} is busy or still loading (HTTP 503{why}); try again later")
    return ServerError(f"{product} answered HTTP {status}: {detail or 'no details'}")
