"""The regression watch: a server upgrade since the last run of a suite, and the before/after."""

from __future__ import annotations

import dataclasses
import shutil

from tests.core.doctor.scenarios import cpu_machine
from tests.fakes import FIXTURES
from tests.ollama_fake import FakeOllama
from velollm_desktop.core.bench.model import ServerInfo
from velollm_desktop.core.bench.regression import (
    against_previous_version,
    diff,
    diff_text,
    version_changes,
)
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.doctor import diagnose


def _history(tmp_path) -> History:
    db = tmp_path / "h.sqlite3"
    shutil.copy(FIXTURES / "history" / "history-schema1.sqlite3", db)  # 0.32.0 then 0.33.0
    return History(db)


def test_an_upgrade_is_offered_once_per_suite_and_model(tmp_path):
    h = _history(tmp_path)
    try:
        entries = h.entries()
        url = "http://127.0.0.1:11434"
        assert version_changes(entries, "ollama", url, "0.33.0") == []  # last run was 0.33.0
        [offer] = version_changes(entries, "ollama", url, "0.34.1")
        assert (offer.before_id, offer.before_version, offer.suite) == (2, "0.33.0", "quick")
        assert "0.34.1 now, 0.33.0 at run #2" in offer.text
        assert version_changes(entries, "ollama", "http://other:11434", "0.34.1") == []
    finally:
        h.close()


def test_before_after_with_the_noise_rule(tmp_path):
    h = _history(tmp_path)
    try:
        before, after = h.load(1), h.load(2)  # 41.0 vs 44.5 tok/s, ±0.5
        d = diff(before, after)
        speed, energy, memory = d.metrics
        assert speed.verdict == "higher" and speed.low > 1.0
        assert energy.verdict == "n/a" and memory.verdict == "n/a"  # not measured then: n/a
        assert (d.before_version, d.after_version) == ("0.32.0", "0.33.0")
        same = diff(before, before).metrics[0]
        assert same.verdict == "within noise"
        text = "\n".join(diff_text(d))
        assert "0.32.0 → 0.33.0" in text and "energy: n/a" in text
        newer = dataclasses.replace(after, server=ServerInfo("ollama", before.server.url, "0.34.0"))
        assert against_previous_version(h, newer) is not None
        assert against_previous_version(h, after) is None  # same version as the last run
    finally:
        h.close()


def test_the_doctor_offers_the_rerun_after_an_ollama_upgrade(tmp_path):
    h = _history(tmp_path)
    try:
        with FakeOllama(version="0.34.0") as fake:
            url = fake.url
            for e in h.entries():  # the fixture's runs were against this server
                h._db.execute("UPDATE results SET server = ? WHERE id = ?", (url, e.id))
            h._db.commit()
            report = diagnose(url, hardware=cpu_machine(), history=h)
        assert [r.before_version for r in report.rerun] == ["0.33.0"]
    finally:
        h.close()


def test_a_benchmark_after_an_upgrade_carries_the_before_after(tmp_path):
    import threading

    from tests.ollama_fake import MODEL
    from velollm_desktop.core.kinds import BackendKind
    from velollm_desktop.workers.bench_jobs import BenchJob, run_job

    h = _history(tmp_path)
    try:
        with FakeOllama(version="0.34.0") as fake:
            h._db.execute("UPDATE results SET server = ?, model = ?", (fake.url, MODEL))
            h._db.commit()
            job = BenchJob(BackendKind.OLLAMA, fake.url, MODEL, "quick", 2)
            result = run_job(job, lambda e: None, threading.Event(), h).result
        assert result.server.version == "0.34.0"
        [note] = [n for n in result.notes if "version changed" in n]
        assert "0.33.0 → 0.34.0" in note and "decode speed:" in note and "energy: n/a" in note
        assert h.entries()[0].server_version == "0.34.0"
    finally:
        h.close()
