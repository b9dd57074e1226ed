"""llama.cpp: finding its binaries, running llama-server as a managed child, and its clients."""
