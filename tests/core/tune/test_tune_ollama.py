"""Tuning Ollama: per-request load options, and server settings with consent and restore.

Ollama cannot be installed here, so the server is tests/ollama_fake.py in runner mode: it
speaks Ollama's wire format and, like Ollama ≥ 0.30, starts a real llama-server (SmolLM2-135M)
with the flags derived from the load-time options and the service environment, reloading it
when they change. Server settings go through the optimizer's real Applier (drop-in file,
journal, undo); only `systemctl` is replaced, by a function that restarts the fake with the
environment the drop-in now holds — what systemd does to the real service.
"""

from __future__ import annotations

import subprocess
import threading

import pytest

from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.core.kinds import Objective
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.sources import parse_environment_lines
from velollm_desktop.core.tune.common import NOT_REACHED, STOPPED, TuneSettings
from velollm_desktop.core.tune.ollama import (
    OllamaCandidate,
    ServiceSettings,
    TuneCancelled,
    apply_ollama_winner,
    model_profile,
    ollama_candidates,
    remeasure_ollama,
    tune_ollama,
    undo_ollama_winner,
)

pytestmark = pytest.mark.slow

ORIGINAL_DROPIN = '[Service]\nEnvironment="OLLAMA_HOST=127.0.0.1:11434"\n'


@pytest.fixture(scope="module")
def hardware():
    return detect_hardware()


@pytest.fixture
def fake(smol_model):
    with FakeOllama(runner_model=smol_model, env={"OLLAMA_HOST": "127.0.0.1:11434"}) as f:
        yield f


@pytest.fixture
def service(fake, tmp_path):
    """ServiceSettings over the real Applier; systemctl restarts the fake from the drop-in."""
    dropin = tmp_path / "ollama.service.d" / "override.conf"
    dropin.parent.mkdir()
    dropin.write_text(ORIGINAL_DROPIN)
    calls: list[tuple[str, ...]] = []

    def systemctl(argv):
        calls.append(tuple(argv))
        if tuple(argv[-2:]) == ("restart", "ollama"):
            fake.restart_service(parse_environment_lines(dropin.read_text()))
        return subprocess.CompletedProcess(list(argv), 0, "", "")

    applier = Applier(
        runner=systemctl, journal=tmp_path / "journal.json", platform="linux", dropin=dropin
    )
    settings = ServiceSettings(fake.url, applier, wait_s=10)
    return settings, dropin, applier, calls


def test_per_request_options_reload_the_model_and_leave_the_service_alone(fake, hardware):
    cands = [
        OllamaCandidate("current settings"),
        OllamaCandidate("num_thread=1", {"num_thread": 1}),
        OllamaCandidate("num_thread=2", {"num_thread": 2}),
    ]
    r = tune_ollama(
        fake.url,
        MODEL,
        hardware,
        TuneSettings(Objective.DECODE, 1, budget_s=120, n_predict=24),
        candidates=cands,
    )
    assert r.backend == "ollama" and [m.candidate.name for m in r.candidates] == [
        c.name for c in cands
    ]
    # whatever the load: the baseline is measured; the others are measured or said not to be
    measured = [m for m in r.candidates if m.score is not None]
    assert measured[0] is r.baseline and all(m.score.mean > 0 for m in measured)
    assert all(m.pruned in (NOT_REACHED, STOPPED) for m in r.candidates if m.score is None)
    # each measured candidate's options made Ollama start a runner with other flags, timed apart
    assert [key[2] for key in fake.loads][: len(measured)] == [0, 1, 2][: len(measured)]
    assert all(m.load_ms and m.load_ms > 50 for m in measured)  # a real llama-server start
    assert fake.service_restarts == []
    if r.significant:
        assert r.winner.score.ci95_low > r.baseline.score.ci95_high and r.gain > 1
    else:
        assert r.winner is r.baseline and r.gain == 1.0


def test_server_settings_need_consent(fake, hardware):
    cands = [
        OllamaCandidate("current settings"),
        OllamaCandidate("4 slots", {}, {"OLLAMA_NUM_PARALLEL": "4"}),
    ]
    r = tune_ollama(
        fake.url,
        MODEL,
        hardware,
        TuneSettings(Objective.DECODE, 1, budget_s=8, n_predict=8),
        candidates=cands,
    )
    slots = next(m for m in r.candidates if m.candidate.name == "4 slots")
    assert slots.score is None and "not allowed" in slots.pruned
    assert fake.service_restarts == [] and all(key[3] == 1 for key in fake.loads)


def test_server_settings_tried_through_the_optimizer_and_restored(fake, service, hardware):
    settings, dropin, applier, calls = service
    cands = [
        OllamaCandidate("current settings"),
        OllamaCandidate("4 parallel slots", {}, {"OLLAMA_NUM_PARALLEL": "4"}),
    ]
    r = tune_ollama(
        fake.url,
        MODEL,
        hardware,
        TuneSettings(Objective.THROUGHPUT, 4, budget_s=150, n_predict=16),
        server=settings,
        candidates=cands,
    )
    one, four = r.candidates
    assert one.score  # the baseline is always measured
    if four.score:  # a loaded machine may spend the budget on the baseline (then said so)
        assert four.latency_p95_ms and four.load_ms
        # measured with the service restarted on 4 slots
        assert [key[3] for key in fake.loads] == [1, 4]
        assert fake.service_restarts[0] == {
            "OLLAMA_HOST": "127.0.0.1:11434",
            "OLLAMA_NUM_PARALLEL": "4",
        }
    else:
        assert four.pruned in (NOT_REACHED, STOPPED)
    # then the original file and env are back
    if fake.service_restarts:
        assert fake.service_restarts[-1] == {"OLLAMA_HOST": "127.0.0.1:11434"}
    assert dropin.read_text() == ORIGINAL_DROPIN
    assert not applier.can_undo()
    if four.pruned == NOT_REACHED:  # never tried: nothing was written or restarted
        assert calls == [] and fake.service_restarts == []
    else:  # tried (measured, or stopped by the budget in flight): through the real Applier
        assert ("systemctl", "daemon-reload") in calls


def test_cancel_during_a_server_candidate_restores_and_stops_everything(fake, service, hardware):
    settings, dropin, applier, _ = service
    cancel = threading.Event()

    def progress(event):
        if event.text.startswith("restarting Ollama"):
            cancel.set()

    cands = [
        OllamaCandidate("current settings"),
        OllamaCandidate("flash attention on", {}, {"OLLAMA_FLASH_ATTENTION": "1"}),
    ]
    with pytest.raises(TuneCancelled, match="original settings are back"):
        tune_ollama(
            fake.url,
            MODEL,
            hardware,
            TuneSettings(Objective.DECODE, 1, budget_s=150, n_predict=8),
            server=settings,
            candidates=cands,
            progress=progress,
            cancel=cancel,
        )
    assert dropin.read_text() == ORIGINAL_DROPIN and not applier.can_undo()
    assert fake.env == {"OLLAMA_HOST": "127.0.0.1:11434"}


def test_apply_creates_a_derived_model_remeasure_and_undo(fake, hardware):
    cands = [
        OllamaCandidate("current settings"),
        OllamaCandidate("num_thread=2", {"num_thread": 2}),
    ]
    r = tune_ollama(
        fake.url,
        MODEL,
        hardware,
        TuneSettings(Objective.DECODE, 1, budget_s=60, n_predict=16),
        candidates=cands,
    )
    # apply whichever measured second, so the test does not depend on which won
    forced = r.__class__(**{**r.__dict__, "winner": r.candidates[1]})
    name, server_env = apply_ollama_winner(forced, fake.url)
    assert name == "smollm2-velollm:135m" and server_env == {}
    assert fake.derived[name] == {"num_thread": 2}
    before, after = remeasure_ollama(forced, fake.url, name, budget_s=40, n_predict=16)
    assert before.score and after.score
    assert fake.loads[-1][2] == 2  # the derived model loads with its saved options
    undo_ollama_winner(fake.url, name)
    with OllamaClient(fake.url) as c:
        assert [m.name for m in c.installed_models()] == [MODEL]


def test_candidates_are_real_ollama_settings(fake, hardware):
    with OllamaClient(fake.url) as c:
        profile = model_profile(c, MODEL)
    without = ollama_candidates(hardware, profile, "throughput", 4)
    assert all(not c.server_env for c in without)
    with_consent = ollama_candidates(
        hardware, profile, "throughput", 4, ctx=8192, server_changes=True
    )
    names = {k for c in with_consent for k in c.server_env}
    assert names <= {"OLLAMA_FLASH_ATTENTION", "OLLAMA_KV_CACHE_TYPE", "OLLAMA_NUM_PARALLEL"}
    assert any(c.server_env.get("OLLAMA_NUM_PARALLEL") == "4" for c in with_consent)
    assert all(c.options.get("num_ctx", 0) >= 8192 for c in with_consent)  # the required context
    assert all(
        set(c.options) <= {"num_ctx", "num_batch", "num_thread", "num_gpu"} for c in with_consent
    )
