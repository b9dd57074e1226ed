"""Which models started spilling since the last poll: once per load, never a flood.

Light on purpose (the tray imports it at start, tests/ui/test_tray_rss.py): the spill rule is
written here, not beside the memory fit that the diagnosis needs.
"""

from __future__ import annotations

from collections.abc import Sequence

from velollm_desktop.core.ollama.models import LoadedModel

SPILL_TOLERANCE = 0.99
"""size_vram / size below this is a spill (Ollama rounds; 99 % is "on GPU")."""
MAX_PER_POLL = 3
"""At most this many alerts from one poll (the rest are summed up in one)."""


def on_cpu(m: LoadedModel) -> bool:
    """The doctor's spill rule, the one place it is written (diagnosis, tray alert, exporter):
    part or all of the model is outside VRAM."""
    return bool(m.size_bytes) and m.gpu_fraction < SPILL_TOLERANCE


class SpillWatch:
    """Fed every `/api/ps` poll; returns the models to alert about now.

    A load is (name, digest) for as long as the model stays in the list: a model seen spilling
    is alerted once; it is alerted again only after it left memory and was loaded again."""

    def __init__(self) -> None:
        self._alerted: set[tuple[str, str]] = set()

    def update(self, loaded: Sequence[LoadedModel]) -> list[LoadedModel]:
        present = {(m.name, m.digest or "") for m in loaded}
        self._alerted &= present  # unloaded models: their next load is a new one
        new = []
        for m in loaded:
            key = (m.name, m.digest or "")
            if on_cpu(m) and key not in self._alerted:
                self._alerted.add(key)
                new.append(m)
        return new


def alert_text(models: Sequence[LoadedModel]) -> str:
    """The notification's one line ("llama3.1:8b: 41 % CPU / 59 % GPU — open the Doctor")."""
    shown = [f"{m.name}: {m.placement}" for m in models[:MAX_PER_POLL]]
    more = len(models) - MAX_PER_POLL
    tail = f" and {more} more" if more > 0 else ""
    return "; ".join(shown) + tail + ". Open the Doctor to see why."
