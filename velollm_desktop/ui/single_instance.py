"""One running app per user: a second launch asks the first to show its dashboard, then exits.

The first instance listens on a QLocalServer; a later launch connects to it, sends one line
and exits 0. On POSIX the socket is a full path in a folder only this user can create files
in (`$XDG_RUNTIME_DIR/velollm-desktop`, else `<config dir>/run`, else a private folder in the
temp directory; each checked: a real directory, ours, mode 0700), so another local user
cannot take the name first (Qt would otherwise put a bare name in the shared /tmp). The
server also checks each peer's uid (SO_PEERCRED) and never waits on a connection: a client
that sends nothing is dropped after DROP_AFTER_MS, while the GUI thread goes on.

"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import stat
import struct
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from velollm_desktop import APP_ID
from velollm_desktop.core.settings import config_dir

log = logging.getLogger(__name__)

SHOW_MESSAGE = b"show\n"
CONNECT_TIMEOUT_MS = 1000
DROP_AFTER_MS = 2000
"""A connection that has not sent its line by then is closed (it never blocks the GUI)."""
MAX_PENDING = 16
"""Connections waiting for their line at once; older ones are dropped beyond that."""
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS
_CONNECTED = QLocalSocket.LocalSocketState.ConnectedState


def private_dir(path: Path) -> Path | None:
    """`path` as a directory only this user can use (created 0700), or None when it exists
    but is not ours (a symlink, another owner, not a directory)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return None
        if st.st_mode & 0o077:
            os.chmod(path, 0o700)
        return path
    except OSError:
        return None


def _runtime_base() -> Path | None:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if not runtime:
        return None
    try:
        st = os.stat(runtime)
    except OSError:
        return None
    ok = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077
    return Path(runtime) if ok else None


def server_name() -> str:
    """The local-socket name: a full path in a private folder on POSIX (see the module doc);
    the app id, user and config-directory hash elsewhere (a per-user named pipe)."""
    digest = hashlib.sha256(str(config_dir()).encode()).hexdigest()[:12]
    if os.name != "posix":
        return f"{APP_ID}-{os.environ.get('USERNAME', 'user')}-{digest}"
    candidates = [config_dir() / "run", Path(tempfile.gettempdir()) / f"{APP_ID}-{os.getuid()}"]
    runtime = _runtime_base()
    if runtime is not None:
        candidates.insert(0, runtime / APP_ID)
    for base in candidates:
        sock = base / f"instance-{digest}"
        if len(str(sock)) <= MAX_SOCKET_PATH and private_dir(base) is not None:
            return str(sock)
    raise OSError("no private folder for the single-instance socket (every candidate is taken)")


def peer_uid(sock: QLocalSocket) -> int | None:
    """The connected peer's uid (Linux SO_PEERCRED), or None where it cannot be read."""
    fd = int(sock.socketDescriptor())
    if fd < 0 or not hasattr(socket, "SO_PEERCRED"):
        return None
    dup = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=os.dup(fd))
    try:
        raw = dup.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    finally:
        dup.close()
    return struct.unpack("3i", raw)[1]


def _own_uid() -> int:
    return os.getuid()


def _foreign(sock: QLocalSocket) -> bool:
    uid = peer_uid(sock)
    return uid is not None and uid != _own_uid()


def ask_running_instance_to_show(name: str | None = None) -> bool:
    """Tell a running instance to show its dashboard; `False` if none answered (or the one
    listening belongs to another user: then it is not ours and not believed)."""
    sock = QLocalSocket()
    sock.connectToServer(name or server_name())
    if not sock.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    if _foreign(sock):
        log.warning("single instance: the socket %s belongs to another user; ignored", name)
        sock.abort()
        return False
    sock.write(SHOW_MESSAGE)
    sent = sock.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    sock.disconnectFromServer()
    return sent


class InstanceServer(QObject):
    """Listens for later launches.

    Signals:
        show_requested(): another launch (of this user) asked for the dashboard.
    """

    show_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self.pending: list[QLocalSocket] = []
        """Connections whose line has not arrived yet (each dropped after DROP_AFTER_MS)."""
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
            if _foreign(conn):
                log.warning("single instance: a connection from another user was refused")
                conn.abort()
                conn.deleteLater()
                continue
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
        for conn in list(self.pending):
            if self._since.get(id(conn), 0.0) <= limit or conn.state() != _CONNECTED:
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
