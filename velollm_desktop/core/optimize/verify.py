"""After apply + restart: check what the server really runs with."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.optimize.parse import clean
from velollm_desktop.core.optimize.sources import find_server_process


@dataclass(frozen=True)
class VerifyReport:
    """What matched and what did not."""

    server_up: bool
    env_readable: bool
    mismatches: tuple[str, ...]
    checks: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.server_up and not self.mismatches


def verify(
    desired: Mapping[str, str],
    url: str,
    *,
    server_environ: Mapping[str, str] | None = None,
    wait_s: float = 30.0,
) -> VerifyReport:
    """Wait for the server, compare its environment with `desired`, and check `/api/ps`."""
    checks: list[str] = []
    mismatches: list[str] = []
    deadline = time.monotonic() + wait_s
    with OllamaClient(url, read_timeout_s=5.0) as client:
        version = None
        while time.monotonic() < deadline:
            try:
                version = client.version()
                break
            except ServerError:
                time.sleep(0.5)
        if version is None:
            return VerifyReport(
                False, False, (f"Ollama did not come back at {url} within {wait_s:.0f} s",), ()
            )
        checks.append(f"Ollama {version} is up at {url}")
        if server_environ is None:
            proc = find_server_process()
            try:
                server_environ = proc.environ() if proc else None
            except Exception:  # noqa: BLE001 - AccessDenied / gone: say so below
                server_environ = None
        if server_environ is not None:
            for name, want in desired.items():
                got = server_environ.get(name)
                if got is None or clean(got) != want:
                    mismatches.append(f"{name}: the server runs with {got!r}, expected {want!r}")
                else:
                    checks.append(f"{name}={want} is in the server's environment")
        else:
            checks.append(
                "the server's environment is not readable here (another user); checked /api/ps only"
            )
        want_ctx = desired.get("OLLAMA_CONTEXT_LENGTH")
        for m in client.loaded_models():
            if want_ctx and m.context_length and str(m.context_length) != want_ctx:
                checks.append(
                    f"{m.name} runs with context {m.context_length} (a per-model num_ctx or a request "
                    f"option may override {want_ctx})"
                )
            checks.append(f"{m.name}: {m.placement}")
            if m.size_vram_bytes < m.size_bytes and m.size_vram_bytes > 0:
                mismatches.append(
                    f"{m.name} is only {m.gpu_fraction:.0%} on the GPU: reduce its context"
                )
    return VerifyReport(True, server_environ is not None, tuple(mismatches), tuple(checks))
