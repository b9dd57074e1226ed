"""Properties of the argument and configuration checks: numbers, exposure warnings."""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from velollm_desktop.commands.argtypes import enum_choice, float_range, int_range
from velollm_desktop.commands.tune import TUNE_KINDS
from velollm_desktop.core.kinds import BackendKind
from velollm_desktop.core.optimize.parse import exposure_warnings

TEXT = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**9), 10**9).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "-0", " 3 ", "0x10", "1_000"]),
)


@given(text=TEXT)
def test_an_int_option_is_in_range_or_one_clear_error(text):
    try:
        value = int_range(1, 10_000)(text)
    except argparse.ArgumentTypeError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(value, int) and 1 <= value <= 10_000



@given(text=st.one_of(TEXT, st.sampled_from([k.value for k in BackendKind])))
def test_a_backend_option_is_the_enum_or_one_clear_error(text):
    """`--backend` is parsed once to a BackendKind (the tune offers only two of them)."""
    try:
        kind = enum_choice(TUNE_KINDS)(text)
    except argparse.ArgumentTypeError as exc:
        assert "invalid choice" in str(exc) and "\n" not in str(exc)
        assert text not in ("llamacpp", "ollama")
    else:
        assert kind in TUNE_KINDS and kind.value == text and isinstance(kind, BackendKind)

@given(text=TEXT)
def test_a_float_option_is_finite_and_in_range_or_one_clear_error(text):
    try:
        value = float_range(0, 3600, low_open=True)(text)
    except argparse.ArgumentTypeError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert math.isfinite(value) and 0 < value <= 3600


LOOPBACK = st.sampled_from(["127.0.0.1", "127.1.2.3", "localhost", "[::1]"])
EXPOSED = st.sampled_from(["0.0.0.0", "[::]", "", "192.168.1.5", "example.com", "10.0.0.1"])
PORT = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
SCHEME = st.sampled_from(["", "http://", "https://"])


@given(scheme=SCHEME, host=LOOPBACK, port=PORT)
def test_a_loopback_ollama_host_is_no_warning(scheme, host, port):
    assert exposure_warnings({"OLLAMA_HOST": f"{scheme}{host}{port}"}) == []


@given(scheme=SCHEME, host=EXPOSED, port=PORT)
def test_a_host_other_than_loopback_is_a_network_warning(scheme, host, port):
    value = f"{scheme}{host}{port}"
    if not value.strip():
        return  # unset: Ollama's default, 127.0.0.1
    (w,) = exposure_warnings({"OLLAMA_HOST": value})
    assert "exposes Ollama to the network" in w


@pytest.mark.parametrize("origins", ["*", "http://a.b,*", " * "])
def test_any_origin_is_a_warning(origins):
    (w,) = exposure_warnings({"OLLAMA_ORIGINS": origins})
    assert "any web page" in w
    assert exposure_warnings({"OLLAMA_ORIGINS": "http://localhost:3000"}) == []
