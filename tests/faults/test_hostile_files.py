"""Hostile files: GGUF headers built to exhaust memory or CPU, JSON reports that are not."""

from __future__ import annotations

import struct
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gguf_writer import _s, write_gguf
from velollm_desktop.core.jsonio import read_json_object
from velollm_desktop.core.llamacpp.gguf import MAX_KEYS, NotGGUF, read_gguf


def _header(kv_count: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, 0, kv_count)


def _array(itype: int, n: int) -> bytes:
    return struct.pack("<IIQ", 9, itype, n)


def _bounded(path: Path, match: str) -> None:
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(NotGGUF, match=match) as err:
            read_gguf(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - t0 < 2.0 and peak < 16 * 1024 * 1024
    assert "\n" not in str(err.value)


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path):
    """Before: 100 000 nested arrays raised RecursionError (a traceback)."""
    body = _s("k") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 100_000
    path = tmp_path / "deep.gguf"
    path.write_bytes(_header(1) + body)
    _bounded(path, "nested deeper")


def test_a_huge_declared_array_in_a_sparse_file_is_refused_fast(tmp_path):
    """Before: 2^28 u8 items read one by one into a list (1.2 GB and rising)."""
    path = tmp_path / "sparse.gguf"
    with path.open("wb") as fh:
        fh.write(_header(1) + _s("k") + _array(0, 2**28))
        fh.truncate(2**28 + 100)  # sparse: the items "exist" and are zeros
    _bounded(path, "declares")  # beyond the 256 MiB metadata cap
    with path.open("wb") as fh:
        fh.write(_header(1) + _s("k") + _array(0, 2**27))
        fh.truncate(2**27 + 100)
    t0 = time.monotonic()
    info = read_gguf(path)  # within the cap: length kept, the items skipped, not read
    assert info.metadata["k"].length == 2**27 and time.monotonic() - t0 < 2.0
    path.write_bytes(_header(1) + _s("k") + _array(8, 2**40))
    _bounded(path, "declares")


def test_huge_key_counts_are_refused_fast(tmp_path):
    """Before: 2^40 declared keys in a sparse file: 40 s of CPU."""
    path = tmp_path / "keys.gguf"
    with path.open("wb") as fh:
        fh.write(_header(2**40))
        fh.truncate(1 << 30)
    _bounded(path, "metadata keys")
    with path.open("wb") as fh:
        fh.write(_header(MAX_KEYS))
        fh.truncate(1 << 30)  # zeros: empty key names of type u8, the byte cap ends it
    t0 = time.monotonic()
    info = read_gguf(path)
    assert time.monotonic() - t0 < 5.0 and len(info.metadata) == 1


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tail=st.binary(max_size=200), kv=st.integers(0, 2**64 - 1))
def test_any_header_is_metadata_or_one_not_gguf_error(tmp_path, tail, kv):
    path = tmp_path / "x.gguf"
    path.write_bytes(_header(kv) + tail)
    try:
        read_gguf(path)
    except NotGGUF as exc:
        assert str(exc) and "\n" not in str(exc)


def test_a_real_small_gguf_still_reads(tmp_path):
    path = write_gguf(tmp_path / "ok.gguf", {"general.architecture": "llama", "t": ["a"] * 300})
    info = read_gguf(path)
    assert info.architecture == "llama" and info.metadata["t"].length == 300


# -- JSON files the user names (--hardware, --model-info) ----------------------------------
@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"[1, 2]", "not an object"),
        (b'{"memory": {"total_mib": Infinity}}', "not valid JSON"),
        (b'{"x": NaN}', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_json_reports_are_bounded_and_typed(tmp_path, content, match):
    path = tmp_path / "r.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        read_json_object(path, "--hardware")


def test_dev_zero_costs_nothing():
    """Before: `--hardware /dev/zero` read GBs in seconds."""
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="larger than"):
        read_json_object(Path("/dev/zero"), "--hardware", max_bytes=1024 * 1024)
    assert time.monotonic() - t0 < 2.0


@given(raw=st.binary(max_size=100))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_any_bytes_are_an_object_or_one_value_error(tmp_path, raw):
    path = tmp_path / "r.json"
    path.write_bytes(raw)
    try:
        assert isinstance(read_json_object(path, "--hardware"), dict)
    except ValueError as exc:
        assert "--hardware" in str(exc)
