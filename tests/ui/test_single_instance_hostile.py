"""The single-instance socket against another local user and silent connections (issue 28)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest
from PySide6.QtCore import QDir
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from velollm_desktop.ui import single_instance
from velollm_desktop.ui.single_instance import (
    InstanceServer,
    ask_running_instance_to_show,
    server_name,
)


def _old_predictable_path() -> str:
    """Where Qt put the old bare name: the shared temp folder, a name anyone can compute."""
    import hashlib

    from velollm_desktop import APP_ID
    from velollm_desktop.core.settings import config_dir

    digest = hashlib.sha256(str(config_dir()).encode()).hexdigest()[:12]
    return os.path.join(QDir.tempPath(), f"{APP_ID}-{os.getuid()}-{digest}")


@pytest.fixture
def short_dir():
    """A short private folder (socket paths have ~100 bytes; tmp_path is longer)."""
    path = Path(tempfile.mkdtemp(prefix="vr"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_socket_planted_in_the_shared_temp_folder_is_not_believed(qtbot, short_dir, monkeypatch):
    runtime = short_dir
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    planted = _old_predictable_path()
    attacker = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        attacker.bind(planted)
        attacker.listen(4)
        name = server_name()
        assert name.startswith(str(runtime)) and name != planted
        assert not ask_running_instance_to_show()  # the planted socket is never asked
        server = InstanceServer()
        assert server.listen()
        folder = Path(name).parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert folder.stat().st_uid == os.getuid()
        with qtbot.waitSignal(server.show_requested, timeout=3000):
            assert ask_running_instance_to_show()
        server.close()
    finally:
        attacker.close()
        os.unlink(planted)


def test_a_runtime_dir_others_can_write_is_not_used(short_dir, monkeypatch):
    shared = short_dir
    shared.chmod(0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    name = server_name()
    assert not name.startswith(str(shared))
    folder = Path(name).parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_folder_that_is_a_symlink_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    assert single_instance.private_dir(link) is None
    assert single_instance.private_dir(tmp_path / "new") == tmp_path / "new"


def test_another_users_connection_is_refused(qtbot, short_dir, monkeypatch):
    name = str(short_dir / "i.sock")
    server = InstanceServer(name)
    assert server.listen()
    real_uid = os.getuid()
    # the peer is this process; pretend we are someone else: the peer is then "another user"
    monkeypatch.setattr(single_instance, "_own_uid", lambda: real_uid + 1)
    shown: list[bool] = []
    server.show_requested.connect(lambda: shown.append(True))
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(0.05)
    raw.connect(name)
    raw.sendall(b"show\n")

    def closed_by_server() -> bool:
        try:
            return raw.recv(16) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    qtbot.waitUntil(closed_by_server, timeout=3000)
    raw.close()
    assert not shown and not server.pending
    monkeypatch.setattr(single_instance, "_own_uid", lambda: real_uid)
    with qtbot.waitSignal(server.show_requested, timeout=3000):
        assert ask_running_instance_to_show(name)
    server.close()


def test_peer_uid_is_read_from_the_kernel(qtbot, short_dir):
    name = str(short_dir / "i.sock")
    server = QLocalServer()
    assert server.listen(name)
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(2000)
    qtbot.waitUntil(server.hasPendingConnections, timeout=3000)
    conn = server.nextPendingConnection()
    assert single_instance.peer_uid(conn) == os.getuid()
    assert single_instance.peer_uid(client) == os.getuid()
    client.abort()
    conn.abort()
    server.close()


def test_silent_connections_do_not_hold_the_gui_thread(qtbot, short_dir):
    """Ten connections that send nothing: the handler returns at once (they wait in
    `pending`), a real launch after them is still answered, and the silent ones are closed
    by the server's timer, not by a blocking read."""
    name = str(short_dir / "i.sock")
    server = InstanceServer(name)
    server.drop_after_ms = 300
    assert server.listen()
    silent = []
    try:
        for _ in range(10):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(name)
            s.settimeout(5)
            silent.append(s)
        qtbot.waitUntil(lambda: len(server.pending) == 10, timeout=3000)
        with qtbot.waitSignal(server.show_requested, timeout=3000):
            assert ask_running_instance_to_show(name)
        qtbot.waitUntil(lambda: not server.pending, timeout=5000)
        for s in silent:
            assert s.recv(16) == b""  # the server closed it
    finally:
        for s in silent:
            s.close()
        server.close()
