"""Energy per token: sources (NVML, amdgpu hwmon, RAPL), a meter for a window, the readings."""

from velollm_desktop.core.energy.meter import EnergyMeter, Window
from velollm_desktop.core.energy.model import (
    EnergyPart,
    EnergyReading,
    describe_energy,
    format_j_per_token,
    not_available,
    reading_from_json,
    with_tokens,
)
from velollm_desktop.core.energy.sources import Discovery, discover

__all__ = [
    "Discovery",
    "EnergyMeter",
    "EnergyPart",
    "EnergyReading",
    "Window",
    "discover",
    "describe_energy",
    "format_j_per_token",
    "not_available",
    "reading_from_json",
    "with_tokens",
]
