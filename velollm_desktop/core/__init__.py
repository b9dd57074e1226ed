"""The application core: hardware, clients, benchmarks, optimizer, settings, storage.

Nothing in this package imports Qt or pyqtgraph (ruff's TID251 enforces it), so the CLI,
the tests and the GUI all use the same code, with or without a display.
"""
