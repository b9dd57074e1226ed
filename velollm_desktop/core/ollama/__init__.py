"""Ollama HTTP API client (typed, streaming, one error choke point)."""

from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.errors import (
    ModelNotFound,
    OllamaError,
    ServerBusy,
    ServerNotRunning,
    StreamBroken,
)

__all__ = ["ModelNotFound", "OllamaClient", "OllamaError", "ServerBusy", "ServerNotRunning", "StreamBroken"]
