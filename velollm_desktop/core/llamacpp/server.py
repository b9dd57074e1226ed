"""Run `llama-server` as a child we own: free loopback port, wait for /health, always stopped.

`LlamaServer` is a context manager; leaving the block (normally, on error or on cancel) ends
the process: SIGTERM, then SIGKILL after a grace period. The last lines of its stderr are kept
so a failed start can be explained to the user.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from velollm_desktop.core.cancel import Cancelled
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.llamacpp.binaries import LlamaBinary, find_program
from velollm_desktop.core.llamacpp.crash import (
    PHASE_RUN,
    PHASE_START,
    EngineCrashed,
    interpret_exit,
)

STOP_GRACE_S = 5.0
"""Seconds between SIGTERM and SIGKILL."""


class ServerStartError(ServerError):
    """llama-server exited or never became healthy; the message has its last stderr lines."""


class ServerStartCancelled(ServerStartError, Cancelled):
    """Cancelled while llama-server was starting (the process is stopped)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already holds `port` on `host` (a bind attempt, not a guess)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


class LlamaServer:
    """One llama-server process on 127.0.0.1 (`url` once started)."""

    def __init__(
        self,
        model: Path | str,
        args: Sequence[str] = (),
        *,
        binary: LlamaBinary | None = None,
        port: int | None = None,
        threads: int | None = None,
        ctx_size: int = 2048,
        start_timeout_s: float = 120.0,
        cancel: threading.Event | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.model = Path(model)
        self.env = dict(env or {})
        """Variables added to this process's environment (`LLAMA_ARG_*`, as Ollama passes them)."""
        self.binary = binary or find_program("llama-server")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)
        self.threads = threads
        self.ctx_size = ctx_size
        self.start_timeout_s = start_timeout_s
        self.cancel = cancel
        self.proc: subprocess.Popen | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._reader: threading.Thread | None = None

    @property
    def argv(self) -> list[str]:
        """The exact command line (a list: never passed through a shell)."""
        argv = [
            str(self.binary.path),
            "-m",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "-c",
            str(self.ctx_size),
            "--no-webui",
        ]
        if self.threads:
            argv += ["-t", str(self.threads)]
        return argv + self.args

    def stderr_tail(self, lines: int = 12) -> str:
        """The last lines llama-server wrote (for error messages)."""
        return "\n".join(list(self._stderr_tail)[-lines:])

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr_tail.append(line.rstrip())

    def start(self) -> LlamaServer:
        """Start the process and wait until /health answers 200; raises ServerStartError."""
        if not self.model.exists():
            raise ServerStartError(f"model file not found: {self.model}")
        if port_in_use(self.port):
            # Checked before the start: otherwise /health would be answered by the program that
            # already listens there, and its answer taken for ours.
            raise ServerStartError(
                f"port {self.port} on 127.0.0.1 is already in use by another program: "
                "choose another port, or leave the port unset to get a free one"
            )
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
            env={**os.environ, **self.env} if self.env else None,
            preexec_fn=_die_with_parent if _PRCTL is not None else None,  # noqa: PLW1509
        )
        self._reader = threading.Thread(target=self._drain, daemon=True, name="llama-server-stderr")
        self._reader.start()
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while True:
                if self.cancel is not None and self.cancel.is_set():
                    raise ServerStartCancelled("cancelled while llama-server was starting")
                code = self.proc.poll()
                if code is not None:
                    if self._reader is not None:
                        self._reader.join(1.0)
                    crash = self.crashed(PHASE_START)
                    if crash is not None:
                        raise crash
                    raise ServerStartError(
                        f"llama-server exited with status {code} at start:\n{self.stderr_tail()}"
                    )
                try:
                    if http.get(f"{self.url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ServerStartError(
                        f"llama-server did not become ready within {self.start_timeout_s:.0f} s:\n{self.stderr_tail()}"
                    )
                time.sleep(0.1)

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """End the process (SIGTERM, then SIGKILL after `grace_s` seconds); returns its exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
                proc.wait(STOP_GRACE_S)
        if self._reader is not None:
            self._reader.join(2.0)
        if proc.stderr is not None:
            proc.stderr.close()
        return proc.returncode

    def crashed(self, phase: str, wait_s: float = 0.0) -> EngineCrashed | None:
        """The crash that ended the process (a death by a signal we did not send), else None."""
        proc = self.proc
        if proc is None:
            return None
        try:
            code = proc.wait(wait_s) if wait_s > 0 else proc.poll()
        except subprocess.TimeoutExpired:
            return None
        if code is None:
            return None
        if self._reader is not None:
            self._reader.join(1.0)
        name = self.binary.path.name
        return interpret_exit(name, code, phase, self.stderr_tail(), self.binary.source)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        # A request failed: if the server died under it by a signal, that is what to report
        # (a dropped connection is only its symptom). It may still be exiting: wait a moment.
        crash = None
        if exc is not None and not isinstance(exc, Cancelled | EngineCrashed):
            if self.cancel is None or not self.cancel.is_set():
                crash = self.crashed(PHASE_RUN, wait_s=0.5)
        self.stop()
        if crash is not None:
            raise crash from exc


def _resolve_prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once in the parent (Linux), or None elsewhere or if missing.

    The child of a threaded process may only call async-signal-safe code between fork and
    exec: importing a module or loading a library there can deadlock on a lock another
    thread held at fork time. So the lookup happens here, and the child only calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # noqa: PLC0415 - only on Linux, in the parent

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _resolve_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the thread that started us dies.

    Without it, a crash of the app (or a killed test run) left llama-server running: seen here
    after four crashed test runs. The starting thread lives as long as the server it owns.
    Only calls the `prctl` resolved in the parent (no import, no dlopen after fork).
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, sig)
        elif sig == signal.SIGTERM:  # pragma: no cover - Windows
            proc.terminate()
        else:  # pragma: no cover
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
