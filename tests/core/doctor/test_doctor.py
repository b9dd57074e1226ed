"""The doctor against the stand-in Ollama (partial and full CPU placement, a second model
holding VRAM, no GPU used) and the recorded / real llama-server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.doctor.scenarios import GIB, SHOW_8B, cpu_machine, gpu_machine, install, ps
from tests.fakes import FIXTURES
from tests.ollama_fake import FakeOllama
from velollm_desktop.core.doctor import FindingKind, FixKind, OllamaSettings, SpillWatch, diagnose
from velollm_desktop.core.doctor.llamaserver import (
    LlamaServerView,
    diagnose_llama_server,
    parse_metrics,
    view_from,
)
from velollm_desktop.core.doctor.watch import alert_text
from velollm_desktop.core.ollama.models import LoadedModel
from velollm_desktop.core.optimize.fit import FIT_MARGIN, Budget, footprint, use_projector
from velollm_desktop.core.optimize.models import profile_from_show

F16 = OllamaSettings()


@pytest.fixture(autouse=True)
def _formula_only():
    previous = use_projector(None)  # the formula: no llama-fit-params run per test
    yield
    use_projector(previous)


@pytest.fixture
def fake():
    with FakeOllama() as f:
        install(f)
        yield f


def test_a_second_model_holding_vram_names_it_and_offers_unload_or_a_smaller_context(fake):
    fake.ps_models = [
        ps("llama3.1:8b", 9.0 * GIB, 5.0 * GIB, 32768),
        ps("llama3.2:1b", 2.5 * GIB, 2.5 * GIB, 4096, "sha256:bb"),
    ]
    hw = gpu_machine(12 * 1024, used_mib=int(8.1 * 1024))
    report = diagnose(fake.url, hardware=hw, ollama_settings=F16)
    f = next(x for x in report.findings if x.model == "llama3.1:8b")
    assert f.kind is FindingKind.VRAM_HELD and f.problem
    assert "llama3.2:1b holds 2.5 GiB" in f.cause and "at 32k × 1 slot" in f.cause
    need, free = f.number("needed_bytes"), f.number("free_bytes")
    p = profile_from_show("llama3.1:8b", SHOW_8B, SHOW_8B["size"])
    expect = footprint(p, 32768, 1, "f16", True, Budget(int(free), "gpu")).total
    assert need == expect and free < need <= free + 2.5 * GIB
    kinds = {x.kind: x for x in f.fixes}
    assert kinds[FixKind.UNLOAD].model == "llama3.2:1b"
    ctx = dict(kinds[FixKind.DERIVED_MODEL].options)["num_ctx"]
    assert ctx < 32768
    assert footprint(p, ctx, 1, "f16", True, Budget(int(free), "gpu")).total <= free
    assert not [x for x in report.findings if x.model == "llama3.2:1b"]
    assert report.spilling("llama3.1:8b") is False  # VRAM_HELD is its own kind
    assert report.problems


def test_wholly_on_cpu_when_it_cannot_fit(fake):
    fake.ps_models = [ps("llama3.1:8b", 20 * GIB, 0, 131072)]
    report = diagnose(fake.url, hardware=gpu_machine(8 * 1024, used_mib=300), ollama_settings=F16)
    f = report.findings[0]
    assert f.kind is FindingKind.ON_CPU and "wholly in system RAM" in f.cause
    assert report.spilling("llama3.1:8b")
    derived = [x for x in f.fixes if x.kind is FixKind.DERIVED_MODEL]
    assert derived and dict(derived[0].options)["num_ctx"] < 131072


def test_partly_on_cpu_with_q8_kv_as_a_server_setting_fix(fake):
    fake.ps_models = [ps("llama3.1:8b", 11 * GIB, 7 * GIB, 40960)]
    report = diagnose(fake.url, hardware=gpu_machine(10 * 1024, used_mib=7600), ollama_settings=F16)
    f = next(
        x
        for x in report.findings
        if x.model == "llama3.1:8b" and x.kind is FindingKind.PARTLY_ON_CPU
    )
    assert "% CPU /" in f.cause and f.number("gpu_fraction") == pytest.approx(7 / 11)
    server = [x for x in f.fixes if x.kind is FixKind.SERVER_SETTINGS]
    assert server and ("OLLAMA_KV_CACHE_TYPE", "q8_0") in server[0].settings
    assert any(x.kind is FindingKind.CONTEXT_TOO_BIG for x in report.findings)


def test_no_gpu_used_although_one_is_present_and_has_room(fake):
    fake.ps_models = [ps("llama3.2:1b", 1.9 * GIB, 0, 4096)]
    report = diagnose(fake.url, hardware=gpu_machine(24 * 1024, used_mib=0), ollama_settings=F16)
    f = report.findings[0]
    assert f.kind is FindingKind.NO_GPU_USED
    assert "did not find a usable GPU" in f.cause


def test_on_gpu_is_healthy_and_cpu_only_machines_expect_cpu(fake):
    fake.ps_models = [ps("llama3.2:1b", 1.9 * GIB, 1.9 * GIB, 4096)]
    assert (
        diagnose(fake.url, hardware=gpu_machine(24 * 1024, 2500), ollama_settings=F16).problems
        == ()
    )
    fake.ps_models = [ps("llama3.2:1b", 1.9 * GIB, 0, 4096)]
    report = diagnose(fake.url, hardware=cpu_machine(), ollama_settings=F16)
    assert report.findings == () and "1 model(s) loaded" in report.checked[0]


def test_flash_attention_off_is_advice_not_a_problem(fake):
    fake.ps_models = [ps("llama3.2:1b", 1.9 * GIB, 1.9 * GIB, 4096)]
    s = OllamaSettings(flash_attention=False)
    report = diagnose(fake.url, hardware=gpu_machine(24 * 1024, 2500), ollama_settings=s)
    assert [f.kind for f in report.findings] == [FindingKind.FLASH_ATTENTION_OFF]
    assert report.problems == ()


def test_unreachable_ollama_is_a_note():
    report = diagnose("http://127.0.0.1:9", hardware=cpu_machine())
    assert report.findings == () and report.unreachable and "not running" in report.unreachable[0]


def _lm(name, size, vram, digest="d"):
    return LoadedModel(name, int(size), int(vram), 4096, None, digest)


def test_spill_alert_once_per_load_never_a_flood():
    w = SpillWatch()
    spilled = _lm("a", 10, 4)
    assert [m.name for m in w.update([spilled, _lm("b", 10, 10)])] == ["a"]
    assert w.update([spilled]) == []  # same load, every later poll
    assert w.update([]) == []  # unloaded
    assert [m.name for m in w.update([spilled])] == ["a"]  # loaded again: a new load
    assert [m.name for m in w.update([_lm("a", 10, 4, digest="new")])] == ["a"]  # re-pulled
    many = [_lm(f"m{i}", 10, 0) for i in range(10)]
    text = alert_text(SpillWatch().update(many))
    assert text.count("on CPU") == 3 and "and 7 more" in text


RECORDED = json.loads((FIXTURES / "llamacpp" / "h200-partial-ngl.json").read_text())
WEIGHTS_8B = 4_916_138_752  # the file tests/gguf_shapes.py wrote on the H200


@pytest.mark.parametrize(
    ("ngl", "kind"), [("ngl_8", FindingKind.PARTLY_ON_CPU), ("ngl_0", FindingKind.NO_GPU_USED)]
)
def test_recorded_h200_llama_server_with_partial_ngl(tmp_path, ngl, kind):
    rec = RECORDED[ngl]
    model = tmp_path / "llama31-8b.gguf"
    with model.open("wb") as fh:
        fh.truncate(WEIGHTS_8B)
    props = {**rec["props"], "model_path": str(model)}
    view = view_from("http://127.0.0.1:8080", props, rec["metrics"])
    assert view.slots == 2 and view.ctx_per_slot == 2048
    assert view.decode_tokens_per_s == pytest.approx(rec["decode_tokens_per_s"], rel=0.05)
    used = int(rec["nvidia_smi_memory_used_total_mib"].split(",")[0])
    found = diagnose_llama_server(view, gpu_machine(143771, used, "NVIDIA H200"))
    assert [f.kind for f in found] == [kind]
    assert f"{used} MiB" in found[0].cause and found[0].fixes[0].kind is FixKind.RESTART_SERVER


def test_real_llama_server_on_cpu_with_a_gpu_profile_says_no_gpu_used(llama_server):
    report = diagnose(None, [llama_server.url], hardware=gpu_machine(24 * 1024, used_mib=0))
    assert [f.kind for f in report.findings] == [FindingKind.NO_GPU_USED]
    assert Path(llama_server.model).name in report.findings[0].cause
    assert diagnose(None, [llama_server.url], hardware=cpu_machine()).findings == ()


def test_a_remote_llama_server_is_not_judged_by_this_gpu():
    view = LlamaServerView("http://10.0.0.5:8080", __file__, 1, 2048, None)
    assert diagnose_llama_server(view, gpu_machine(24 * 1024, 0)) == []


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_metrics_parser_takes_any_text(text):
    for k, v in parse_metrics("llamacpp:" + text).items():
        assert v >= 0 and len(k) <= 80


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=15,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["model_path", "total_slots", "default_generation_settings", "x"]), JSONISH
    )
)
def test_props_of_any_shape_give_a_view(props):
    v = view_from("http://127.0.0.1:1", props, None)
    assert v.slots is None or v.slots >= 0
    assert diagnose_llama_server(v, cpu_machine()) == []


def test_margin_is_kept_free():
    assert FIT_MARGIN == 1024**3


SIZES = st.integers(min_value=0, max_value=2**42)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(SIZES, SIZES, st.one_of(st.none(), st.integers(0, 2**20))), max_size=3),
    st.integers(min_value=0, max_value=200_000),
    st.dictionaries(
        st.sampled_from(["OLLAMA_NUM_PARALLEL", "OLLAMA_KV_CACHE_TYPE", "OLLAMA_FLASH_ATTENTION"]),
        st.one_of(st.integers(-5, 64), st.text(max_size=6), st.booleans(), st.none()),
    ),
)
def test_any_placement_numbers_give_findings_not_tracebacks(models, used_mib, values):
    """Whatever /api/ps and the settings say (sizes, zero, vram > size), a report comes back."""
    from velollm_desktop.core.doctor import diagnose_ollama

    loaded = [
        LoadedModel("llama3.1:8b" if i == 0 else f"m{i}", size, vram, ctx, None, "d")
        for i, (size, vram, ctx) in enumerate(models)
    ]
    p = profile_from_show("llama3.1:8b", SHOW_8B, SHOW_8B["size"])
    hw = gpu_machine(24 * 1024, min(used_mib, 24 * 1024))
    found = diagnose_ollama(
        "http://x", loaded, {"llama3.1:8b": p}, hw, OllamaSettings.from_values(values)
    )
    for f in found:
        assert f.cause and f.model in {m.name for m in loaded}
        assert all(x.text for x in f.fixes)


def test_llama_server_context_times_slots_that_cannot_fit_on_this_gpu(tmp_path):
    """The 8B shape's real metadata (sparse file): 128k × 4 slots needs far more than 24 GiB."""
    from tests.gguf_shapes import SHAPES, write_shape

    model = write_shape(SHAPES["llama31-8b"], tmp_path / "llama31-8b.gguf").path
    props = {
        "model_path": str(model),
        "total_slots": 4,
        "default_generation_settings": {"n_ctx": 131072},
    }
    view = view_from("http://127.0.0.1:8080", props, None)
    hw = gpu_machine(24 * 1024, used_mib=23 * 1024)  # weights on the GPU: no offload finding
    [f] = diagnose_llama_server(view, hw)
    assert f.kind is FindingKind.CONTEXT_TOO_BIG and "128k × 4 slots" in f.cause
    fits = int(f.number("fits_ctx"))
    assert 0 < fits <= 131072 and f"-c {fits} -np 1" in f.fixes[0].text  # one slot fits
    small = view_from(
        "http://127.0.0.1:8080",
        {**props, "total_slots": 1, "default_generation_settings": {"n_ctx": 8192}},
        None,
    )
    assert diagnose_llama_server(small, hw) == []
