"""CLI sub-commands beyond `detect`, one module per capability; each exposes `register(sub)`."""

from __future__ import annotations

from velollm_desktop.commands import benchmark, compare, doctor, exporter, fleet, optimize, tune

REGISTRARS = [
    benchmark.register,
    compare.register,
    doctor.register,
    exporter.register,
    fleet.register,
    optimize.register,
    tune.register,
]
