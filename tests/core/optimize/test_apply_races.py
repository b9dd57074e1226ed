"""Two applies at once, and applies killed at every step: the user's original file is never lost.

Real processes (`python -c` running the Applier on a sandboxed drop-in), real signals (SIGKILL,
SIGTERM), then undo in this process until nothing is left: the original bytes come back.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from velollm_desktop.core.optimize import journal as journal_mod
from velollm_desktop.core.optimize.apply import Applier, ApplyError
from velollm_desktop.core.optimize.journal import Busy, EntryState, JournalEntry, JournalLock

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and flock")

ORIGINAL = b'[Service]\nEnvironment="A=1" "OLLAMA_KEEP_ALIVE=5m"\n'

CHILD = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    from pathlib import Path
    from velollm_desktop.core.optimize import apply as apply_mod, targets_files
    from velollm_desktop.core.optimize.apply import Applier, ApplyError

    dropin, journal, value, die_at, go = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    steps = [0]

    def step(name):
        steps[0] += 1
        print("step", steps[0], name, flush=True)
        if steps[0] == die_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(mod, attr):
        real = getattr(mod, attr)
        def f(*a, **kw):
            step("before " + attr)
            out = real(*a, **kw)
            step("after " + attr)
            return out
        setattr(mod, attr, f)

    for mod, attr in [(apply_mod, "write_entries"), (targets_files, "exclusive_copy"),
                      (targets_files, "atomic_write_text"), (targets_files, "chown_back")]:
        wrap(mod, attr)

    def runner(argv):
        step("run " + " ".join(argv))
        if os.environ.get("SLOW_RESTART") and "restart" in argv:
            print("restarting", flush=True)
            time.sleep(1.5)
        return subprocess.CompletedProcess(argv, 0, "", "")

    applier = Applier(runner=runner, journal=journal, platform="linux", dropin=dropin)
    plan = applier.plan({"OLLAMA_KEEP_ALIVE": value})
    print("planned", flush=True)
    while go and not Path(go).exists():
        time.sleep(0.001)
    try:
        applier.apply(plan)
    except ApplyError as exc:
        print("refused:", exc, flush=True)
        sys.exit(3)
    print("applied", flush=True)
    """
)


def _sandbox(tmp_path: Path, mode: int = 0o640) -> tuple[Path, Path]:
    dropin = tmp_path / "ollama.service.d" / "override.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_bytes(ORIGINAL)
    dropin.chmod(mode)
    return dropin, tmp_path / "journal.json"


def _child(dropin: Path, journal: Path, value: str, die_at: int = 0, go: str = "", **env: str):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(dropin), str(journal), value, str(die_at), go],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _applier(dropin: Path, journal: Path) -> Applier:
    ok = lambda argv: subprocess.CompletedProcess(argv, 0, "", "")  # noqa: E731
    return Applier(runner=ok, journal=journal, platform="linux", dropin=dropin)


def _undo_all(applier: Applier) -> list[str]:
    said = []
    while applier.can_undo():
        said.append(applier.undo())
    return said


def test_two_applies_at_once_never_lose_the_original(tmp_path):
    """Before: both runs picked the same `.bak-<second>` name; 1 in 5 lost the original."""
    for trial in range(5):
        dropin, journal = _sandbox(tmp_path / str(trial))
        go = tmp_path / f"go-{trial}"
        procs = [_child(dropin, journal, v, go=str(go)) for v in ("30m", "1h")]
        for p in procs:  # both have planned against the original before either starts
            assert p.stdout.readline().strip() == "planned"
        go.touch()
        outs = [p.communicate(timeout=120) for p in procs]
        codes = sorted(p.returncode for p in procs)
        # one applies; the other waited for the lock, saw the file changed since its plan
        # and refused with a sentence (it never merged into, or backed up, the first's file)
        assert codes == [0, 3], outs
        refused = next(o for o, p in zip(outs, procs, strict=True) if p.returncode == 3)[0]
        assert "changed since this plan was made" in refused and "nothing was changed" in refused
        entries = json.loads(journal.read_text())
        assert len(entries) == 1 and entries[0]["state"] == "done"
        _undo_all(_applier(dropin, journal))
        assert dropin.read_bytes() == ORIGINAL and stat.S_IMODE(dropin.stat().st_mode) == 0o640


def test_a_second_apply_waits_for_the_lock_then_refuses_with_a_sentence(tmp_path, monkeypatch):
    dropin, journal = _sandbox(tmp_path)
    applier = _applier(dropin, journal)
    monkeypatch.setattr(journal_mod, "LOCK_WAIT_S", 0.3)
    plan = applier.plan({"OLLAMA_KEEP_ALIVE": "30m"})
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl,sys,time; f=open(sys.argv[1],'a'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
         str(journal) + ".lock"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        second = Applier(runner=applier.runner, journal=journal, platform="linux", dropin=dropin)
        with pytest.raises(Busy, match="another VeloLLM apply or undo is still running"):
            second.apply(plan)
        with pytest.raises(ApplyError, match="wait for it to finish"):
            second.undo()
        assert dropin.read_bytes() == ORIGINAL and not journal.exists()
    finally:
        holder.kill()
        holder.wait()
    assert applier.apply(plan) is not None  # the lock is free again: the same plan applies


def test_backup_names_of_two_processes_in_one_second_differ(tmp_path):
    from velollm_desktop.core.fsutil import unique_backup_path

    code = "import sys; from pathlib import Path; from velollm_desktop.core.fsutil import unique_backup_path as u; print(u(Path(sys.argv[1])).name)"
    target = tmp_path / "override.conf"
    names = {
        subprocess.run(
            [sys.executable, "-c", code, str(target)], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        for _ in range(3)
    }  # fmt: skip
    names.add(unique_backup_path(target).name)
    assert len(names) == 4 and all(n.startswith("override.conf.bak-") for n in names)


def test_a_kill_at_every_step_of_apply_leaves_everything_undoable(tmp_path):
    """Before: killed after the journal entry but before the backup, every later undo said
    "backup missing" — also for the earlier, good apply."""
    die_at, finished = 1, False
    while not finished:
        case = tmp_path / f"k{die_at}"
        dropin, journal = _sandbox(case)
        first = _applier(dropin, journal)
        first.apply(first.plan({"OLLAMA_NUM_PARALLEL": "2"}))  # a good apply before the killed one
        after_first = dropin.read_bytes()
        out, err = _child(dropin, journal, "30m", die_at=die_at).communicate(timeout=120)
        finished = "applied" in out
        if not finished:
            assert f"step {die_at} " in out, (out, err)  # it died where we asked
        said = _undo_all(_applier(dropin, journal))
        assert dropin.read_bytes() == ORIGINAL, (die_at, out, said)
        assert stat.S_IMODE(dropin.stat().st_mode) == 0o640
        assert not journal.exists() or json.loads(journal.read_text()) == []
        if not finished and b"30m" not in after_first:
            # the killed apply is repaired or dropped, and the good one before it is undone
            assert any(f"restored {dropin}" in s for s in said), said
        die_at += 1
        assert die_at < 40, "the apply never finished"
    assert die_at > 6  # journal, backup, write, owner, two commands, done: each was a kill point


def test_sigterm_during_apply_lets_it_finish_then_ends_the_process(tmp_path):
    dropin, journal = _sandbox(tmp_path)
    proc = _child(dropin, journal, "30m", SLOW_RESTART="1")
    for line in proc.stdout:
        if line.startswith("restarting"):
            break
    proc.send_signal(signal.SIGTERM)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM and "applied" not in out  # ended by the signal …
    entries = json.loads(journal.read_text())
    assert [e["state"] for e in entries] == ["done"]  # … after the apply had finished
    assert "OLLAMA_KEEP_ALIVE=30m" in dropin.read_text()
    _undo_all(_applier(dropin, journal))
    assert dropin.read_bytes() == ORIGINAL


def test_a_journal_written_by_the_previous_version_is_undone(tmp_path):
    """The format before `state` existed (written by the code this replaced)."""
    dropin, journal = _sandbox(tmp_path, mode=0o600)
    backup = dropin.with_name("override.conf.bak-20250101-120000")
    backup.write_bytes(ORIGINAL)
    dropin.write_text("[Service]\nEnvironment=OLLAMA_KEEP_ALIVE=30m\n")
    import hashlib

    old = {
        "time": 1735732800.0,
        "target": str(dropin),
        "backup": str(backup),
        "existed": True,
        "mode": 0o600,
        "uid": os.getuid(),
        "gid": os.getgid(),
        "sha256": hashlib.sha256(dropin.read_bytes()).hexdigest(),
    }
    journal.write_text(json.dumps([old], indent=1))
    assert _applier(dropin, journal).undo() == f"restored {dropin} from {backup}"
    assert dropin.read_bytes() == ORIGINAL and stat.S_IMODE(dropin.stat().st_mode) == 0o600
    assert JournalEntry.from_json(old).state is EntryState.DONE


ENTRIES = st.builds(
    JournalEntry,
    target=st.sampled_from([Path("/etc/x/override.conf"), Path("/tmp/a b/é.plist")]),
    backup=st.none() | st.just(Path("/etc/x/override.conf.bak-1")),
    existed=st.booleans(),
    mode=st.none() | st.integers(0, 0o7777),
    uid=st.none() | st.integers(0, 2**31),
    gid=st.none() | st.integers(0, 2**31),
    sha256=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),
    time_s=st.floats(0, 4e9),
    state=st.sampled_from(list(EntryState)),
)


@settings(max_examples=80, deadline=None)
@given(entry=ENTRIES)
def test_journal_entries_survive_json(entry):
    assert JournalEntry.from_json(json.loads(json.dumps(entry.to_json()))) == entry


@settings(max_examples=150, deadline=None)
@given(data=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
))  # fmt: skip
def test_a_hand_edited_journal_is_one_clear_line(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("j") / "journal.json"
    path.write_text(json.dumps([data]))
    try:
        entries = journal_mod.read_entries(path)
    except ApplyError as exc:
        assert (
            "unreadable" in str(exc) and "nothing was changed" in str(exc) and "\n" not in str(exc)
        )
    else:
        assert len(entries) == 1


def test_the_lock_is_reentrant_in_one_applier_and_exclusive_between_two(tmp_path):
    journal = tmp_path / "j.json"
    a, b = JournalLock(journal), JournalLock(journal, wait_s=0.1)
    with a, a:
        with pytest.raises(Busy):
            b.__enter__()
    with b:
        pass
