"""Energy in benchmark results: the runner's windows, the history migration, CSV / JSON."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import threading

import pytest

from tests.core.energy.test_energy import H100_W, CountingNvml
from tests.fakes import FIXTURES
from velollm_desktop.core.bench.model import RunMeasurement, ServerInfo
from velollm_desktop.core.bench.runner import run_benchmark
from velollm_desktop.core.bench.store import History, from_json, to_csv, to_json
from velollm_desktop.core.bench.suites import BenchTest
from velollm_desktop.core.energy import EnergyMeter
from velollm_desktop.core.energy.sources import NvmlEnergy
from velollm_desktop.core.hardware.nvidia import Nvml


class SleepyBackend:
    """A backend whose generations take 0.15 s: 20 tokens, first after 0.05 s."""

    kind = "llamacpp"
    options: dict = {}

    def info(self):
        return ServerInfo("llamacpp", "http://127.0.0.1:1", "b11434")

    def model_name(self):
        return "smol"

    def model_digest(self):
        return None

    def measure(self, prompt, max_tokens, cancel):
        threading.Event().wait(0.15)
        return RunMeasurement(50.0, 200.0, 200.0, 400.0, 20, 20, None, 150.0)

    def close(self):
        pass


def _result(meter):
    return run_benchmark(SleepyBackend(), [BenchTest("t", "p", 20, 3)], energy=meter, warmup=False)


def test_each_test_carries_its_energy_per_token():
    meter = EnergyMeter([NvmlEnergy(0, Nvml(CountingNvml()))], interval_s=0.01)
    e = _result(meter).results[0].energy
    assert e.method == "counter" and e.generated_tokens == 60 and e.prompt_tokens == 60
    assert e.idle_w == pytest.approx(H100_W, rel=0.02)
    assert e.j_per_generated_token == pytest.approx(e.energy_j / 60)
    assert e.generated_tokens_per_wh == pytest.approx(60 / (e.energy_j / 3600))
    # prefill: 3 × 50 ms at 72 W, separated from the power series
    assert e.j_per_prompt_token == pytest.approx(H100_W * 0.05 / 20, rel=0.5)


def test_this_machine_without_sources_records_na_with_the_reason(tmp_path):
    from tests.fakes import FakePynvml
    from velollm_desktop.core.energy import discover

    meter = EnergyMeter.here(discover(tmp_path, Nvml(FakePynvml(init_error=RuntimeError("no")))))
    e = _result(meter).results[0].energy
    assert e.method == "n/a" and e.j_per_generated_token is None and "powercap" in e.na_reason


def test_json_and_csv_carry_the_energy():
    meter = EnergyMeter([NvmlEnergy(0, Nvml(CountingNvml()))], interval_s=0.01)
    result = _result(meter)
    back = from_json(to_json(result))
    assert back.results[0].energy == result.results[0].energy
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert rows[0]["energy_method"] == "counter"
    assert float(rows[0]["j_per_generated_token"]) == pytest.approx(
        result.results[0].energy.j_per_generated_token
    )


def test_history_written_by_the_previous_schema_keeps_its_rows(tmp_path):
    db = tmp_path / "history.sqlite3"
    shutil.copy(FIXTURES / "history" / "history-schema1.sqlite3", db)  # written by c71e5fa
    h = History(db)
    try:
        entries = h.entries()
        assert [e.id for e in entries] == [2, 1] and h.problem is None
        assert [e.server_version for e in entries] == ["0.33.0", "0.32.0"]
        assert all(e.j_per_token is None for e in entries)
        assert h.load(1).results[0].energy is None  # old rows: energy n/a, nothing invented
        meter = EnergyMeter([NvmlEnergy(0, Nvml(CountingNvml()))], interval_s=0.01)
        new_id = h.add(_result(meter))
        new = h.entries()[0]
        assert new.id == new_id and new.j_per_token is not None and "J/token" in new.label
    finally:
        h.close()
    cols = {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(results)")}
    assert {"j_per_token", "server_version", "body"} <= cols


def test_every_speculative_comparison_mode_records_its_energy(smol_model):
    from velollm_desktop.core.speculative.compare import SpecMode, ngram_mode, run_compare

    meter = EnergyMeter([NvmlEnergy(0, Nvml(CountingNvml()))], interval_s=0.05)
    result = run_compare(
        smol_model,
        [SpecMode("vanilla"), ngram_mode("ngram-simple")],
        runs=1,
        n_predict=12,
        threads=2,
        prompts=(("short", "Say hello."),),
        energy=meter,
    )
    for mode in result.modes:
        e = mode.energy
        assert e is not None and e.method == "counter"
        assert e.generated_tokens == sum(r.eval_count or 0 for r in mode.runs)
        assert e.j_per_generated_token == pytest.approx(e.energy_j / e.generated_tokens)
