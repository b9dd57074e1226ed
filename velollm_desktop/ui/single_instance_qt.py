"""The single-instance channel over QtNetwork's QLocalServer: used where Python has no
AF_UNIX sockets (Windows); elsewhere ui/single_instance.py does the same with a plain socket,
so a tray-only process never loads QtNetwork (~6 MB of RSS). Like the plain socket, the server
never waits on a connection: its line is read when it arrives (readyRead), and one that sends
nothing is dropped after DROP_AFTER_MS (at most MAX_PENDING wait at once)."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from velollm_desktop.ui.single_instance import (
    CONNECT_TIMEOUT_S,
    DROP_AFTER_MS,
    MAX_PENDING,
    SHOW_MESSAGE,
    server_name,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_MS = int(CONNECT_TIMEOUT_S * 1000)


def ask_running_instance_to_show(name: str | None = None) -> bool:
    """Tell a running instance to show its dashboard; `False` if none answered."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(SHOW_MESSAGE)
    sent = socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    socket.disconnectFromServer()
    return sent


class InstanceServer(QObject):
    """Listens for later launches.

    Signals:
        show_requested(): another launch asked for the dashboard.
    """

    show_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self.pending: list[QLocalSocket] = []
        """Connections whose line has not arrived yet (each dropped after drop_after_ms)."""
        self._since: dict[int, float] = {}
        self.drop_after_ms = DROP_AFTER_MS
        self._sweep = QTimer(self)
        self._sweep.setInterval(100)
        self._sweep.timeout.connect(self._drop_silent)

    def listen(self) -> bool:
        """Start listening; a stale socket left by a crashed instance is removed first."""
        if self._server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)  # nobody answered on it: a crash left it behind
        ok = self._server.listen(self.name)
        if not ok:
            log.warning(
                "single instance: cannot listen on %s: %s", self.name, self._server.errorString()
            )
        return ok

    def close(self) -> None:
        """Stop listening (the socket file is removed) and drop waiting connections."""
        for conn in list(self.pending):
            self._drop(conn)
        self._sweep.stop()
        self._server.close()

    def _on_connection(self) -> None:
        # Never wait here (this is the GUI thread): a connection's line is read when it
        # arrives (readyRead); one that sends nothing is dropped by the sweep timer.
        while self._server.hasPendingConnections():
            conn = self._server.nextPendingConnection()
            if len(self.pending) >= MAX_PENDING:
                self._drop(self.pending[0])
            self.pending.append(conn)
            self._since[id(conn)] = time.monotonic()
            conn.readyRead.connect(self._on_ready_read)
            self._sweep.start()
            self._read(conn)

    def _on_ready_read(self) -> None:
        for conn in list(self.pending):
            self._read(conn)

    def _read(self, conn: QLocalSocket) -> None:
        if conn.bytesAvailable() < len(SHOW_MESSAGE):
            return
        data = bytes(conn.read(len(SHOW_MESSAGE)).data())
        self._drop(conn)
        if data == SHOW_MESSAGE:
            self.show_requested.emit()

    def _drop_silent(self) -> None:
        limit = time.monotonic() - self.drop_after_ms / 1000
        connected = QLocalSocket.LocalSocketState.ConnectedState
        for conn in list(self.pending):
            if self._since.get(id(conn), 0.0) <= limit or conn.state() != connected:
                self._read(conn)
                if conn in self.pending:
                    self._drop(conn)
        if not self.pending:
            self._sweep.stop()

    def _drop(self, conn: QLocalSocket) -> None:
        if conn in self.pending:
            self.pending.remove(conn)
            self._since.pop(id(conn), None)
            conn.readyRead.disconnect(self._on_ready_read)
            conn.abort()
            conn.deleteLater()
