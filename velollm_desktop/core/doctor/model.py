"""The doctor's findings: what is wrong (or could be better), with numbers, a cause and fixes.

Units in the names: `_bytes`, `_per_s`. Every fix maps to an action that already has a
consent + undo path (unload a model; a per-model derived model; server settings through the
optimizer's apply); the doctor itself writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from velollm_desktop.core.bench.regression import VersionChange


class FindingKind(str, Enum):
    ON_CPU = "on_cpu"
    """Wholly in system RAM although a GPU is present."""
    PARTLY_ON_CPU = "partly_on_cpu"
    VRAM_HELD = "vram_held"
    """Another model holds the VRAM this one needs."""
    CONTEXT_TOO_BIG = "context_too_big"
    """Context × slots does not fit where a smaller one would."""
    KV_F16 = "kv_f16"
    """An f16 KV cache where q8_0 would fit entirely."""
    FLASH_ATTENTION_OFF = "flash_attention_off"
    NO_GPU_USED = "no_gpu_used"
    """Nothing on the GPU although one is present and there is room (driver / library)."""
    SLOW_DECODE = "slow_decode"
    """Decode far below this machine's own history for the model and backend."""

    def __str__(self) -> str:
        return self.value


PROBLEMS = {
    FindingKind.ON_CPU,
    FindingKind.PARTLY_ON_CPU,
    FindingKind.VRAM_HELD,
    FindingKind.CONTEXT_TOO_BIG,
    FindingKind.NO_GPU_USED,
    FindingKind.SLOW_DECODE,
}
"""Kinds that make `velollm doctor` exit 1; the others are advice."""


class FixKind(str, Enum):
    UNLOAD = "unload"
    """Unload `model` (Ollama keep_alive 0): nothing on disk changes."""
    DERIVED_MODEL = "derived_model"
    """Create `<model>-velollm` with `options` (core/optimize/per_model.py; undo deletes it)."""
    SERVER_SETTINGS = "server_settings"
    """Server variables `settings`, applied only through the Optimize page / `optimize --apply`."""
    RESTART_SERVER = "restart_server"
    """A llama-server we did not start: the user restarts it with `text`'s arguments."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Fix:
    kind: FixKind
    text: str
    """One sentence: what the fix does."""
    model: str = ""
    """The model acted on (UNLOAD: the one unloaded; DERIVED_MODEL: the base model)."""
    options: tuple[tuple[str, int], ...] = ()
    """DERIVED_MODEL: Modelfile parameters (num_ctx, …)."""
    settings: tuple[tuple[str, str], ...] = ()
    """SERVER_SETTINGS: variable → value."""


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    server: str
    """The server's URL."""
    model: str
    cause: str
    """The sentence with the numbers: what is wrong and why."""
    fixes: tuple[Fix, ...] = ()
    numbers: tuple[tuple[str, float], ...] = ()
    """Named figures behind the cause (needed_bytes, free_bytes, gpu_fraction, …)."""

    @property
    def problem(self) -> bool:
        return self.kind in PROBLEMS

    def number(self, name: str) -> float | None:
        return dict(self.numbers).get(name)


@dataclass(frozen=True)
class DoctorReport:
    findings: tuple[Finding, ...]
    checked: tuple[str, ...] = ()
    """What was looked at ("ollama http://…: 2 models loaded")."""
    notes: tuple[str, ...] = field(default=())
    """What could not be checked and why (server not running, no /api/show, …)."""
    unreachable: tuple[str, ...] = field(default=())
    """Servers that did not answer (one sentence each)."""
    rerun: tuple[VersionChange, ...] = field(default=())
    """Suites last run under another server version: offered for a re-run (regression watch)."""

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.problem)

    def spilling(self, model: str) -> bool:
        """Whether `model` is partly or wholly on the CPU (the exporter's spill verdict)."""
        kinds = {FindingKind.ON_CPU, FindingKind.PARTLY_ON_CPU, FindingKind.NO_GPU_USED}
        return any(f.model == model and f.kind in kinds for f in self.findings)


GIB = 1024**3


def gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def ctx_text(ctx: int) -> str:
    return f"{ctx // 1024}k" if ctx >= 1024 and ctx % 1024 == 0 else str(ctx)
