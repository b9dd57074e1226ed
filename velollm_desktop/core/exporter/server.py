"""The exporter process: an HTTP server for /metrics plus the pollers that feed it.

`Exporter.start()` binds the address (an OSError such as "address in use" comes out of it,
before any thread starts), then starts the pollers and the server thread; `stop()` ends every
thread it started and reports whether they all ended in time. With `auth`, every request
must carry the configured `Authorization` header (401 otherwise, with `WWW-Authenticate`).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from velollm_desktop.core.exporter.collector import VelollmCollector
from velollm_desktop.core.exporter.listen import Auth, ListenAddress
from velollm_desktop.core.exporter.state import ExporterState
from velollm_desktop.core.exporter.watch import (
    OLLAMA_DEADLINE_S,
    OLLAMA_PERIOD_S,
    SystemWatch,
    Watch,
)
from velollm_desktop.core.monitor.sampler import Sampler, SystemSample

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 16
INDEX = (
    b"<html><body><h1>VeloLLM exporter</h1><p><a href='/metrics'>/metrics</a></p></body></html>\n"
)


class _Server(ThreadingHTTPServer):
    """One thread per connection, at most MAX_CONNECTIONS at once (more are closed at once)."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: ListenAddress, handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((address.host, address.port), handler)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # a flood of connections: bounded threads and memory
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _handler(registry: CollectorRegistry, auth: Auth | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S
        server_version = "velollm-exporter"

        def log_message(self, *args: object) -> None:
            pass  # a scrape every few seconds: nothing to log

        def _send(
            self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            if auth is not None and not auth.allows(self.headers.get("Authorization")):
                challenge = (
                    'Bearer realm="velollm"' if auth.scheme == "bearer" else 'Basic realm="velollm"'
                )
                return self._send(
                    401, b"unauthorized\n", "text/plain", {"WWW-Authenticate": challenge}
                )
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                return self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            if path == "/":
                return self._send(200, INDEX, "text/html; charset=utf-8")
            return self._send(404, b"not found: try /metrics\n", "text/plain")

        do_HEAD = do_GET

    return Handler


class Exporter:
    """The endpoint and its pollers. `sampler=None` with `own_sampler`: the app's Sampler."""

    def __init__(
        self,
        address: ListenAddress,
        *,
        ollama_url: str,
        history_path: Path | None,
        auth: Auth | None = None,
        own_sampler: bool = True,
        sampler: Sampler | None = None,
        sample_interval_s: float = 1.0,
        period_s: float = OLLAMA_PERIOD_S,
        deadline_s: float = OLLAMA_DEADLINE_S,
    ) -> None:
        self.address = address
        self.state = ExporterState(ollama_deadline_s=deadline_s)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(VelollmCollector(self.state))
        self._auth = auth
        self.watch = Watch(self.state, ollama_url, history_path=history_path, period_s=period_s)
        self.system = SystemWatch(self.state, sample_interval_s, sampler) if own_sampler else None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the one asked for, or the one the OS chose for port 0)."""
        return int(self._server.server_address[1]) if self._server else self.address.port

    @property
    def url(self) -> str:
        return ListenAddress(self.address.host, self.port).url

    def feed(self, sample: SystemSample) -> None:
        """A sample from the app's own sampler (the tray app: the Monitor page's numbers)."""
        self.state.set_system(sample)

    def start(self) -> None:
        """Bind, then start the pollers and the server; OSError if the address cannot be used."""
        self._server = _Server(self.address, _handler(self.registry, self._auth))
        self.watch.start()
        if self.system is not None:
            self.system.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="velollm-exporter-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """End every thread started; True when all ended within `timeout_s` in total."""
        end = time.monotonic() + timeout_s
        self.watch.stop()
        if self.system is not None:
            self.system.stop()
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join(max(0.0, end - time.monotonic()))
            self._server.server_close()
        ok = self.watch.join(max(0.0, end - time.monotonic()))
        if self.system is not None:
            ok = self.system.join(max(0.0, end - time.monotonic())) and ok
        return ok and (self._thread is None or not self._thread.is_alive())
