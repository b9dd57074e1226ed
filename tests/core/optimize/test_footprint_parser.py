"""llama-fit-params' memory breakdown parser (outside input) and the bounded child process."""

from __future__ import annotations

import stat
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velollm_desktop.core.llamacpp.binaries import LlamaBinary
from velollm_desktop.core.optimize import fit
from velollm_desktop.core.optimize.footprint import (
    METHOD_FORMULA,
    MIB,
    FitSettings,
    formula_estimate,
    shape_from_metadata,
)
from velollm_desktop.core.optimize.footprint_llamacpp import (
    MAX_MIB,
    FitParamsError,
    Projector,
    estimate_from_rows,
    parse_breakdown,
)
from velollm_desktop.core.optimize.models import ModelProfile

HEADER = (
    "llama_memory_breakdown_print: | memory breakdown [MiB] | total   free     self   model"
    "   context   compute    unaccounted |\n"
)
CUDA = (
    "llama_memory_breakdown_print: |   - CUDA0 (RTX 4090)   | 24077 =  945 + (19187 = 17904 +"
    "     384 +     898) +        3945 |\n"
)
HOST = (
    "llama_memory_breakdown_print: |   - Host               |                 58271 = 58259 +"
    "       0 +      12                |\n"
)


def test_parses_llamacpp_readme_example():
    rows = parse_breakdown("noise\n" + HEADER + CUDA + HOST + "after\n")
    assert [r.name for r in rows] == ["CUDA0 (RTX 4090)", "Host"]
    cuda, host = rows
    assert (cuda.model_mib, cuda.context_mib, cuda.compute_mib, cuda.accelerator) == (
        17904,
        384,
        898,
        True,
    )
    assert host.accelerator is False and host.self_mib == 58271
    gpu = estimate_from_rows(rows, "gpu")
    assert (gpu.weights_bytes, gpu.kv_bytes, gpu.compute_bytes) == (
        17904 * MIB,
        384 * MIB,
        898 * MIB,
    )
    assert estimate_from_rows(rows, "cpu").weights_bytes == (17904 + 58259) * MIB


def test_only_the_first_table_counts():
    later = CUDA.replace("17904", "9000").replace("19187", "10283")
    rows = parse_breakdown(HEADER + CUDA + "fit: trying less\n" + HEADER + later)
    assert rows[0].model_mib == 17904 and len(rows) == 1


def test_cpu_only_projection_sums_host_and_repacked_buffers():
    text = (
        HEADER
        + HOST.replace("58271 = 58259", "1493 = 1481")
        + ("x: |   - CPU_REPACK         |                 3204 =  3204 +       0 +       0     |\n")
    )
    est = estimate_from_rows(parse_breakdown(text), "gpu")  # no accelerator row: everything
    assert est.weights_bytes == (1481 + 3204) * MIB


@pytest.mark.parametrize(
    "text",
    [
        "",
        "error: failed to load model\n",
        HEADER,  # a header and no rows
        HEADER + CUDA.replace("19187", "99999"),  # self ≠ model + context + compute
        HEADER + f"|   - Host   |   {MAX_MIB * 2} = {MAX_MIB * 2} +  0 +  0 |\n",  # impossible
    ],
)
def test_garbage_is_a_clear_error(text):
    with pytest.raises(FitParamsError):
        parse_breakdown(text)


@settings(max_examples=300, deadline=1000)
@given(st.text(max_size=3000))
def test_any_text_parses_or_fails_cleanly(text):
    try:
        rows = parse_breakdown(HEADER + text)
    except FitParamsError:
        return
    assert all(0 <= r.self_mib <= 3 * MAX_MIB for r in rows)


row_values = st.tuples(*(st.integers(0, MAX_MIB) for _ in range(3)), st.booleans())


@settings(max_examples=200, deadline=1000)
@given(st.lists(row_values, min_size=1, max_size=6))
def test_well_formed_rows_round_trip(values):
    lines = []
    for i, (model, context, compute, accel) in enumerate(values):
        used = model + context + compute
        cells = (
            f"{used + 5} = 5 + ({used} = {model} + {context} + {compute}) + 0"
            if accel
            else (f"{used} = {model} + {context} + {compute}")
        )
        lines.append(f"p: |   - Dev{i} (x)   | {cells} |\n")
    rows = parse_breakdown(HEADER + "".join(lines))
    assert [(r.model_mib, r.context_mib, r.compute_mib, r.accelerator) for r in rows] == values


def test_huge_output_is_bounded_in_time():
    junk = ("|   - x | " + "9" * 5000 + " |\n") * 2000 + "y" * 5_000_000
    t0 = time.perf_counter()
    with pytest.raises(FitParamsError):
        parse_breakdown(HEADER + junk)
    assert time.perf_counter() - t0 < 5


def _script(tmp_path, body: str) -> LlamaBinary:
    p = tmp_path / "llama-fit-params"
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return LlamaBinary(p, "test")


def test_a_hanging_llama_fit_params_is_killed_and_the_formula_answers(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    slow = Projector(_script(tmp_path, "exec sleep 30"), timeout_s=0.5)
    slow._version = "test"  # noqa: SLF001 - skip --version of the fake
    t0 = time.perf_counter()
    with pytest.raises(FitParamsError, match="longer than"):
        slow.estimate(model, FitSettings(4096))
    assert time.perf_counter() - t0 < 10  # and no_orphans checks the child is gone
    profile = ModelProfile("m", 4, 2, 256, 4, (2, 2), 64, 64, 4096, 2048, model_path=model)
    previous = fit.use_projector(slow)
    try:
        est = fit.estimate(profile, FitSettings(4096))
    finally:
        fit.use_projector(previous)
    assert est.method == METHOD_FORMULA and "longer than" in est.detail


def test_the_settings_reach_llama_fit_params(tmp_path):
    log = tmp_path / "argv"
    fake = _script(tmp_path, f'echo "$@" > {log}\nprintf "%s" "{HEADER}{HOST}"')
    p = Projector(fake)
    p._version = "test"  # noqa: SLF001
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    est = p.estimate(model, FitSettings(8192, 4, "q8_0", False, device="gpu"))
    argv = log.read_text().split()
    assert argv[argv.index("-c") + 1] == "32768" and argv[argv.index("-np") + 1] == "4"
    assert argv[argv.index("-fa") + 1] == "off" and argv[argv.index("-ctk") + 1] == "q8_0"
    assert argv[argv.index("-ngl") + 1] == "999" and "-v" in argv
    assert est.weights_bytes == 58259 * MIB


meta_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.one_of(st.integers(-(2**40), 2**40), st.booleans(), st.floats()), max_size=70),
)
META_KEYS = [
    "block_count",
    "embedding_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
    "vocab_size",
    "feed_forward_length",
    "expert_used_count",
    "expert_feed_forward_length",
    "attention.sliding_window",
    "attention.sliding_window_pattern",
    "attention.key_length_swa",
]


@settings(max_examples=300, deadline=2000)
@given(
    st.sampled_from(["llama", "gemma3", "gpt-oss", "llama4", "cohere2moe", "qwen3moe"]),
    st.dictionaries(st.sampled_from(META_KEYS), meta_values, max_size=len(META_KEYS)),
    st.integers(-(2**60), 2**60),
    st.one_of(
        st.none(),
        st.lists(
            st.dictionaries(
                st.sampled_from(["name", "type", "shape"]),
                st.one_of(
                    st.just("token_embd.weight"), st.just("Q4_K"), st.lists(st.integers(-5, 2**40))
                ),
            ),
            max_size=3,
        ),
    ),
)
def test_any_metadata_gives_a_shape_or_a_clear_error(arch, values, size, tensors):
    meta = {"general.architecture": arch, **{f"{arch}.{k}": v for k, v in values.items()}}
    try:
        shape = shape_from_metadata(meta, size, tensors)
    except ValueError:
        return
    for st_ in (FitSettings(4096), FitSettings(32768, 4, "q8_0", False, device="cpu")):
        est = formula_estimate(shape, st_)
        assert est.weights_bytes >= 0 and est.kv_bytes >= 0 and est.compute_bytes >= 0
