"""Ollama HTTP API client (typed, streaming, one error choke point).

Import the client from `velollm_desktop.core.ollama.client`: this package file stays light so
that the tray can use the response types without loading httpx at start-up.
"""
