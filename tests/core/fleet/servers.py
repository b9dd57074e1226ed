"""Loopback test servers for the fleet: the real node exporter, and a scriptable HTTP server
that serves a recorded body, garbage, a huge answer, a drip, or hangs without answering."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from velollm_desktop.core.llamacpp.server import free_port

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NODE_EXPORTER = "prometheus-node-exporter"


class NodeExporter:
    """The real Prometheus node exporter (Debian package) on 127.0.0.1:free port."""

    def __init__(self, collectors: tuple[str, ...] | None = ("cpu", "meminfo")) -> None:
        exe = shutil.which(NODE_EXPORTER) or shutil.which("node_exporter")
        assert exe, "prometheus-node-exporter missing: run bash build_scripts/setup.sh test"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [exe, f"--web.listen-address=127.0.0.1:{self.port}"]
        if collectors is not None:
            argv += ["--collector.disable-defaults"] + [f"--collector.{c}" for c in collectors]
        self.argv = argv
        self.proc: subprocess.Popen | None = None

    def start(self) -> NodeExporter:
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/metrics", timeout=1, trust_env=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("node exporter did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> NodeExporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ScriptedServer:
    """Answers every GET per `mode`: "body" (200 + `body`), "garbage", "huge", "drip", "hang"."""

    def __init__(
        self, mode: str = "body", body: bytes = b"", status: int = 200, host: str = "127.0.0.1"
    ) -> None:
        self.mode, self.body, self.status = mode, body, status
        self.stop_event = threading.Event()
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                server.hits += 1
                server.answer(self)

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        if self.mode == "hang":
            self.stop_event.wait(30)
            return
        body = {
            "garbage": b"<html><body>\x00\xff not metrics {{{ </body></html>",
            "huge": b"node_load1 1\n" * (500_000),
        }.get(self.mode, self.body)
        h.send_response(self.status)
        h.send_header("Content-Type", "text/plain; version=0.0.4")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if self.mode == "drip":
            for i in range(len(body)):
                if self.stop_event.wait(0.2):
                    return
                try:
                    h.wfile.write(body[i : i + 1])
                    h.wfile.flush()
                except OSError:
                    return
            return
        try:
            h.wfile.write(body)
        except OSError:
            pass

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
