"""Apply is a transaction; undo restores exactly what was there, or says why it cannot."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velollm_desktop.core.optimize import apply as apply_mod
from velollm_desktop.core.optimize import targets_files
from velollm_desktop.core.optimize.apply import Applier, ApplyError, UserEdited, run_command

ORIGINAL = b'[Service]\nEnvironment="A=1" "OLLAMA_KEEP_ALIVE=5m"\n'


def ok(argv):
    return subprocess.CompletedProcess(argv, 0, "", "")


def _applier(tmp_path: Path, runner=ok) -> tuple[Applier, Path]:
    dropin = tmp_path / "ollama.service.d" / "override.conf"
    dropin.parent.mkdir(exist_ok=True)
    dropin.write_bytes(ORIGINAL)
    dropin.chmod(0o644)
    return Applier(
        runner=runner, journal=tmp_path / "j.json", platform="linux", dropin=dropin
    ), dropin


def test_the_journal_is_written_before_the_file_is_replaced(tmp_path, monkeypatch):
    applier, dropin = _applier(tmp_path)
    seen = []
    real = targets_files.atomic_write_text

    def spy(path, text, **kw):
        if Path(path) == dropin:
            seen.append(json.loads(applier.journal.read_text())[-1]["target"])
        return real(path, text, **kw)

    monkeypatch.setattr(targets_files, "atomic_write_text", spy)
    applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    assert seen == [str(dropin)]


@pytest.mark.parametrize(
    "failure",
    [FileNotFoundError(2, "No such file or directory"), subprocess.TimeoutExpired("systemctl", 60)],
    ids=["systemctl-missing", "systemctl-hangs"],
)
def test_systemctl_missing_or_hanging_restores_the_old_file_and_says_so(tmp_path, failure):
    """Before: a FileNotFoundError / TimeoutExpired traceback, the new file left in place."""

    def runner(argv):
        if "restart" in argv:
            raise failure
        return ok(argv)

    applier, dropin = _applier(tmp_path, runner)
    with pytest.raises(ApplyError, match="previous configuration was restored"):
        applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    assert dropin.read_bytes() == ORIGINAL and not applier.can_undo()


def test_a_real_hanging_systemctl_is_bounded(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "systemctl"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setattr(apply_mod, "COMMAND_TIMEOUT_S", 1.0)
    applier, dropin = _applier(tmp_path, run_command)
    with pytest.raises(ApplyError, match="did not finish within 1 s"):
        applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    assert dropin.read_bytes() == ORIGINAL


def test_undo_restores_mode_and_owner(tmp_path):
    """Before: undo left the drop-in 0600 (mkstemp's mode)."""
    applier, dropin = _applier(tmp_path)
    if os.geteuid() == 0:
        os.chown(dropin, 1234, 1234)
    applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    applier.undo()
    st_ = dropin.stat()
    assert dropin.read_bytes() == ORIGINAL and stat.S_IMODE(st_.st_mode) == 0o644
    if os.geteuid() == 0:
        assert (st_.st_uid, st_.st_gid) == (1234, 1234)


def test_missing_backup_and_corrupt_journal_are_one_clear_line(tmp_path):
    applier, dropin = _applier(tmp_path)
    backup = applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    written = dropin.read_bytes()
    backup.unlink()
    with pytest.raises(ApplyError, match="backup .* is missing") as err:
        applier.undo()
    assert "\n" not in str(err.value) and dropin.read_bytes() == written
    applier.journal.write_text("{not json")
    with pytest.raises(ApplyError, match="unreadable"):
        applier.undo()
    assert not applier.can_undo() and dropin.read_bytes() == written


def test_undo_never_touches_a_path_the_journal_did_not_record_for_us(tmp_path):
    applier, dropin = _applier(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    entry = {"target": str(victim), "backup": None, "existed": False}
    applier.journal.write_text(json.dumps([entry]))
    with pytest.raises(ApplyError, match="never writes"):
        applier.undo()
    entry = {"target": str(dropin), "backup": str(victim), "existed": True}
    applier.journal.write_text(json.dumps([entry]))
    with pytest.raises(ApplyError, match="not one we made"):
        applier.undo()
    assert victim.read_text() == "keep" and dropin.read_bytes() == ORIGINAL


def test_user_edits_between_apply_and_undo_are_never_discarded_silently(tmp_path):
    applier, dropin = _applier(tmp_path)
    applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    edited = dropin.read_text() + "Environment=MINE=1\n"
    dropin.write_text(edited)
    with pytest.raises(UserEdited, match="edited after VeloLLM wrote it"):
        applier.undo()
    assert dropin.read_text() == edited and applier.can_undo()
    applier.undo(force=True)  # the user said yes
    assert dropin.read_bytes() == ORIGINAL


def test_never_writes_through_a_symlinked_file_or_dropin_dir(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "override.conf").write_bytes(ORIGINAL)
    linked_dir = tmp_path / "ollama.service.d"
    linked_dir.symlink_to(elsewhere)
    applier = Applier(
        runner=ok,
        journal=tmp_path / "j.json",
        platform="linux",
        dropin=linked_dir / "override.conf",
    )
    with pytest.raises(ApplyError, match="symbolic link"):
        applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    real_dir = tmp_path / "real.d"
    real_dir.mkdir()
    (real_dir / "override.conf").symlink_to(elsewhere / "override.conf")
    applier = Applier(
        runner=ok, journal=tmp_path / "j.json", platform="linux", dropin=real_dir / "override.conf"
    )
    with pytest.raises(ApplyError, match="symbolic link"):
        applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    assert (elsewhere / "override.conf").read_bytes() == ORIGINAL
    assert sorted(p.name for p in elsewhere.iterdir()) == ["override.conf"]
    assert not applier.can_undo()


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["apply", "undo", "edit"]),
        st.dictionaries(
            st.sampled_from(["OLLAMA_KEEP_ALIVE", "OLLAMA_NUM_PARALLEL", "OLLAMA_FLASH_ATTENTION"]),
            st.sampled_from(["1", "30m", "a b", '"q"', "%h"]),
            min_size=1,
            max_size=2,
        ),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(steps=STEPS, mode=st.sampled_from([0o644, 0o640, 0o600]))
def test_any_apply_undo_sequence_ends_with_the_original_file_and_mode(steps, mode):
    with tempfile.TemporaryDirectory() as d:
        applier, dropin = _applier(Path(d))
        dropin.chmod(mode)
        for action, env in steps:
            if action == "apply":
                applier.apply(applier.plan(env))
            elif action == "undo":
                applier.undo()
            elif applier.can_undo():
                dropin.write_text(dropin.read_text() + "# edit\n")
                with pytest.raises(UserEdited):
                    applier.undo()
                applier.undo(force=True)
        while applier.can_undo():
            applier.undo()
        assert dropin.read_bytes() == ORIGINAL and stat.S_IMODE(dropin.stat().st_mode) == mode
