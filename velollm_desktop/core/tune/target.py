"""What can be tuned, behind one protocol: the GUI and the CLI call `TuneTarget` methods and
never branch on the backend (`target_for()` is the one place that picks the implementation).

- `LlamaCppTarget`: we start llama-server for each candidate; Apply saves a profile.
- `OllamaTarget`: candidates' options go with the requests to the running Ollama (server
  settings only with consent, through `ServerSettings`); Apply creates `<model>-velollm`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.kinds import BackendKind, default_url
from velollm_desktop.core.progress import ProgressFn
from velollm_desktop.core.tune import llamacpp as llamacpp_tune
from velollm_desktop.core.tune import ollama as ollama_tune
from velollm_desktop.core.tune.common import Measured, TuneResult, TuneSettings


@dataclass(frozen=True)
class Applied:
    """What Apply did, in one sentence, and what a re-measure needs."""

    message: str
    tuned_model: str | None = None
    """Ollama: the derived model's name (None when the winner had no options)."""
    server_env: dict[str, str] = field(default_factory=dict)
    """Ollama: server settings still to apply with the optimizer (with consent; not here)."""


class TuneTarget(Protocol):
    @property
    def kind(self) -> BackendKind: ...

    def tune(
        self,
        hardware: HardwareSpec,
        settings: TuneSettings,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> TuneResult: ...

    def apply(self, result: TuneResult) -> Applied: ...

    def remeasure(
        self,
        result: TuneResult,
        applied: Applied,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[Measured, Measured]: ...


@dataclass(frozen=True)
class LlamaCppTarget:
    model: Path
    kind: BackendKind = BackendKind.LLAMACPP

    def tune(
        self,
        hardware: HardwareSpec,
        settings: TuneSettings,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> TuneResult:
        return llamacpp_tune.tune(self.model, hardware, settings, progress=progress, cancel=cancel)

    def apply(self, result: TuneResult) -> Applied:
        path = llamacpp_tune.apply_winner(result, self.model)
        return Applied(f"Saved the winner as the llama-server profile: {path}.")

    def remeasure(
        self,
        result: TuneResult,
        applied: Applied,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[Measured, Measured]:
        return llamacpp_tune.remeasure(result, self.model, progress=progress, cancel=cancel)


@dataclass(frozen=True)
class OllamaTarget:
    url: str
    model: str
    server: ollama_tune.ServerSettings | None = None
    """Set only when the user allowed server changes (restarts of the service)."""
    kind: BackendKind = BackendKind.OLLAMA

    def tune(
        self,
        hardware: HardwareSpec,
        settings: TuneSettings,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> TuneResult:
        return ollama_tune.tune_ollama(
            self.url,
            self.model,
            hardware,
            settings,
            server=self.server,
            progress=progress,
            cancel=cancel,
        )

    def apply(self, result: TuneResult) -> Applied:
        name, server_env = ollama_tune.apply_ollama_winner(result, self.url)
        parts = []
        if name:
            parts.append(
                f"Created the model {name} with the winner's options "
                f"(`ollama run {name}`); the original is unchanged."
            )
        if server_env:
            pairs = ", ".join(f"{k}={v}" for k, v in sorted(server_env.items()))
            parts.append(
                f"The winner also needs server settings ({pairs}): apply them with Optimize."
            )
        if not parts:
            parts.append("The winner is the current setting: nothing to apply.")
        return Applied(" ".join(parts), name, server_env)

    def remeasure(
        self,
        result: TuneResult,
        applied: Applied,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[Measured, Measured]:
        return ollama_tune.remeasure_ollama(
            result, self.url, applied.tuned_model, progress=progress, cancel=cancel
        )


def target_for(
    kind: BackendKind,
    model: str,
    *,
    url: str | None = None,
    server: ollama_tune.ServerSettings | None = None,
) -> TuneTarget:
    """The one place that maps a backend kind to its tuning target."""
    if kind is BackendKind.OLLAMA:
        return OllamaTarget(url or default_url(kind), model, server)
    if kind is BackendKind.LLAMACPP:
        return LlamaCppTarget(Path(model).expanduser())
    raise BadInput(f"{kind.value} cannot be tuned: choose llamacpp or ollama")


def apply_and_remeasure(
    target: TuneTarget,
    result: TuneResult,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Applied, tuple[Measured, Measured]]:
    """Apply the winner, then measure the baseline and the winner again (one job: the write,
    `/api/create` and the measurements all stay off the GUI thread)."""
    applied = target.apply(result)
    return applied, target.remeasure(result, applied, progress=progress, cancel=cancel)
