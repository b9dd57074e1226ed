"""Undo gives the environment back on macOS and Windows, not only the file.

Apply on macOS runs `launchctl setenv` now and on Windows sets the user's registry
environment: the values it replaced are journalled before the change, and undo (or a rollback)
sets each back or removes it. Fake launchctl / PowerShell (`fake_env`) hold the environment.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.core.optimize.fake_env import FakeLaunchctl, FakeWindowsUser, ps_assignments
from velollm_desktop.core.optimize import flow
from velollm_desktop.core.optimize.apply import Applier, ApplyError
from velollm_desktop.core.optimize.journal import read_entries

BEFORE = {"OLLAMA_KEEP_ALIVE": "5m", "PATH": "/usr/bin"}
ENV = {"OLLAMA_KEEP_ALIVE": "30m", "OLLAMA_NUM_PARALLEL": "2"}
RECORDED = [
    {"name": "OLLAMA_KEEP_ALIVE", "before": "5m", "applied": "30m"},
    {"name": "OLLAMA_NUM_PARALLEL", "before": None, "applied": "2"},
]


def _mac(tmp_path, monkeypatch, fake) -> Applier:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return Applier(runner=fake, journal=tmp_path / "j.json", platform="darwin")


def _win(tmp_path, monkeypatch, fake) -> Applier:
    return Applier(runner=fake, journal=tmp_path / "j.json", platform="win32")


def _journal(applier: Applier) -> list[dict]:
    return json.loads(applier.journal.read_text())


def test_mac_apply_records_the_values_before_and_undo_sets_exactly_those_back(
    tmp_path, monkeypatch
):
    fake = FakeLaunchctl(BEFORE)
    applier = _mac(tmp_path, monkeypatch, fake)
    seen_at_setenv: list[list[dict]] = []
    fake.on_call = lambda argv: argv[1] == "setenv" and seen_at_setenv.append(_journal(applier))
    applier.apply(applier.plan(ENV))
    assert fake.env == {**BEFORE, **ENV}
    # journalled before the change: the intent already holds every value from before
    assert seen_at_setenv[0][-1]["state"] == "intent" and seen_at_setenv[0][-1]["env"] == RECORDED
    assert _journal(applier)[-1]["env"] == RECORDED
    assert flow.undo_consent(applier).splitlines()[2:] == [
        "It sets the environment back (now → after undo):",
        "  OLLAMA_KEEP_ALIVE: 30m → 5m",
        "  OLLAMA_NUM_PARALLEL: 2 → unset",
    ]
    applied_calls = len(fake.calls)
    said = applier.undo()
    assert fake.env == BEFORE
    assert fake.calls[applied_calls:] == [
        ["launchctl", "setenv", "OLLAMA_KEEP_ALIVE", "5m"],
        ["launchctl", "unsetenv", "OLLAMA_NUM_PARALLEL"],
    ]
    assert said.startswith(f"removed {applier.target.path} (it did not exist before); ")
    assert "OLLAMA_KEEP_ALIVE: 30m → 5m, OLLAMA_NUM_PARALLEL: 2 → unset" in said
    assert not applier.target.path.exists() and not applier.can_undo()


def test_windows_apply_records_the_values_before_and_undo_sets_exactly_those_back(
    tmp_path, monkeypatch
):
    fake = FakeWindowsUser(BEFORE)
    applier = _win(tmp_path, monkeypatch, fake)
    applier.apply(applier.plan(ENV))
    assert fake.env == {**BEFORE, **ENV}
    assert len(fake.calls) == 2 and fake.calls[1][-2] == "-File"  # one read, then the script
    assert _journal(applier)[-1]["env"] == RECORDED
    applier.undo()
    assert fake.env == BEFORE
    (undo_call,) = fake.calls[2:]
    assert undo_call[:4] == ["powershell", "-NoProfile", "-NonInteractive", "-Command"]
    assert ps_assignments(undo_call[4]) == [
        ("OLLAMA_KEEP_ALIVE", "5m"),
        ("OLLAMA_NUM_PARALLEL", None),
    ]
    assert "$null" in undo_call[4] and not applier.can_undo()


def test_two_applies_undo_step_by_step_to_the_first_environment(tmp_path, monkeypatch):
    fake = FakeLaunchctl(BEFORE)
    applier = _mac(tmp_path, monkeypatch, fake)
    applier.apply(applier.plan(ENV))
    applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "1h"}))
    applier.undo()
    assert fake.env == {**BEFORE, **ENV}
    applier.undo()
    assert fake.env == BEFORE


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_a_failing_set_back_at_undo_says_the_file_was_restored(tmp_path, monkeypatch, platform):
    mac = platform == "darwin"
    fake = FakeLaunchctl(BEFORE) if mac else FakeWindowsUser(BEFORE)
    applier = (_mac if mac else _win)(tmp_path, monkeypatch, fake)
    applier.apply(applier.plan(ENV))
    fake.fail = "setenv" if mac else "set"
    with pytest.raises(ApplyError) as caught:
        applier.undo()
    said = str(caught.value)
    assert said.startswith(f"removed {applier.target.path} (it did not exist before), but ")
    assert ("Operation not permitted" if mac else "SetEnvironmentVariable: denied") in said
    assert "set it yourself (OLLAMA_KEEP_ALIVE: 30m → 5m, OLLAMA_NUM_PARALLEL: 2 → unset)" in said
    assert not applier.target.path.exists() and not applier.can_undo()
    assert fake.env["OLLAMA_KEEP_ALIVE"] == "30m"  # what the message says is left to do
    outcome = flow.undo(Applier(runner=fake, journal=applier.journal, platform=platform))
    assert outcome.kind is flow.UndoKind.UNDONE and outcome.text == "nothing to undo"


def test_a_failing_apply_sets_back_what_it_had_set(tmp_path, monkeypatch):
    fake = FakeLaunchctl(BEFORE)
    applier = _mac(tmp_path, monkeypatch, fake)
    fake.fail_once = ["setenv", "OLLAMA_NUM_PARALLEL"]  # the first setenv ran, the second fails
    with pytest.raises(ApplyError, match="previous configuration was restored") as caught:
        applier.apply(applier.plan(ENV))
    assert "not set back" not in str(caught.value)
    assert fake.env == BEFORE and not applier.target.path.exists() and not applier.can_undo()


def test_a_rollback_that_cannot_set_back_says_what_is_left(tmp_path, monkeypatch):
    fake = FakeLaunchctl(BEFORE)
    applier = _mac(tmp_path, monkeypatch, fake)
    fake.on_call = lambda argv: (
        argv[1:3] == ["setenv", "OLLAMA_NUM_PARALLEL"] and setattr(fake, "fail", "setenv")
    )  # from the second setenv on, every setenv fails (also the one setting KEEP_ALIVE back)
    with pytest.raises(ApplyError, match="previous configuration was restored") as caught:
        applier.apply(applier.plan(ENV))
    said = str(caught.value)
    assert "but the environment was not set back: `launchctl setenv OLLAMA_KEEP_ALIVE 5m`" in said
    assert "set it yourself (OLLAMA_KEEP_ALIVE: 30m → 5m" in said
    assert fake.env == {**BEFORE, "OLLAMA_KEEP_ALIVE": "30m"}  # exactly what it says is left
    assert not applier.target.path.exists() and not applier.can_undo()


def test_a_rollback_unsets_the_variable_the_failed_apply_set(tmp_path, monkeypatch):
    fake = FakeWindowsUser(BEFORE)
    applier = _win(tmp_path, monkeypatch, fake)
    real = fake._run

    def half(argv, kind, script):  # the script sets the first variable, then fails
        if kind == "file":
            first = script.splitlines()[:2]
            real(argv, kind, "\n".join(first))
            return subprocess.CompletedProcess(argv, 1, "", "the second failed")
        return real(argv, kind, script)

    monkeypatch.setattr(fake, "_run", half)
    with pytest.raises(ApplyError, match="the second failed — the previous configuration"):
        applier.apply(applier.plan(ENV))
    assert fake.env == BEFORE and not applier.target.path.exists() and not applier.can_undo()


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_values_that_cannot_be_read_stop_the_apply_before_anything_changes(
    tmp_path, monkeypatch, platform
):
    mac = platform == "darwin"
    if mac:

        def fake(argv):
            raise FileNotFoundError(2, "No such file or directory")

    else:
        fake = FakeWindowsUser(BEFORE)
        fake.fail = "read"
    applier = (_mac if mac else _win)(tmp_path, monkeypatch, fake)
    with pytest.raises(ApplyError, match="nothing was changed"):
        applier.apply(applier.plan(ENV))
    assert not applier.target.path.exists() and not applier.can_undo()


@pytest.mark.parametrize(
    ("platform", "note"),
    [("darwin", "stay until you log out"), ("win32", "remove them under Settings")],
)
def test_an_entry_of_an_earlier_version_undoes_the_file_and_says_what_stays(
    tmp_path, monkeypatch, platform, note
):
    mac = platform == "darwin"
    fake = FakeLaunchctl(BEFORE) if mac else FakeWindowsUser(BEFORE)
    applier = (_mac if mac else _win)(tmp_path, monkeypatch, fake)
    applier.apply(applier.plan(ENV))
    old = _journal(applier)
    for e in old:
        del e["env"]  # what the applier wrote before it recorded the environment
    applier.journal.write_text(json.dumps(old))
    assert read_entries(applier.journal)[0].env is None
    assert note in flow.undo_consent(applier)
    calls = len(fake.calls)
    said = applier.undo()
    assert said.startswith(f"removed {applier.target.path} (it did not exist before); ")
    assert note in said and not applier.target.path.exists()
    assert fake.calls[calls:] == [] and fake.env == {**BEFORE, **ENV}  # file only


def test_the_systemd_undo_consent_reads_as_before(tmp_path):
    dropin = tmp_path / "override.conf"
    applier = Applier(
        runner=FakeLaunchctl(), journal=tmp_path / "j.json", platform="linux", dropin=dropin
    )
    text = flow.undo_consent(applier)
    assert text.startswith("Undo restores Ollama's configuration file from before the last")
    assert "restarts Ollama" in text and "unloads every loaded model" in text
    assert "environment" not in text


def test_a_hand_edited_environment_record_is_refused_unread(tmp_path, monkeypatch):
    applier = _mac(tmp_path, monkeypatch, FakeLaunchctl())
    applier.apply(applier.plan(ENV))
    edited = _journal(applier)
    edited[0]["env"][0]["name"] = "X'); Remove-Item C:\\ #"
    applier.journal.write_text(json.dumps(edited))
    with pytest.raises(ApplyError, match="unreadable .*not an environment variable name"):
        applier.undo()
    assert applier.target.path.exists()
