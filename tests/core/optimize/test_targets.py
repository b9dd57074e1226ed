"""Each OS's target on Linux: its plan (typed steps), its write and its restore, with fake
command runners — the systemd drop-in also through a fake administrator prefix."""

from __future__ import annotations

import os
import plistlib
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.core.optimize.fake_env import FakeWindowsUser
from velollm_desktop.core import fsutil
from velollm_desktop.core.optimize import targets_files
from velollm_desktop.core.optimize.apply import Applier, ApplyError
from velollm_desktop.core.optimize.preview import build_preview
from velollm_desktop.core.optimize.sources import CurrentConfig
from velollm_desktop.core.optimize.targets import (
    LaunchdAgent,
    SystemdDropIn,
    WindowsUserEnv,
    target_for,
)
from velollm_desktop.core.optimize.targets_steps import (
    STAGED_SHOWN,
    Plan,
    Restart,
    Run,
    WriteFile,
)

ORIGINAL = b'[Service]\nEnvironment="OLLAMA_HOST=0.0.0.0"\n'


class Recorder:
    """Records every argv; `sudo …` runs the rest itself (cp, install, rm), as root would."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.staged_seen: list[str] = []
        self.fail_on = fail_on

    def __call__(self, argv):
        argv = list(argv)
        self.calls.append(argv)
        if self.fail_on and self.fail_on in argv:
            return subprocess.CompletedProcess(argv, 1, "", "boom")
        if argv[:1] == ["sudo"]:
            self._as_root(argv[1:])
        return subprocess.CompletedProcess(argv, 0, "", "")

    def _as_root(self, cmd: list[str]) -> None:
        if cmd[0] == "cp":
            shutil.copy2(cmd[-2], cmd[-1])
        elif cmd[0] == "install":
            self.staged_seen.append(Path(cmd[-2]).read_text())
            Path(cmd[-1]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cmd[-2], cmd[-1])
        elif cmd[0] == "rm":
            Path(cmd[-1]).unlink(missing_ok=True)


def _dropin(tmp_path: Path) -> Path:
    dropin = tmp_path / "ollama.service.d" / "override.conf"
    dropin.parent.mkdir()
    dropin.write_bytes(ORIGINAL)
    return dropin


def _no_rights(monkeypatch, *, prefix: str = "sudo") -> None:
    """We may not write anywhere, and the administrator prefix is `prefix`."""
    for mod in ("targets", "targets_files"):
        monkeypatch.setattr(f"velollm_desktop.core.optimize.{mod}.writable", lambda _p: False)
        monkeypatch.setattr(f"velollm_desktop.core.optimize.{mod}.elevate_prefix", lambda: [prefix])


def test_target_for_picks_one_target_per_os(tmp_path):
    rec = Recorder()
    assert isinstance(target_for("linux", rec, dropin=tmp_path / "o.conf"), SystemdDropIn)
    assert isinstance(target_for("darwin", rec), LaunchdAgent)
    assert isinstance(target_for("win32", rec), WindowsUserEnv)


def test_systemd_plan_is_write_reload_restart(tmp_path):
    dropin = _dropin(tmp_path)
    plan = SystemdDropIn(dropin, Recorder()).plan({"OLLAMA_KEEP_ALIVE": "30m"})
    write, reload, restart = plan.steps
    assert write == WriteFile(dropin, write.content, 0o644, None)
    assert 'Environment="OLLAMA_KEEP_ALIVE=30m"' in write.content
    assert 'Environment="OLLAMA_HOST=0.0.0.0"' in write.content  # merged, not replaced
    assert reload == Run(("systemctl", "daemon-reload"), reload.what)
    assert restart == Restart(("systemctl", "restart", "ollama"))
    assert plan.restarts and not plan.privileged and plan.base_sha256
    quiet = SystemdDropIn(dropin, Recorder(), restart=False).plan({"OLLAMA_KEEP_ALIVE": "30m"})
    assert quiet.steps == (quiet.write,) and not quiet.restarts and quiet.command_lines() == ()


def test_systemd_plan_without_rights_shows_the_staged_copy_but_never_runs_it(tmp_path, monkeypatch):
    dropin = _dropin(tmp_path)
    _no_rights(monkeypatch, prefix="pkexec")
    plan = SystemdDropIn(dropin, Recorder()).plan({"OLLAMA_KEEP_ALIVE": "30m"})
    assert plan.privileged and plan.write.elevate == ("pkexec",) and plan.write.staged is None
    assert plan.command_lines() == (
        f"pkexec install -D -m 0644 '{STAGED_SHOWN}' {dropin}",
        "pkexec systemctl daemon-reload",
        "pkexec systemctl restart ollama",
    )
    preview = build_preview(plan, {"OLLAMA_KEEP_ALIVE": "30m"}, CurrentConfig({}, ()))
    assert f"File written: {dropin} (as administrator)" in preview.text()
    with pytest.raises(ValueError, match="staged copy"):
        plan.write.argv()  # nothing runs without the real staged file


def test_systemd_apply_and_undo_through_the_administrator(tmp_path, monkeypatch):
    dropin = _dropin(tmp_path)
    _no_rights(monkeypatch)
    rec = Recorder()
    applier = Applier(runner=rec, journal=tmp_path / "j.json", platform="linux", dropin=dropin)
    plan = applier.plan({"OLLAMA_KEEP_ALIVE": "30m"})
    backup = applier.apply(plan)
    assert backup is not None and backup.read_bytes() == ORIGINAL
    assert dropin.read_text() == plan.content and rec.staged_seen == [plan.content]
    install = rec.calls[1]
    assert install[:5] == ["sudo", "install", "-D", "-m", "0644"] and install[-1] == str(dropin)
    assert not Path(install[-2]).exists()  # the staged copy is removed after the install
    assert not any(STAGED_SHOWN in " ".join(c) for c in rec.calls)
    assert rec.calls[0] == ["sudo", "cp", "-p", str(dropin), str(backup)]
    assert rec.calls[2:] == [
        ["sudo", "systemctl", "daemon-reload"],
        ["sudo", "systemctl", "restart", "ollama"],
    ]
    del rec.calls[:]
    assert applier.undo() == f"restored {dropin} from {backup}"
    assert dropin.read_bytes() == ORIGINAL
    assert rec.calls == [
        ["sudo", "cp", "-p", str(backup), str(dropin)],
        ["sudo", "systemctl", "daemon-reload"],
        ["sudo", "systemctl", "restart", "ollama"],
    ]


def test_systemd_restore_of_a_created_file_through_the_administrator(tmp_path, monkeypatch):
    dropin = tmp_path / "ollama.service.d" / "override.conf"
    _no_rights(monkeypatch)
    rec = Recorder()
    applier = Applier(runner=rec, journal=tmp_path / "j.json", platform="linux", dropin=dropin)
    assert applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"})) is None and dropin.exists()
    assert applier.undo(restart=False) == f"removed {dropin} (it did not exist before)"
    assert rec.calls[-1] == ["sudo", "rm", "-f", str(dropin)] and not dropin.exists()


def test_a_failed_administrator_install_changes_nothing(tmp_path, monkeypatch):
    dropin = _dropin(tmp_path)
    _no_rights(monkeypatch)
    rec = Recorder(fail_on="install")
    applier = Applier(runner=rec, journal=tmp_path / "j.json", platform="linux", dropin=dropin)
    with pytest.raises(ApplyError, match="install .* failed: boom"):
        applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    assert dropin.read_bytes() == ORIGINAL and not applier.can_undo()
    assert not any("systemctl" in c for c in rec.calls)


def test_launchd_agent_plan_write_and_restore(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    rec = Recorder()
    applier = Applier(runner=rec, journal=tmp_path / "j.json", platform="darwin")
    plist = tmp_path / "home" / "Library" / "LaunchAgents" / "io.velollm.ollama-env.plist"
    env = {"OLLAMA_NUM_PARALLEL": "2", "OLLAMA_KEEP_ALIVE": "30m"}
    plan = applier.plan(env)
    assert plan.target == plist and not plan.restarts and not applier.restarts_on_undo()
    assert [s.argv for s in plan.steps[1:]] == [
        ("launchctl", "setenv", "OLLAMA_KEEP_ALIVE", "30m"),
        ("launchctl", "setenv", "OLLAMA_NUM_PARALLEL", "2"),
    ]
    assert all(isinstance(s, Run) for s in plan.steps[1:])
    assert any("reopen the Ollama app" in n for n in plan.notes)
    assert applier.apply(plan) is None
    loaded = plistlib.loads(plist.read_bytes())
    assert loaded["ProgramArguments"][2:] == [
        "OLLAMA_KEEP_ALIVE",
        "30m",
        "OLLAMA_NUM_PARALLEL",
        "2",
    ]
    assert (
        rec.calls
        == [
            ["launchctl", "getenv", "OLLAMA_KEEP_ALIVE"],  # the values before, for undo
            ["launchctl", "getenv", "OLLAMA_NUM_PARALLEL"],
            *[list(s.argv) for s in plan.steps[1:]],
        ]
    )
    assert applier.known_targets() == {plist}
    assert applier.undo().startswith(f"removed {plist} (it did not exist before); ")
    assert not plist.exists()
    assert rec.calls[4:] == [  # both were unset before; undo restarts nothing here
        ["launchctl", "unsetenv", "OLLAMA_KEEP_ALIVE"],
        ["launchctl", "unsetenv", "OLLAMA_NUM_PARALLEL"],
    ]


def test_launchd_failing_setenv_restores_the_previous_agent(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    applier = Applier(runner=Recorder(), journal=tmp_path / "j.json", platform="darwin")
    applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    before = applier.target.path.read_bytes()
    failing = Applier(
        runner=Recorder(fail_on="setenv"), journal=tmp_path / "j.json", platform="darwin"
    )
    with pytest.raises(ApplyError, match="previous configuration was restored"):
        failing.apply(failing.plan({"OLLAMA_KEEP_ALIVE": "1h"}))
    assert applier.target.path.read_bytes() == before


def test_windows_user_env_plan_write_and_restore(tmp_path):
    rec = FakeWindowsUser()
    applier = Applier(runner=rec, journal=tmp_path / "j.json", platform="win32")
    script = applier.target.path
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_bytes(b"# the user's own script\r\n")
    plan = applier.plan({"OLLAMA_ORIGINS": "it's"})
    assert plan.steps[1] == Run(
        ("powershell", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File", str(script)),
        plan.steps[1].what,
    )
    assert len(plan.steps) == 2 and not plan.restarts and plan.env == (("OLLAMA_ORIGINS", "it's"),)
    backup = applier.apply(plan)
    assert "'it''s'" in script.read_text() and rec.calls[1:] == [list(plan.steps[1].argv)]
    assert rec.env == {"OLLAMA_ORIGINS": "it's"}
    assert applier.undo().startswith(f"restored {script} from {backup}; ")
    assert script.read_bytes() == b"# the user's own script\r\n" and rec.env == {}


def test_a_plan_writes_one_file_first(tmp_path):
    write = WriteFile(tmp_path / "f", "x")
    Plan((write, Run(("true",))))
    for steps in ((Run(("true",)), write), (write, write), (Run(("true",)),)):
        with pytest.raises(ValueError, match="exactly one file"):
            Plan(steps)


def test_the_staged_copy_is_filled_when_the_step_runs(tmp_path, monkeypatch):
    rec = Recorder()
    target = tmp_path / "d" / "override.conf"
    step = WriteFile(target, "[Service]\n", 0o644, ("sudo",))
    targets_files.FileTarget(rec).write(step, None, None)
    staged = rec.calls[0][-2]
    assert rec.calls == [["sudo", "install", "-D", "-m", "0644", staged, str(target)]]
    assert (
        staged != STAGED_SHOWN and not Path(staged).exists() and target.read_text() == "[Service]\n"
    )


def test_undo_renames_the_backup_into_place_already_with_its_mode(tmp_path, monkeypatch):
    """Before: undo's writer renamed a 0600 temp file over the drop-in, then chmodded it."""
    dropin = _dropin(tmp_path)
    dropin.chmod(0o640)
    applier = Applier(
        runner=Recorder(), journal=tmp_path / "j.json", platform="linux", dropin=dropin
    )
    applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    modes, real = [], os.replace

    def spy(src, dst):
        if Path(dst) == dropin:
            modes.append(stat.S_IMODE(os.stat(src).st_mode))
        real(src, dst)

    monkeypatch.setattr(fsutil.os, "replace", spy)
    applier.undo()
    assert modes == [0o640] and dropin.read_bytes() == ORIGINAL
