"""Fleet: watch several inference servers through what they already expose (Qt-free)."""
