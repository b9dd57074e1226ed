"""One running app per user: a second launch asks the first to show its dashboard, then exits.

The first instance listens on a QLocalServer; a later launch connects to it, sends one line
and exits 0. The name is per user and per configuration directory (the app's state lives
there), so two users, or a test with its own XDG_CONFIG_HOME, never meet.
"""

from __future__ import annotations

import hashlib
import logging
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from velollm_desktop import APP_ID
from velollm_desktop.core.settings import config_dir

log = logging.getLogger(__name__)

SHOW_MESSAGE = b"show\n"
CONNECT_TIMEOUT_MS = 1000
READ_TIMEOUT_MS = 500


def server_name() -> str:
    """The local-socket name: the app id, the user id and a hash of the config directory."""
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    digest = hashlib.sha256(str(config_dir()).encode()).hexdigest()[:12]
    return f"{APP_ID}-{uid}-{digest}"


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
