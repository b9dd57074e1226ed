"""The names every layer shares: which server a flow talks to, what a tune optimises, and
each server's default address (one place; the GUI and the CLI both read these)."""

from __future__ import annotations

from enum import Enum

from velollm_desktop.core.settings import ollama_url_from_env

DEFAULT_LLAMACPP_URL = "http://127.0.0.1:8080"
"""llama-server's default `--host 127.0.0.1 --port 8080` (llama.cpp's tools/server README)."""


class BackendKind(str, Enum):
    """A server kind. A `str` subclass: `BackendKind.OLLAMA == "ollama"` (settings, JSON)."""

    OLLAMA = "ollama"
    LLAMACPP = "llamacpp"
    OPENAI = "openai"
    BUILTIN = "builtin"
    """Our own llama-server with the small built-in model (the GUI's "Built-in engine")."""

    def __str__(self) -> str:
        return self.value


class Objective(str, Enum):
    """What a tune maximises (tokens/s each; tokens per joule for EFFICIENCY)."""

    DECODE = "decode"
    """Single-stream generation speed."""
    THROUGHPUT = "throughput"
    """Aggregate generation speed of `concurrency` simultaneous clients."""
    PROMPT = "prompt"
    """Prompt processing speed on a long prompt."""
    EFFICIENCY = "efficiency"
    """Generated tokens per joule, single stream (needs an energy reading: NVML, hwmon, RAPL)."""

    def __str__(self) -> str:
        return self.value


def default_url(kind: BackendKind) -> str:
    """The address to use when the user gave none ("" for the built-in engine: we pick a port).

    Ollama's follows `OLLAMA_HOST` as Ollama itself does (core/settings.py). `kind` is the
    enum (a command line or a combobox parses its text to it once, at the edge).
    """
    if kind is BackendKind.OLLAMA:
        return ollama_url_from_env()
    if kind is BackendKind.BUILTIN:
        return ""
    return DEFAULT_LLAMACPP_URL
