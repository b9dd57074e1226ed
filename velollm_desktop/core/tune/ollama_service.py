"""Ollama's server variables during a tune: changed only with the caller's consent, through the
optimizer's writer, and restored afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from velollm_desktop.core.failure import BadInput, UserFacingError
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.service import ProcInfo, Runtime, detect_runtime
from velollm_desktop.core.tune.ollama_candidates import SERVER_VARS


class ServerSettings(Protocol):
    """Changes Ollama's service environment and restores it."""

    def describe(self, env: Mapping[str, str]) -> str: ...
    def apply(self, env: Mapping[str, str]) -> None: ...
    def restore(self) -> None: ...


class ServiceSettings:
    """Server settings through the optimizer's writer: a systemd drop-in, daemon-reload and a
    restart, each write journalled with a backup. Every `apply` starts from the original file
    (the previous candidate's write is undone first), and `restore` undoes ours and restarts.
    Only where a restart is automatic (Linux, systemd); elsewhere the Ollama app must be
    restarted by hand, which a tune cannot do.
    """

    def __init__(self, url: str, applier: Applier | None = None, wait_s: float = 60.0) -> None:
        self.url = url
        self.applier = applier or Applier()
        if not self.applier.platform.startswith("linux"):
            raise BadInput(
                "trying server settings needs an automatic restart of Ollama (Linux, systemd); on "
                "macOS and Windows use `velollm optimize` and restart the Ollama app yourself"
            )
        a = self.applier
        self._quiet = Applier(
            runner=a.runner, journal=a.journal, platform=a.platform, dropin=a.dropin, restart=False
        )
        self.wait_s = wait_s
        self._applied = 0

    def describe(self, env: Mapping[str, str]) -> str:
        return self.applier.plan(env).describe()

    def apply(self, env: Mapping[str, str]) -> None:
        if self._applied:  # back to the original file first, without a second restart
            self._quiet.undo()
            self._applied -= 1
        self.applier.apply(self.applier.plan(env))
        self._applied += 1
        self._wait_up()

    def restore(self) -> None:
        if not self._applied:
            return
        while self._applied > 1:
            self._quiet.undo()
            self._applied -= 1
        self.applier.undo()
        self._applied = 0
        self._wait_up()

    def _wait_up(self) -> None:
        deadline = time.monotonic() + self.wait_s
        with OllamaClient(self.url, read_timeout_s=5.0) as client:
            while True:
                try:
                    client.version()
                    return
                except ServerError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)


class ServerChangesRefused(UserFacingError):
    """Server settings cannot be tried here (the sentence says why); nothing was changed."""


SERVER_CHANGES_TITLE = "Change Ollama's server settings?"


def consent_text(plan: str) -> str:
    """What the user is asked before a tune may rewrite Ollama's configuration."""
    return (
        "To try server settings, VeloLLM will write Ollama's configuration and restart it "
        f"for each such candidate:\n\n{plan}\n\nRunning chats are interrupted. The original "
        "configuration is restored at the end, also if you cancel."
    )


def server_changes_for(
    url: str,
    *,
    root: Path,
    processes: Callable[[], list[ProcInfo]],
    factory: Callable[[str], ServerSettings],
) -> tuple[ServerSettings, str]:
    """The policy for server settings during a tune: only where Ollama runs as a systemd
    service (the one runtime we can restart for the user). Returns the writer and the consent
    text to show; raises `ServerChangesRefused` with the reason otherwise. Writes nothing."""
    runtime = detect_runtime(url, root=root, processes=processes)
    if runtime.runtime is not Runtime.SYSTEMD:
        raise ServerChangesRefused(runtime.explanation)
    try:
        server = factory(url)
        plan = server.describe({name: "…" for name in SERVER_VARS})
    except (ValueError, OSError) as exc:
        raise ServerChangesRefused(str(exc)) from exc
    return server, consent_text(plan)
