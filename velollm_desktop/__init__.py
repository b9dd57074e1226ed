"""VeloLLM Desktop: see your hardware, measure your local LLMs honestly, make Ollama faster."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("velollm-desktop")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.2.0"

APP_NAME = "VeloLLM Desktop"
APP_ID = "velollm-desktop"
