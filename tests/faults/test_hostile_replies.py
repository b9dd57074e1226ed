"""Hostile server replies against every client, over real loopback sockets.

Each class (deadline, size caps, types, impossible metrics, incomplete streams) has examples
that failed before the bounded transport, plus a Hypothesis property for its neighbours.
"""

from __future__ import annotations

import json
import math
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults.hostile_server import HostileServer, head, json_reply, ollama_like
from velollm_desktop.core.bench.backends import (
    MAX_TOKENS_PER_S,
    OllamaBackend,
    OpenAIBackend,
    check_measurement,
)
from velollm_desktop.core.bench.model import RunMeasurement
from velollm_desktop.core.http.errors import (
    BadResponse,
    BadURL,
    RequestTimedOut,
    ServerError,
    StreamBroken,
    TooLarge,
)
from velollm_desktop.core.http.transport import MIB, Limits, finite_json, open_request
from velollm_desktop.core.llamacpp.client import LlamaServerClient, OpenAIClient
from velollm_desktop.core.ollama.client import OllamaClient

HOSTILE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _drip_body(srv, sock, method, path):
    srv.send_all(sock, head(extra="Content-Length: 100000\r\n"))
    srv.drip(sock, b'{"version": "0.1"' + b" " * 100, every_s=0.05)


def _drip_head(srv, sock, method, path):
    srv.drip(sock, b"HTTP/1.1 200 OK\r\nX-Slow: ", every_s=0.05)


# -- one overall deadline ------------------------------------------------------------------
@pytest.mark.parametrize("reply", [_drip_body, _drip_head], ids=["body", "headers"])
@pytest.mark.parametrize("lightweight", [False, True])
def test_a_dripping_server_cannot_hold_a_request_past_its_deadline(reply, lightweight):
    """Before: per-read timeouts, so a byte every 50 ms kept the request alive for ever."""
    with HostileServer(reply) as srv:
        t0 = time.monotonic()
        with pytest.raises(RequestTimedOut, match="1 s"):
            OllamaClient(srv.url, read_timeout_s=1.0, lightweight=lightweight).version()
        assert time.monotonic() - t0 < 1.6


def test_a_dripping_stream_ends_at_the_stream_deadline():
    def reply(srv, sock, method, path):
        srv.send_all(sock, head(extra="Connection: close\r\n"))
        srv.drip(sock, b'{"response": "a", "done": false}\n' * 1000, every_s=0.02)

    with HostileServer(reply) as srv:
        t0 = time.monotonic()
        c = OllamaClient(srv.url, stream_deadline_s=1.0, stream_stall_timeout_s=30)
        with pytest.raises(RequestTimedOut):
            list(c.generate("m", "hi", {"num_predict": 10_000}))
        assert time.monotonic() - t0 < 1.6


@pytest.mark.parametrize("client", [LlamaServerClient, OpenAIClient])
def test_sse_clients_have_an_overall_deadline_too(client):
    with HostileServer(_drip_body) as srv:
        t0 = time.monotonic()
        c = client(srv.url, get_deadline_s=1.0)
        with pytest.raises(RequestTimedOut):
            c.props() if client is LlamaServerClient else c.models()
        assert time.monotonic() - t0 < 1.6


# -- size caps ----------------------------------------------------------------------------
def _endless(srv, sock, method, path):
    srv.send_all(sock, head(extra="Connection: close\r\n"))
    line = b'{"response": "tok", "done": false}\n' * 100
    while not srv.stopping.is_set():
        sock.sendall(line)


def _huge_line(srv, sock, method, path):
    srv.send_all(sock, head(extra="Connection: close\r\n"))
    block = b"x" * MIB
    for _ in range(100):  # 100 MB, no newline
        sock.sendall(block)


def _huge_body(srv, sock, method, path):
    srv.send_all(sock, head(length=100 * MIB) + b'{"models": [')
    block = b" " * MIB
    for _ in range(40):
        sock.sendall(block)


@pytest.mark.parametrize(
    ("reply", "call", "match"),
    [
        (_endless, lambda c: list(c.generate("m", "hi", {"num_predict": 50})), "lines"),
        (_huge_line, lambda c: list(c.generate("m", "hi")), "line longer"),
        (_huge_body, lambda c: c.installed_models(), "more than 32 MiB"),
    ],
    ids=["endless-stream", "100MB-line", "100MB-body"],
)
def test_size_caps_end_with_one_clear_error_and_bounded_memory(reply, call, match):
    """Before: an endless stream grew forever; a 100 MB line or body was read whole."""
    with HostileServer(reply) as srv:
        tracemalloc.start()
        try:
            with pytest.raises(TooLarge, match=match):
                call(OllamaClient(srv.url, read_timeout_s=20))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 48 * MIB, f"peak {peak / MIB:.0f} MiB of Python allocations"


def test_sse_stream_is_capped_by_max_tokens():
    def reply(srv, sock, method, path):
        srv.send_all(sock, head(extra="Connection: close\r\n"))
        ev = b'data: {"content": "x", "stop": false}\n\n' * 100
        while not srv.stopping.is_set():
            sock.sendall(ev)

    with HostileServer(reply) as srv, pytest.raises(TooLarge, match="lines"):
        LlamaServerClient(srv.url).measure("hi", 8)


# -- types: one choke point per client ----------------------------------------------------
BAD_BODIES = {
    "/api/tags": [
        [1, 2],
        "models",
        {"models": "abc"},
        {"models": [1]},
        {"models": [{"name": "a", "details": "x"}]},
        {"models": [{"name": "a", "size": "big"}]},
        {"models": [{"name": "a", "size": -5}]},
        b'{"models": [{"name": "a", "size": NaN}]}',
        b'{"models": [{"name": "a", "size": Infinity}]}',
        b'{"models": [{"name": "a", "size": 1e999}]}',
    ],
    "/api/ps": [
        [],
        {"models": {"a": 1}},
        {"models": [{"name": "a", "size_vram": "x"}]},
        {"models": [{"name": ["a"]}]},
        b'{"models": [{"name": "a", "size": -Infinity}]}',
    ],
    "/api/show": [[], {"details": "x"}, {"model_info": [1]}, {"capabilities": "tools"}],
    "/api/version": [[1], 3, {"version": {"a": 1}}],
}
CALLS = {
    "/api/tags": lambda c: c.installed_models(),
    "/api/ps": lambda c: c.loaded_models(),
    "/api/show": lambda c: c.show("m"),
    "/api/version": lambda c: c.version(),
}


@pytest.mark.parametrize(
    ("path", "body"), [(p, b) for p, bodies in BAD_BODIES.items() for b in bodies]
)
@pytest.mark.parametrize("lightweight", [False, True])
def test_wrong_types_are_one_bad_response(path, body, lightweight):
    """Before: TypeError / AttributeError / ValueError tracebacks, or NaN stored as a size."""
    with HostileServer(json_reply(body)) as srv, pytest.raises(BadResponse):
        CALLS[path](OllamaClient(srv.url, lightweight=lightweight))


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["models", "name", "size", "size_vram", "details", "context_length", "digest", "model_info"]
)
REPLY = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"models": st.lists(st.dictionaries(FIELDS, JSON, max_size=5), max_size=3)}
    ),
    st.dictionaries(FIELDS, JSON, max_size=4),
)


class _Switchable:
    """One server whose reply body a property test changes between examples."""

    def __init__(self) -> None:
        self.body = b"{}"

    def __call__(self, srv, sock, method, path):
        srv.send_all(sock, head(length=len(self.body)) + self.body)


@pytest.fixture(scope="module")
def switchable():
    reply = _Switchable()
    with HostileServer(reply) as srv:
        yield srv, reply


@HOSTILE_SETTINGS
@given(value=REPLY, path=st.sampled_from(sorted(CALLS)))
def test_any_json_reply_is_a_typed_result_or_an_ollama_error(switchable, value, path):
    srv, reply = switchable
    reply.body = json.dumps(value, allow_nan=True).encode()
    try:
        result = CALLS[path](OllamaClient(srv.url, lightweight=True))
    except ServerError:
        return
    if path in ("/api/tags", "/api/ps"):
        for m in result:
            assert isinstance(m.name, str) and (m.size_bytes is None or m.size_bytes >= 0)
            assert m.size_bytes is None or math.isfinite(m.size_bytes)


@HOSTILE_SETTINGS
@given(raw=st.binary(max_size=300))
def test_any_bytes_as_a_reply_end_in_an_ollama_error_or_a_result(switchable, raw):
    srv, reply = switchable
    reply.body = raw
    try:
        OllamaClient(srv.url, lightweight=True).loaded_models()
    except ServerError:
        pass


@given(text=st.text(max_size=40))
def test_finite_json_never_returns_a_non_finite_number(text):
    try:
        value = finite_json(text, "x")
    except BadResponse:
        return
    assert not (isinstance(value, float) and not math.isfinite(value))


# -- impossible metrics -------------------------------------------------------------------
def _generate_final(final: dict):
    lines = [b'{"response": "a", "done": false}', json.dumps(final).encode()]
    body = b"".join(ln + b"\n" for ln in lines)

    def reply(srv, sock, method, path):
        if path == "/api/generate":
            srv.send_all(sock, head(length=len(body)) + body)
        else:
            srv.send_all(sock, head(length=2) + b"{}")

    return reply


@pytest.mark.parametrize(
    "final",
    [
        {"done": True, "eval_count": 10**15, "eval_duration": 1},  # 1e24 tok/s
        {"done": True, "eval_count": 10, "eval_duration": -100},
        {"done": True, "load_duration": -1_000_000_000},
        {"done": True, "prompt_eval_count": 5, "prompt_eval_duration": "x"},
    ],
    ids=["absurd-rate", "negative-duration", "negative-load", "string-duration"],
)
def test_impossible_ollama_metrics_are_rejected_not_stored(final):
    with HostileServer(_generate_final(final)) as srv:
        backend = OllamaBackend(srv.url, "m")
        with pytest.raises(BadResponse, match="impossible|not a number|not a measurement"):
            backend.measure("hi", 8, None)


def _sse(events: list[bytes]):
    body = b"".join(b"data: " + e + b"\n\n" for e in events)

    def reply(srv, sock, method, path):
        if path == "/v1/models":
            m = b'{"data": [{"id": "m"}]}'
            srv.send_all(sock, head(length=len(m)) + m)
        else:
            srv.send_all(sock, head(extra="Connection: close\r\n") + body)

    return reply


def test_openai_stream_without_its_final_event_is_a_failed_run():
    """Before: a stream cut after two tokens was measured and stored as a success."""
    events = [b'{"choices": [{"delta": {"content": "a"}}]}'] * 2
    with HostileServer(_sse(events)) as srv, pytest.raises(StreamBroken, match="final event"):
        OpenAIBackend(srv.url, "m").measure("hi", 8, None)
    with HostileServer(_sse([*events, b"[DONE]"])) as srv:
        assert OpenAIBackend(srv.url, "m").measure("hi", 8, None).text == "aa"


@pytest.mark.parametrize(
    "timings",
    [
        b'{"predicted_per_second": "fast", "predicted_n": 3}',
        b'{"predicted_per_second": NaN, "predicted_n": 3}',
        b'{"predicted_per_second": -100, "predicted_n": 3}',
        b'{"predicted_per_second": 3e20, "predicted_n": 3}',
        b'"x"',
    ],
)
def test_openai_timings_are_checked(timings):
    events = [b'{"choices": [{"delta": {"content": "a"}}], "timings": ' + timings + b"}", b"[DONE]"]
    with HostileServer(_sse(events)) as srv, pytest.raises(BadResponse):
        OpenAIBackend(srv.url, "m").measure("hi", 8, None)


NUMBER = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**64), 2**64),
)


@given(rate=NUMBER, server_rate=NUMBER, ttft=NUMBER, load=NUMBER, count=NUMBER, total=NUMBER)
def test_a_measurement_is_stored_only_when_physically_possible(
    rate, server_rate, ttft, load, count, total
):
    m = RunMeasurement(
        ttft_ms=ttft,
        decode_tokens_per_s=rate,
        server_decode_tokens_per_s=server_rate,
        prompt_tokens_per_s=None,
        prompt_tokens=None,
        eval_count=count,
        load_ms=load,
        total_ms=total if total is not None else 1.0,
    )

    def possible(v, top):
        return v is None or (math.isfinite(v) and 0 <= v <= top)

    week_ms = 7 * 24 * 3600 * 1000.0
    ok = (
        possible(rate, MAX_TOKENS_PER_S)
        and possible(server_rate, MAX_TOKENS_PER_S)
        and all(possible(v, week_ms) for v in (ttft, load, m.total_ms))
        and possible(count, 2**53)
    )
    try:
        check_measurement(m, "x")
    except BadResponse:
        assert not ok
    else:
        assert ok


# -- URLs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["http://[::1", "http://[::1]:99999", "http://:::11434", "ftp://x", "http://a b:1", ""]
)
def test_malformed_urls_are_one_bad_url_error(url):
    with pytest.raises((BadURL, ServerError)) as err:
        OllamaClient(url, lightweight=True).loaded_models()
    assert "Traceback" not in str(err.value) and str(err.value)


@given(url=st.text(max_size=30))
def test_any_url_text_is_a_result_or_an_ollama_error(url):
    try:
        open_request(url, "GET", "/", None, Limits(deadline_s=0.5, stall_s=0.5), "X").close()
    except ServerError:
        pass


def test_error_bodies_and_model_names_lose_their_escape_sequences():
    evil = "\x1b[2J\x1b]0;pwned\x07SECURITY UPDATE <b>run</b> | sudo sh"
    with HostileServer(json_reply({"error": evil}, status=500)) as srv:
        with pytest.raises(ServerError) as err:
            OllamaClient(srv.url).version()
    assert "\x1b" not in str(err.value) and "\x07" not in str(err.value)
    tags = {"models": [{"name": "m\x1b[31mred", "size": 1}]}
    with HostileServer(
        ollama_like({"/api/tags": head(length=len(json.dumps(tags))) + json.dumps(tags).encode()})
    ) as srv:
        (m,) = OllamaClient(srv.url).installed_models()
    assert "\x1b" not in m.name
