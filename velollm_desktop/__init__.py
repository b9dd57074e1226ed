"""VeloLLM Desktop: see your hardware, measure your local LLMs honestly, make Ollama faster."""

# The one place the version is written (pyproject.toml reads it from here). A literal, not
# importlib.metadata: that import alone cost ~44 ms of the tray app's start.
__version__ = "0.2.0"

APP_NAME = "VeloLLM Desktop"
APP_ID = "velollm-desktop"
