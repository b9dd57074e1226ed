"""A loopback server that answers with hostile bytes: slow drips, endless streams, huge lines,
garbage JSON. Each connection runs `reply(sock, method, path)` on its own thread; the server
stops every reply (they poll `stopping`) when the `with` block ends."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable

Reply = Callable[["HostileServer", socket.socket, str, str], None]


class HostileServer:
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.stopping = threading.Event()
        self.requests: list[tuple[str, str]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> HostileServer:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for t in list(self._threads):
            t.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    block = sock.recv(65536)
                    if not block:
                        return
                    data += block
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += sock.recv(65536)
                method, path = head.split(b" ")[:2]
                self.requests.append((method.decode(), path.decode()))
                self.reply(self, sock, method.decode(), path.decode())
            except OSError:
                return  # the client gave up: that is the point of most tests

    # -- reply helpers ------------------------------------------------------------------
    def send_all(self, sock: socket.socket, data: bytes) -> None:
        sock.sendall(data)

    def drip(self, sock: socket.socket, data: bytes, every_s: float) -> None:
        """`data` one byte at a time, then keep dripping spaces until the client hangs up."""
        i = 0
        while not self.stopping.is_set():
            sock.sendall(data[i : i + 1] if i < len(data) else b" ")
            i += 1
            time.sleep(every_s)


def head(status: int = 200, extra: str = "", length: int | None = None) -> bytes:
    h = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}"
    if length is not None:
        h += f"Content-Length: {length}\r\n"
    return (h + "\r\n").encode()


def json_reply(obj: object, status: int = 200) -> Reply:
    """A fixed JSON body (any JSON value, so non-objects can be served too)."""
    body = obj if isinstance(obj, bytes) else json.dumps(obj, allow_nan=True).encode()

    def reply(srv: HostileServer, sock: socket.socket, method: str, path: str) -> None:
        srv.send_all(sock, head(status, length=len(body)) + body)

    return reply


def ollama_like(routes: dict[str, bytes]) -> Reply:
    """Sensible answers for some paths (a full HTTP response each), 404 for the rest."""

    def reply(srv: HostileServer, sock: socket.socket, method: str, path: str) -> None:
        srv.send_all(sock, routes.get(path, head(404, length=2) + b"{}"))

    return reply


def stream_lines(lines: list[bytes] | Callable[[int], bytes | None], sse: bool = False) -> bytes:
    """A close-delimited body of `lines` (list form only)."""
    assert isinstance(lines, list)
    sep = b"\n\n" if sse else b"\n"
    return head(extra="Connection: close\r\n") + b"".join(
        (b"data: " + ln if sse else ln) + sep for ln in lines
    )
