"""The Ollama optimizer: the variables Ollama reads, where they live, what fits, how to write them."""
