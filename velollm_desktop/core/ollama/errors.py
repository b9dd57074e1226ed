"""Typed errors for every server client: each message says what to do next."""

from __future__ import annotations


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
