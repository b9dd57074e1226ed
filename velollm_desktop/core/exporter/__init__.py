"""The Prometheus exporter: what VeloLLM samples (Ollama's models, GPUs, host, benchmarks) as /metrics."""
