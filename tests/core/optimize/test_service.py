"""How Ollama runs: detected from a sandboxed root and a fake process list; the apply preview."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.models import load_model_file
from velollm_desktop.core.optimize.preview import build_preview, current_text
from velollm_desktop.core.optimize.service import (
    ProcInfo,
    Runtime,
    detect_runtime,
    dropin_path,
    is_local_url,
)
from velollm_desktop.core.optimize.sources import read_current

URL = "http://127.0.0.1:11434"
SERVE = ProcInfo(10, "ollama", ("/usr/bin/ollama", "serve"), "bash")


def _unit(root: Path) -> None:
    d = root / "usr/lib/systemd/system"
    d.mkdir(parents=True)
    (d / "ollama.service").write_text("[Service]\nExecStart=/usr/bin/ollama serve\n")


def _detect(root, procs=(), platform="linux", which=None, url=URL):
    return detect_runtime(
        url, root=root, platform=platform, processes=lambda: list(procs), which=lambda _n: which
    )


def test_systemd_unit_wins_and_names_the_dropin(tmp_path):
    _unit(tmp_path)
    info = _detect(tmp_path, [SERVE])
    assert info.runtime is Runtime.SYSTEMD and info.can_apply and info.server_pid == 10
    assert str(dropin_path(tmp_path)) in info.explanation


@pytest.mark.parametrize(
    ("procs", "which", "runtime"),
    [
        ([SERVE], None, Runtime.MANUAL),
        ([], "/usr/local/bin/ollama", Runtime.MANUAL),
        ([], None, Runtime.NOT_INSTALLED),
    ],
)
def test_without_a_unit_nothing_is_applied(tmp_path, procs, which, runtime):
    info = _detect(tmp_path, procs, which=which)
    assert info.runtime is runtime and not info.can_apply and info.explanation


def test_desktop_app_on_macos(tmp_path):
    app = ProcInfo(5, "ollama app", ("/Applications/Ollama.app/Contents/MacOS/Ollama",))
    server = ProcInfo(6, "ollama", ("ollama", "serve"), "ollama app")
    info = _detect(tmp_path, [app, server], platform="darwin")
    assert info.runtime is Runtime.DESKTOP_APP and info.can_apply and "reopened" in info.explanation
    (tmp_path / "Applications/Ollama.app").mkdir(parents=True)
    assert _detect(tmp_path, [], platform="darwin").runtime is Runtime.DESKTOP_APP


def test_remote_url_is_never_applied_here(tmp_path):
    _unit(tmp_path)
    info = _detect(tmp_path, [SERVE], url="http://gpu-box.invalid:11434")
    assert info.runtime is Runtime.REMOTE and not info.can_apply


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:11434", "localhost:11434", "http://[::1]:1", "http://0.0.0.0:1"]
)
def test_local_urls(url):
    assert is_local_url(url)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_url_text_gets_an_answer_quickly(text):
    start = time.monotonic()
    try:
        result = is_local_url(text)
    except ValueError:  # urlsplit's own error for malformed IPv6 brackets: a clear message
        return
    assert isinstance(result, bool) and time.monotonic() - start < 1.0


def test_preview_lists_current_to_new_file_commands_and_consequence(tmp_path):
    _unit(tmp_path)
    dropin = dropin_path(tmp_path)
    dropin.parent.mkdir(parents=True)
    dropin.write_text('[Service]\nEnvironment="OLLAMA_KEEP_ALIVE=10m"\n')
    current = read_current(
        environ={},
        systemd_dirs=(tmp_path / "usr/lib/systemd/system", dropin.parent.parent),
        server_environ={},
        platform="linux",
    )
    env = {"OLLAMA_KEEP_ALIVE": "30m", "OLLAMA_FLASH_ATTENTION": "1"}
    plan = Applier(platform="linux", dropin=dropin, journal=tmp_path / "j.json").plan(env)
    preview = build_preview(plan, env, current)
    text = preview.text()
    assert "OLLAMA_KEEP_ALIVE: 10m → 30m" in text
    assert "OLLAMA_FLASH_ATTENTION: auto (default) → 1" in text
    assert f"File written: {dropin}" in text
    assert "systemctl daemon-reload" in text and "systemctl restart ollama" in text
    assert "unloads every loaded model" in text and "interrupts generations" in text
    assert preview.accept_label == "Apply and restart Ollama" and preview.restarts
    assert (
        current_text(
            "OLLAMA_KEEP_ALIVE",
            read_current(environ={}, systemd_dirs=(), server_environ={}, platform="linux"),
        )
        == "5m (default)"
    )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=30), inner, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(lambda d: json.dumps(d).encode(), _json),
        st.builds(
            lambda info: json.dumps({"model_info": info}).encode(),
            st.dictionaries(
                st.sampled_from(
                    [
                        "general.architecture",
                        "llama.block_count",
                        "llama.embedding_length",
                        "llama.attention.head_count",
                        "llama.attention.head_count_kv",
                        "llama.context_length",
                    ]
                ),
                _json,
            ),
        ),
    )
)
def test_a_picked_model_file_is_a_profile_or_a_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("m") / "model.json"
    path.write_bytes(data)
    start = time.monotonic()
    try:
        profile = load_model_file(path)
    except ValueError as exc:
        assert str(exc)
    else:
        assert profile.block_count > 0
    assert time.monotonic() - start < 2.0


def test_an_answering_api_is_never_contradicted_by_the_process_list(tmp_path):
    """Issue 27 item 7: Ollama answers at a local address but no process is called
    `ollama serve` (a container, a wrapper): it runs, and the text says where its settings go."""
    from velollm_desktop.core.optimize.service import Runtime, detect_runtime

    url = "http://127.0.0.1:11434"
    seen = detect_runtime(url, root=tmp_path, platform="linux", processes=list, answers=True)
    assert seen.runtime is Runtime.UNSEEN and not seen.can_apply
    assert "runs and answers at" in seen.explanation and "docker run -e" in seen.explanation
    assert "not installed" not in seen.explanation
    silent = detect_runtime(
        url, root=tmp_path, platform="linux", processes=list, answers=False, which=lambda _: None
    )
    assert silent.runtime is Runtime.NOT_INSTALLED
    unit = tmp_path / "etc/systemd/system/ollama.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\n")
    managed = detect_runtime(url, root=tmp_path, platform="linux", processes=list, answers=True)
    assert managed.runtime is Runtime.SYSTEMD and managed.can_apply
