"""The systemd user service: consent first (decline = nothing changed), journal, refusals, undo."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

import pytest

from velollm_desktop import cli
from velollm_desktop.core.exporter import service


class Runner:
    """Records every command; `fail` names a command word that fails."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail = fail

    def __call__(self, argv):
        self.calls.append(tuple(argv))
        code = 1 if self.fail and self.fail in argv else 0
        return subprocess.CompletedProcess(
            argv, code, "", "Failed to connect to bus" if code else ""
        )


@pytest.fixture
def runner(monkeypatch):
    rec = Runner()
    monkeypatch.setattr(service, "run_command", rec)
    return rec


def _tty(monkeypatch, answer: str) -> list[str]:
    asked: list[str] = []
    stdin = io.StringIO()
    stdin.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr("builtins.input", lambda q: asked.append(q) or answer)
    return asked


def _state() -> tuple[bool, bool]:
    return service.unit_path().exists(), service.journal_path().exists()


def test_install_prompt_declined_changes_nothing(monkeypatch, runner, capsys):
    asked = _tty(monkeypatch, "n")
    assert cli.main(["exporter", "--install-service"]) == 1
    out = capsys.readouterr().out
    assert asked and "Install and start" in asked[0]
    assert f"write {service.unit_path()}" in out and "systemctl --user enable --now" in out
    assert "nothing changed" in out
    assert _state() == (False, False) and runner.calls == []
    assert not service.unit_path().parent.exists()


def test_install_accepted_then_remove_declined_then_accepted(monkeypatch, runner, tmp_path):
    _tty(monkeypatch, "y")
    assert cli.main(["exporter", "--install-service", "--url", "http://127.0.0.1:11434"]) == 0
    unit = service.unit_path()
    text = unit.read_text()
    assert "ExecStart=" in text and '"exporter" "--listen" "127.0.0.1:9877"' in text
    assert runner.calls == [
        ("systemctl", "--user", "daemon-reload"),
        ("systemctl", "--user", "enable", "--now", service.UNIT_NAME),
    ]
    assert _state() == (True, True)
    _tty(monkeypatch, "no")
    assert cli.main(["exporter", "--remove-service"]) == 1
    assert _state() == (True, True) and len(runner.calls) == 2  # declined: untouched
    _tty(monkeypatch, "y")
    assert cli.main(["exporter", "--remove-service"]) == 0
    assert _state() == (False, False)
    assert runner.calls[2:] == [
        ("systemctl", "--user", "disable", "--now", service.UNIT_NAME),
        ("systemctl", "--user", "daemon-reload"),
    ]


def test_without_a_terminal_it_needs_yes(monkeypatch, runner, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    assert cli.main(["exporter", "--install-service"]) == 2
    assert "needs --yes" in capsys.readouterr().err
    assert _state() == (False, False) and runner.calls == []
    assert cli.main(["exporter", "--install-service", "--yes"]) == 0 and _state() == (True, True)


def test_bad_arguments_never_reach_a_unit(monkeypatch, runner, capsys):
    assert cli.main(["exporter", "--install-service", "--yes", "--listen", "0.0.0.0:9877"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert _state() == (False, False) and runner.calls == []


def test_a_unit_we_did_not_write_is_never_replaced_or_removed(runner):
    unit = service.unit_path()
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/usr/bin/someone-elses\n")
    installer = service.ServiceInstaller()
    with pytest.raises(service.ServiceError, match="did not write it"):
        installer.install(service.install_plan([]))
    with pytest.raises(service.ServiceError, match="has not installed"):
        installer.remove(service.remove_plan())
    assert (
        unit.read_text() == "[Service]\nExecStart=/usr/bin/someone-elses\n" and runner.calls == []
    )


def test_symlinks_and_edited_units_are_refused(runner, tmp_path):
    unit = service.unit_path()
    unit.parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    unit.symlink_to(elsewhere)
    with pytest.raises(service.ServiceError, match="symbolic link"):
        service.ServiceInstaller().install(service.install_plan([]))
    assert not elsewhere.exists()
    unit.unlink()
    installer = service.ServiceInstaller()
    installer.install(service.install_plan([]))
    unit.write_text(unit.read_text() + "# my edit\n")
    with pytest.raises(service.ServiceError, match="edited"):
        installer.remove(service.remove_plan())
    assert unit.exists() and "# my edit" in unit.read_text()
    installer.remove(service.remove_plan(), force=True)
    assert _state() == (False, False)


def test_a_failing_systemctl_rolls_the_install_back(monkeypatch):
    rec = Runner(fail="enable")
    with pytest.raises(service.ServiceError, match="removed again"):
        service.ServiceInstaller(runner=rec).install(service.install_plan([]))
    assert _state() == (False, False)
    assert rec.calls[-1] == ("systemctl", "--user", "daemon-reload")


def test_unit_quoting_survives_systemd_analyze(tmp_path):
    plan = service.install_plan(["--auth-file", '/tmp/a b$HOME%i/"q"\\x'])
    assert '"/tmp/a b$$HOME%%i/\\"q\\"\\\\x"' in (plan.content or "")
    with pytest.raises(service.ServiceError, match="line break"):
        service.install_plan(["--url", "http://x\nExecStartPre=/bin/rm"])
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze missing (Debian package systemd)"
    path = tmp_path / service.UNIT_NAME
    path.write_text(plan.content or "")
    res = subprocess.run(
        [exe, "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    assert res.returncode == 0, res.stderr
    assert service.UNIT_NAME not in res.stderr
