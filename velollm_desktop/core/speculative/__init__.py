"""Speculative decoding comparison with llama.cpp: vanilla vs draft model vs n-gram."""
