"""Shared HTTP for every server client (Ollama, llama-server, OpenAI-compatible, fleet).

`transport.py` is the bounded HTTP/1.1 exchange over one socket; `errors.py` the typed errors
(`ServerError` and its subclasses) every client raises. Nothing here knows which server it talks to.
"""
