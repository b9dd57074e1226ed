"""The single-instance channel over QtNetwork's QLocalServer: used where Python has no
AF_UNIX sockets (Windows); elsewhere ui/single_instance.py does the same with a plain socket,
so a tray-only process never loads QtNetwork (~6 MB of RSS)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from velollm_desktop.ui.single_instance import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    SHOW_MESSAGE,
    server_name,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_MS = int(CONNECT_TIMEOUT_S * 1000)
READ_TIMEOUT_MS = int(READ_TIMEOUT_S * 1000)


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
        """Stop listening (the socket file is removed)."""
        self._server.close()

    def _on_connection(self) -> None:
        # The caller writes its line right after connecting: reading it here, bounded, keeps
        # no socket alive between events (no per-connection slots to outlive their socket).
        while self._server.hasPendingConnections():
            conn = self._server.nextPendingConnection()
            if not conn.bytesAvailable():
                conn.waitForReadyRead(READ_TIMEOUT_MS)
            data = bytes(conn.readAll().data())
            conn.disconnectFromServer()
            conn.deleteLater()
            if SHOW_MESSAGE.strip() in data:
                self.show_requested.emit()
