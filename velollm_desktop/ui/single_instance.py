"""One running app per user: a second launch asks the first to show its dashboard, then exits.

The first instance listens on a Unix-domain socket (mode 0600, in $XDG_RUNTIME_DIR or the temp
directory); a later launch connects to it, sends one line and exits 0. The name is per user and
per configuration directory (the app's state lives there), so two users, or a test with its own
XDG_CONFIG_HOME, never meet. A plain socket watched by a QSocketNotifier, not QtNetwork's
QLocalServer: loading QtNetwork cost the tray-only process ~6 MB of RSS (docs/BENCHMARKS.md).
Where Python has no AF_UNIX (Windows), ui/single_instance_qt.py does the same over QtNetwork.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import zlib

from PySide6.QtCore import QObject, QSocketNotifier, Signal

from velollm_desktop import APP_ID
from velollm_desktop.core.settings import config_dir

log = logging.getLogger(__name__)

SHOW_MESSAGE = b"show\n"
CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 0.5


def server_name() -> str:
    """The local-socket name: the app id, the user id and a hash of the config directory."""
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    # crc32, not hashlib: hashlib loads OpenSSL's libcrypto (3.4 MB of RSS in the tray) for a
    # name that only has to differ between configuration directories of one user.
    digest = f"{zlib.crc32(str(config_dir()).encode()):08x}"
    return f"{APP_ID}-{uid}-{digest}"


def socket_path(name: str) -> str:
    """Where the socket named `name` lives: the per-user runtime directory, else the temp dir."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = runtime if runtime and os.path.isdir(runtime) else tempfile.gettempdir()
    return os.path.join(base, name)


def ask_running_instance_to_show(name: str | None = None) -> bool:
    """Tell a running instance to show its dashboard; `False` if none answered."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(CONNECT_TIMEOUT_S)
        try:
            s.connect(socket_path(name or server_name()))
            s.sendall(SHOW_MESSAGE)
        except OSError:
            return False
    return True


class InstanceServer(QObject):
    """Listens for later launches.

    Signals:
        show_requested(): another launch asked for the dashboard.
    """

    show_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self.path = socket_path(self.name)
        self._sock: socket.socket | None = None
        self._notifier: QSocketNotifier | None = None
        self._inode: int | None = None

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
            sock.listen(4)
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
        """Stop listening (the socket file is removed, unless another instance replaced it)."""
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
        # The caller writes its line right after connecting: reading it here, bounded, keeps
        # no socket alive between events.
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("single instance: accept failed: %s", exc)
                return
            with conn:
                conn.settimeout(READ_TIMEOUT_S)
                try:
                    data = conn.recv(64)
                except OSError:
                    data = b""
            if SHOW_MESSAGE.strip() in data:
                self.show_requested.emit()
