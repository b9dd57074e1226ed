"""--listen and the auth file: examples, refusals with a clear sentence, Hypothesis properties."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velollm_desktop.core.exporter.listen import (
    Auth,
    ListenError,
    parse_auth_text,
    parse_authorization,
    parse_listen,
    read_auth_file,
)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:9877", "127.0.0.1", 9877),
        ("localhost:9000", "127.0.0.1", 9000),
        ("[::1]:9877", "::1", 9877),
        (" 127.0.0.2:1 ", "127.0.0.2", 1),
    ],
)
def test_loopback_addresses_parse(text, host, port):
    addr = parse_listen(text)
    assert (addr.host, addr.port, addr.is_loopback, addr.warning()) == (host, port, True, None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0.0.0.0:9877", "--allow-remote"),
        ("192.168.1.5:9877", "--allow-remote"),
        ("[::]:9877", "--allow-remote"),
        ("example.com:9877", "IP address or localhost"),
        ("127.0.0.1", "HOST:PORT"),
        ("127.0.0.1:0", "1 to 65535"),
        ("127.0.0.1:65536", "1 to 65535"),
        ("127.0.0.1:９８", "1 to 65535"),  # fullwidth digits are not a port
        ("::1:9877", "brackets"),
        ("[::1]9877", "[::1]:9877"),
        ("", "HOST:PORT"),
    ],
)
def test_bad_or_remote_addresses_are_refused_with_the_fix(text, says):
    with pytest.raises(ListenError, match=None) as err:
        parse_listen(text)
    assert says in str(err.value)


def test_remote_needs_the_flag_and_then_warns():
    addr = parse_listen("0.0.0.0:9877", allow_remote=True)
    assert not addr.is_loopback
    warning = addr.warning()
    assert warning and "other machines" in warning and "--auth-file" in warning


@given(st.text(max_size=80), st.booleans())
@settings(max_examples=300, deadline=None)
def test_parse_listen_never_raises_anything_but_listen_error(text, remote):
    try:
        addr = parse_listen(text, allow_remote=remote)
    except ListenError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 1 <= addr.port <= 65535
    assert remote or addr.is_loopback
    assert (
        parse_listen(addr.url.removeprefix("http://").removesuffix("/metrics"), allow_remote=True)
        == addr
    )


def test_auth_file_bearer_and_basic(tmp_path):
    path = tmp_path / "auth"
    path.write_text("# scrape token\nbearer 0123456789abcdef0123\n")
    os.chmod(path, 0o600)
    auth, warning = read_auth_file(path)
    assert auth == Auth("bearer", "0123456789abcdef0123") and warning is None
    assert auth.allows("Bearer 0123456789abcdef0123")
    assert not auth.allows("Bearer 0123456789abcdef0124") and not auth.allows(None)
    assert "0123456789abcdef0123" not in repr(auth)
    path.write_text("basic prom:correct-horse\n")
    os.chmod(path, 0o644)
    auth, warning = read_auth_file(path)
    good = "Basic " + base64.b64encode(b"prom:correct-horse").decode()
    assert auth.allows(good) and not auth.allows("Bearer prom:correct-horse")
    assert warning and "chmod 600" in warning


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "exactly one line"),
        ("bearer short", "at least 16"),
        ("bearer aaaaaaaaaaaaaaaa\nbearer bbbbbbbbbbbbbbbb", "exactly one line"),
        ("basic nocolon", "USER:PASSWORD"),
        ("basic u:short", "8 characters"),
        ("token abc", "start with `bearer` or `basic`"),
        ("bearer aaaaaaaa\x01aaaaaaaaaaa", "control characters"),
    ],
)
def test_bad_auth_files_say_what_to_write(text, says):
    with pytest.raises(ListenError) as err:
        parse_auth_text(text)
    assert says in str(err.value)


def test_auth_file_missing_large_or_not_a_file(tmp_path):
    with pytest.raises(ListenError, match="cannot read"):
        read_auth_file(tmp_path / "none")
    with pytest.raises(ListenError, match="not a regular file"):
        read_auth_file(tmp_path)
    big = tmp_path / "big"
    big.write_bytes(b"bearer " + b"a" * 5000)
    with pytest.raises(ListenError, match="larger than"):
        read_auth_file(big)
    binary = tmp_path / "bin"
    binary.write_bytes(b"bearer \xff\xfe" + b"a" * 20)
    with pytest.raises(ListenError, match="UTF-8"):
        read_auth_file(binary)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_auth_text_parser_never_crashes(text):
    try:
        auth = parse_auth_text(text)
    except ListenError as exc:
        assert str(exc)
        return
    assert auth.scheme in ("bearer", "basic") and auth.secret


@given(
    st.one_of(
        st.none(),
        st.text(max_size=300),
        st.binary(max_size=200).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    )
)
@settings(max_examples=300, deadline=None)
def test_authorization_header_parser_never_crashes(header):
    got = parse_authorization(header)
    assert got is None or (got[0] in ("bearer", "basic") and got[1])
    assert not Auth("bearer", "x" * 16).allows(header) or header.strip().endswith("x" * 16)
