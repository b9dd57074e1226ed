"""The "tokens per joule" objective and each candidate's energy, against a real llama-server
(the GPU's counter replayed from the recorded H100); refused with the reason where no energy
can be read (this CPU box)."""

from __future__ import annotations

import pytest

from tests.core.energy.test_energy import CountingNvml
from tests.fakes import FakePynvml
from velollm_desktop.core.energy import EnergyMeter, discover
from velollm_desktop.core.energy.sources import NvmlEnergy
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.core.hardware.nvidia import Nvml
from velollm_desktop.core.kinds import Objective
from velollm_desktop.core.tune.common import TuneSettings
from velollm_desktop.core.tune.llamacpp import Candidate, tune
from velollm_desktop.core.tune.ollama import tune_ollama


def test_efficiency_without_an_energy_source_is_refused_with_the_reason(smol_model, tmp_path):
    none_here = EnergyMeter.here(discover(tmp_path, Nvml(FakePynvml(init_error=RuntimeError("x")))))
    with pytest.raises(
        ValueError, match="tokens-per-joule objective needs an energy reading.*powercap"
    ):
        tune(smol_model, detect_hardware(), TuneSettings(Objective.EFFICIENCY, 1), energy=none_here)
    with pytest.raises(ValueError, match="energy reading"):
        tune_ollama(
            "http://127.0.0.1:9",
            "m",
            detect_hardware(),
            TuneSettings(Objective.EFFICIENCY, 1),
            energy=none_here,
        )
    assert Objective("efficiency") is Objective.EFFICIENCY


def test_efficiency_scores_tokens_per_joule_and_every_candidate_has_its_energy(smol_model):
    meter = EnergyMeter([NvmlEnergy(0, Nvml(CountingNvml()))], interval_s=0.05)
    r = tune(
        smol_model,
        detect_hardware(),
        TuneSettings(Objective.EFFICIENCY, 1, budget_s=12, n_predict=16),
        candidates=[Candidate("default")],
        energy=meter,
    )
    base = r.baseline
    assert base.energy is not None and base.energy.method == "counter"
    assert base.energy.generated_tokens and base.energy.j_per_generated_token
    # each round: tokens / joules of that request, with the replayed 72.12 W
    for rate in base.samples:
        assert 0 < rate < 1000
    assert base.score is not None and base.score.mean == pytest.approx(
        sum(base.samples) / len(base.samples)
    )
