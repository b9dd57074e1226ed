"""A journal written by the applier before it became typed steps and per-OS targets is undone.

The fixture (tests/fixtures/optimize/journal_main/, made by make_journal_fixture.py on main
9ef3ca8) holds what that code left on disk: three applies to one drop-in (two finished, the third
killed during `systemctl restart`, its entry still an intent) with their backups, and an apply
that created a drop-in. Only the sandbox's path in the journal is replaced by this test's.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

from tests.conftest import ROOT
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.journal import EntryState, EnvValue, read_entries

FIXTURE = ROOT / "tests" / "fixtures" / "optimize" / "journal_main"
WRITTEN_IN = "/tmp/velollm-journal-fixture"
ORIGINAL = b'[Service]\nEnvironment="A=1" "OLLAMA_KEEP_ALIVE=5m"\n# mine \xc3\xa9\n'


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, "", "")


def _sandbox(tmp_path: Path, name: str) -> tuple[Applier, Path, Recorder]:
    shutil.copytree(FIXTURE / name, tmp_path / name)
    journal = tmp_path / name / "journal.json"
    journal.write_text(journal.read_text().replace(WRITTEN_IN, str(tmp_path)))
    dropin = tmp_path / name / "ollama.service.d" / "override.conf"
    for f in dropin.parent.iterdir():
        f.chmod(0o640)  # what the journal records (git keeps no mode)
    rec = Recorder()
    return Applier(runner=rec, journal=journal, platform="linux", dropin=dropin), dropin, rec


def test_the_fixture_journal_reads_as_typed_entries(tmp_path):
    applier, dropin, _ = _sandbox(tmp_path, "existing")
    entries = read_entries(applier.journal)
    assert [e.state for e in entries] == [EntryState.DONE, EntryState.DONE, EntryState.INTENT]
    assert {e.target for e in entries} == {dropin} and all(e.mode == 0o640 for e in entries)
    assert all(e.backup is not None and e.backup.is_file() for e in entries)


def test_three_applies_written_by_the_previous_applier_are_undone_to_the_original(tmp_path):
    applier, dropin, rec = _sandbox(tmp_path, "existing")
    backups = [e.backup for e in read_entries(applier.journal)]
    before_third = backups[2].read_bytes() if backups[2] else b""
    said = [applier.undo()]
    assert dropin.read_bytes() == before_third  # the intent had written: undone like a done one
    while applier.can_undo():
        said.append(applier.undo())
    assert said == [f"restored {dropin} from {b}" for b in reversed(backups)]
    assert dropin.read_bytes() == ORIGINAL and stat.S_IMODE(dropin.stat().st_mode) == 0o640
    assert rec.calls.count(["systemctl", "restart", "ollama"]) == 3
    assert read_entries(applier.journal) == []


def test_a_drop_in_the_previous_applier_created_is_removed_by_undo(tmp_path):
    applier, dropin, _ = _sandbox(tmp_path, "created")
    assert applier.undo() == f"removed {dropin} (it did not exist before)"
    assert not dropin.exists() and not applier.can_undo()


def test_an_entry_with_recorded_environment_keeps_every_key_of_the_earlier_format(tmp_path):
    """Readable both ways: the earlier reader takes the keys it knows and ignores `env`."""
    applier, _, _ = _sandbox(tmp_path, "existing")
    earlier = json.loads(applier.journal.read_text())[0]
    entry = replace(
        read_entries(applier.journal)[0], env=(EnvValue("OLLAMA_KEEP_ALIVE", None, "1h"),)
    )
    written = entry.to_json()
    assert {k: written[k] for k in earlier} == earlier
    assert set(written) - set(earlier) == {"env"}
    assert "env" not in read_entries(applier.journal)[0].to_json()  # no record: no key
