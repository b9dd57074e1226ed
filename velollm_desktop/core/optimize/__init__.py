"""The Ollama optimizer: the variables Ollama reads, where they live, what fits, how to write them."""

from velollm_desktop.core.optimize.config_api import OllamaConfig

__all__ = ["OllamaConfig"]
