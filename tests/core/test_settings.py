"""Settings schema, storage, corruption recovery, OLLAMA_HOST parsing, autostart, atomic writes."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from velollm_desktop.core import autostart
from velollm_desktop.core.fsutil import atomic_write_text
from velollm_desktop.core.settings import Settings, ollama_url_from_env, server_url_problem


def test_defaults_save_and_reload(tmp_path):
    path = tmp_path / "s.json"
    s = Settings.load(path)
    assert s.get("sample_interval_s") == 1.0 and s.problem is None
    s.set("sample_interval_s", 0.5)
    s.set("start_at_login", "yes")  # writes the login entry, the one source of truth
    s.save()
    again = Settings.load(path)
    assert again.get("sample_interval_s") == 0.5 and again.get("start_at_login") is True
    assert autostart.is_enabled() and "start_at_login" not in json.loads(path.read_text())
    again.set("start_at_login", False)
    assert not autostart.is_enabled() and Settings.load(path).get("start_at_login") is False


def test_values_are_clamped_and_bad_types_fall_back(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"sample_interval_s": 0.001, "ollama_poll_s": "abc", "unknown": 1}))
    s = Settings.load(path)
    assert s.get("sample_interval_s") == 0.1
    assert s.get("ollama_poll_s") == 3.0
    with pytest.raises(KeyError):
        s.set("unknown", 1)


def test_corrupted_file_is_moved_aside_and_defaults_used(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"sample_interval_s": 2.0, ')  # truncated by a crash
    s = Settings.load(path)
    assert s.get("sample_interval_s") == 1.0
    assert s.problem and "defaults restored" in s.problem
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("s.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_text().startswith('{"sample_interval_s": 2.0')
    assert not path.exists()


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("example.lan", "http://example.lan:11434"),
        ("http://example.lan", "http://example.lan:80"),
        ("https://example.lan", "https://example.lan:443"),
        ("https://example.lan:8443/ollama", "https://example.lan:8443/ollama"),
        ('"127.0.0.1:11435"', "http://127.0.0.1:11435"),
        ("[::1]:11434", "http://[::1]:11434"),
    ],
)
def test_ollama_host_rules(value, url):
    assert ollama_url_from_env({"OLLAMA_HOST": value}) == url


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "conf"
    target.write_text("old\n")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["conf"]  # no temp file left behind


def test_atomic_write_backup(tmp_path):
    target = tmp_path / "conf"
    target.write_text("v1")
    backup = atomic_write_text(target, "v2", backup=True)
    assert target.read_text() == "v2" and backup is not None and backup.read_text() == "v1"


def test_autostart_toggle_twice_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert not autostart.is_enabled()
    path = autostart.set_enabled(True, ["/opt/velo llm/bin/velollm-desktop", "--flag=$HOME"])
    assert autostart.is_enabled() and path is not None
    text = path.read_text()
    assert 'Exec="/opt/velo llm/bin/velollm-desktop" "--flag=\\$HOME"' in text
    autostart.set_enabled(False)
    assert not autostart.is_enabled()
    assert list((tmp_path / "autostart").iterdir()) == []


@given(st.text(max_size=200))
def test_server_url_problem_never_raises(text):
    problem = server_url_problem(text)
    assert problem is None or (problem.endswith(".") and len(problem) < 600)
