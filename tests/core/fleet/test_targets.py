"""Target parsing (`URL` / `KIND=URL`) and grouping by host: examples and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velollm_desktop.core.fleet.targets import (
    KINDS,
    Target,
    TargetError,
    group_by_host,
    parse_target,
    parse_targets,
)


@pytest.mark.parametrize(
    ("text", "url", "kind", "host"),
    [
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434", None, "localhost"),
        ("ollama=127.0.0.1", "http://127.0.0.1:11434", "ollama", "localhost"),
        ("node=gpu-box", "http://gpu-box:9100", "node", "gpu-box"),
        (
            "dcgm-exporter=http://GPU-Box:9400/metrics",
            "http://gpu-box:9400/metrics",
            "dcgm",
            "gpu-box",
        ),
        ("llama-server=http://[::1]:8080/", "http://[::1]:8080", "llamacpp", "localhost"),
        ("VLLM=https://10.0.0.5", "https://10.0.0.5:8000", "vllm", "10.0.0.5"),
        ("https://example.org", "https://example.org:443", None, "example.org"),
        ("localhost:8080", "http://localhost:8080", None, "localhost"),
    ],
)
def test_examples(text, url, kind, host):
    target = parse_target(text)
    assert (target.url, target.kind, target.host) == (url, kind, host)
    assert parse_target(target.spec) == target


def test_metrics_path_and_base():
    t = parse_target("node=http://h:9100/metrics")
    assert t.metrics_url == "http://h:9100/metrics" and t.base_url == "http://h:9100"
    t = parse_target("http://h:8080")
    assert t.metrics_url == "http://h:8080/metrics"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("bogus=http://h:1", "unknown kind"),
        ("ftp://h:21", "only http"),
        ("http://user:pw@h:1", "passwords"),
        ("http://h:1/?x=1", "query"),
        ("http://h:99999", "not a valid URL"),
        ("http://h:0", "port 0"),
        ("http://bad host:1", "spaces"),
        ("http://h\x00:1", "control"),
        ("http://:8080", "no host"),
        ("http://[zz::1]:1", "not a valid"),
        ("http://a;b:1", "not a valid host"),
    ],
)
def test_rejected_with_reason(text, why):
    with pytest.raises(TargetError, match=why):
        parse_target(text)


def test_parse_targets_dedups_and_caps():
    ts = parse_targets(["127.0.0.1:9100", "http://127.0.0.1:9100/", "ollama=localhost"])
    assert [t.url for t in ts] == ["http://127.0.0.1:9100", "http://localhost:11434"]
    with pytest.raises(TargetError, match="at most"):
        parse_targets([f"h{i}:1" for i in range(100)])


def test_group_by_host_keeps_order():
    ts = parse_targets(["node=b:1", "a:2", "ollama=b:3", "http://127.0.0.1:4", "[::1]:5"])
    groups = group_by_host(ts)
    assert list(groups) == ["b", "a", "localhost"]
    assert [t.url for t in groups["b"]] == ["http://b:1", "http://b:3"]
    assert len(groups["localhost"]) == 2
    assert parse_target("127.0.0.2:9400").host == "127.0.0.2"  # another address: as typed


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_says_why(text):
    try:
        target = parse_target(text)
    except TargetError as exc:
        assert str(exc) and len(str(exc)) < 400
        return
    assert isinstance(target, Target)
    assert target.url.startswith(("http://", "https://"))
    assert target.kind is None or target.kind in KINDS
    assert parse_target(target.spec) == target  # round trip


hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    host=hostnames,
    port=st.integers(1, 65535),
    scheme=st.sampled_from(["http", "https"]),
    path=st.sampled_from(["", "/", "/metrics", "/v1/"]),
)
def test_kind_url_round_trip(kind, host, port, scheme, path):
    t = parse_target(f"{kind.upper()}={scheme}://{host}:{port}{path}")
    assert t.kind == kind
    assert t.host == host.lower()
    assert t.url == f"{scheme}://{host.lower()}:{port}{path.rstrip('/')}"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_endpoint_text_parses_or_says_why(text):
    from velollm_desktop.core.fleet.bench import parse_endpoint  # noqa: PLC0415

    try:
        ep = parse_endpoint(text)
    except TargetError as exc:
        assert str(exc)
        return
    assert ep.name and "=" not in ep.name and ep.target.url.startswith(("http://", "https://"))


def test_endpoint_examples():
    from velollm_desktop.core.fleet.bench import parse_endpoint, parse_endpoints  # noqa: PLC0415

    ep = parse_endpoint("gpu=llamacpp=http://gpu-box:8080")
    assert (ep.name, ep.target.kind, ep.target.url) == ("gpu", "llamacpp", "http://gpu-box:8080")
    assert parse_endpoint("a=localhost:11434").target.kind is None
    with pytest.raises(TargetError, match="NAME=URL"):
        parse_endpoint("http://h:1")
    with pytest.raises(TargetError, match="must differ"):
        parse_endpoints(["a=h:1", "a=h:2"])
