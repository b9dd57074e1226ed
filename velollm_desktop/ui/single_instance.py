"""One running app per user: a second launch asks the first to show its dashboard, then exits.

The first instance listens on a Unix-domain socket; a later launch connects to it, sends one
line and exits 0. The socket is a full path in a folder only this user can create files in
(`$XDG_RUNTIME_DIR/velollm-desktop`, else `<config dir>/run`, else a private folder in the temp
directory; each checked: a real directory, ours, mode 0700), so another local user cannot take
the name first. Both ends check the peer's uid (SO_PEERCRED), and the server never waits on a
connection: each is non-blocking, read when data arrives (its own QSocketNotifier), and one that
sends nothing is dropped after DROP_AFTER_MS while the GUI thread goes on.

A plain socket watched by QSocketNotifier, not QtNetwork's QLocalServer: loading QtNetwork cost
the tray-only process ~6 MB of RSS (docs/BENCHMARKS.md). Where Python has no AF_UNIX (Windows),
ui/single_instance_qt.py does the same over QtNetwork (a per-user named pipe).
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

from velollm_desktop import APP_ID
from velollm_desktop.core.settings import config_dir

log = logging.getLogger(__name__)

SHOW_MESSAGE = b"show\n"
CONNECT_TIMEOUT_S = 1.0
DROP_AFTER_MS = 2000
"""A connection that has not sent its line by then is closed (it never blocks the GUI)."""
MAX_PENDING = 16
"""Connections waiting for their line at once; older ones are dropped beyond that."""
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS


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


def _digest() -> str:
    # crc32, not hashlib: hashlib loads OpenSSL's libcrypto (3.4 MB of RSS in the tray) for a
    # name that only has to differ between configuration directories of one user.
    return f"{zlib.crc32(str(config_dir()).encode()):08x}"


def _private_folder(leaf: str) -> Path:
    """The first candidate folder that is private to this user and leaves room for `leaf`."""
    candidates = [config_dir() / "run", Path(tempfile.gettempdir()) / f"{APP_ID}-{os.getuid()}"]
    runtime = _runtime_base()
    if runtime is not None:
        candidates.insert(0, runtime / APP_ID)
    for base in candidates:
        if len(str(base / leaf)) <= MAX_SOCKET_PATH and private_dir(base) is not None:
            return base
    raise OSError("no private folder for the single-instance socket (every candidate is taken)")


def server_name() -> str:
    """The socket's name: a full path in a private folder on POSIX (see the module doc);
    the app id, user and config-directory digest elsewhere (a per-user named pipe)."""
    if not hasattr(socket, "AF_UNIX") or os.name != "posix":
        return f"{APP_ID}-{os.environ.get('USERNAME', 'user')}-{_digest()}"
    leaf = f"instance-{_digest()}"
    return str(_private_folder(leaf) / leaf)


def socket_path(name: str) -> str:
    """Where the socket named `name` lives: a full path as given, a bare name in the private
    folder (never the shared temp directory)."""
    return name if os.path.isabs(name) else str(_private_folder(name) / name)


def peer_uid(sock: socket.socket) -> int | None:
    """The connected peer's uid, read from the kernel (Linux SO_PEERCRED), else None."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return int(struct.unpack("3i", raw)[1])


def _own_uid() -> int:
    return os.getuid()


def _foreign(sock: socket.socket) -> bool:
    uid = peer_uid(sock)
    return uid is not None and uid != _own_uid()


def ask_running_instance_to_show(name: str | None = None) -> bool:
    """Tell a running instance to show its dashboard; `False` if none answered (or the one
    listening belongs to another user: then it is not ours and not believed)."""
    try:
        path = socket_path(name or server_name())
    except OSError:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(CONNECT_TIMEOUT_S)
        try:
            s.connect(path)
            if _foreign(s):
                log.warning("single instance: the socket %s belongs to another user; ignored", path)
                return False
            s.sendall(SHOW_MESSAGE)
        except OSError:
            return False
    return True


@dataclass(eq=False)
class _Pending:
    """One accepted connection waiting for its line."""

    sock: socket.socket
    notifier: QSocketNotifier
    since_s: float
    data: bytes = field(default=b"")


class InstanceServer(QObject):
    """Listens for later launches.

    Signals:
        show_requested(): another launch (of this user) asked for the dashboard.
    """

    show_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self.path = socket_path(self.name)
        self._sock: socket.socket | None = None
        self._notifier: QSocketNotifier | None = None
        self._inode: int | None = None
        self.pending: list[_Pending] = []
        """Connections whose line has not arrived yet (each dropped after drop_after_ms)."""
        self.drop_after_ms = DROP_AFTER_MS
        self._sweep = QTimer(self)
        self._sweep.setInterval(100)
        self._sweep.timeout.connect(self._drop_silent)

    def listen(self) -> bool:
        """Start listening; a stale socket left by a crashed instance is removed first."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket file is created 0600: this user only
        try:
            try:
                sock.bind(self.path)
            except OSError:  # nobody answered on it (the caller asked first): a crash left it
                os.unlink(self.path)
                sock.bind(self.path)
            sock.listen(MAX_PENDING)
        except OSError as exc:
            sock.close()
            log.warning("single instance: cannot listen on %s: %s", self.path, exc)
            return False
        finally:
            os.umask(old_umask)
        sock.setblocking(False)
        self._sock, self._inode = sock, os.stat(self.path).st_ino
        self._notifier = QSocketNotifier(sock.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_connection)
        return True

    def close(self) -> None:
        """Stop listening (the socket file is removed, unless another instance replaced it)
        and drop waiting connections."""
        for conn in list(self.pending):
            self._drop(conn)
        self._sweep.stop()
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            try:
                if os.stat(self.path).st_ino == self._inode:
                    os.unlink(self.path)
            except OSError:
                pass

    def _on_connection(self) -> None:
        # Never wait here (this is the GUI thread): accept what is queued, read each line when
        # it arrives (the connection's notifier); the sweep timer drops the silent ones.
        while self._sock is not None:
            try:
                sock, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("single instance: accept failed: %s", exc)
                return
            if _foreign(sock):
                log.warning("single instance: a connection from another user was refused")
                sock.close()
                continue
            sock.setblocking(False)
            if len(self.pending) >= MAX_PENDING:
                self._drop(self.pending[0])
            notifier = QSocketNotifier(sock.fileno(), QSocketNotifier.Type.Read, self)
            # A bound method, not a lambda holding `conn` and `self`: the notifier would then own
            # the last reference to its server, deleting the server while it is deleted itself.
            notifier.activated.connect(self._on_ready_read)
            conn = _Pending(sock, notifier, time.monotonic())
            self.pending.append(conn)
            self._sweep.start()
            self._read(conn)

    def _on_ready_read(self) -> None:
        for conn in list(self.pending):  # at most MAX_PENDING non-blocking reads
            self._read(conn)

    def _read(self, conn: _Pending) -> None:
        if conn not in self.pending:
            return
        try:
            chunk = conn.sock.recv(len(SHOW_MESSAGE) - len(conn.data))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        conn.data += chunk
        if chunk and len(conn.data) < len(SHOW_MESSAGE):
            return  # more to come
        self._drop(conn)  # a full line, or the peer closed
        if conn.data == SHOW_MESSAGE:
            self.show_requested.emit()

    def _drop_silent(self) -> None:
        limit = time.monotonic() - self.drop_after_ms / 1000
        for conn in list(self.pending):
            if conn.since_s <= limit:
                self._drop(conn)
        if not self.pending:
            self._sweep.stop()

    def _drop(self, conn: _Pending) -> None:
        if conn in self.pending:
            self.pending.remove(conn)
            conn.notifier.setEnabled(False)  # before the descriptor is closed
            conn.notifier.deleteLater()
            conn.sock.close()
