"""Hostile input, part three (issue 28): each case reproduced first, then its class as a
property. Nothing here writes big files (sparse files), sleeps long or leaves a thread."""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults.hostile_server import HostileServer, head
from velollm_desktop.core.fleet import expo, mapping
from velollm_desktop.core.fleet.expo import MetricsError, parse_exposition
from velollm_desktop.core.fsutil import UnreadableFile, read_own_json
from velollm_desktop.core.http import bounds
from velollm_desktop.core.http.bounds import redact_text, redact_url
from velollm_desktop.core.http.errors import RequestTimedOut
from velollm_desktop.core.llamacpp import gguf
from velollm_desktop.core.ollama import client as ollama_client
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.derived import DerivedModelError, derived_name
from velollm_desktop.core.ollama.names import blob_file_name, valid_model_name
from velollm_desktop.core.ollama.store import OllamaModelNotFound, resolve
from velollm_desktop.core.optimize.models import BadModel, profile_from_show
from velollm_desktop.core.optimize.parse import exposure_warnings
from velollm_desktop.core.optimize.session import gather_models
from velollm_desktop.core.settings import Settings, ollama_url_from_env

# -- our own files ------------------------------------------------------------------------


def _deep(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize(
    "make",
    ["deep", "fifo", "devzero", "huge", "binary"],
)
def test_settings_that_hang_or_exhaust_memory_are_set_aside(tmp_path, make):
    path = tmp_path / "settings.json"
    if make == "deep":
        path.write_text('{"a": ' + _deep(100_000) + "}")
    elif make == "fifo":
        os.mkfifo(path)
    elif make == "devzero":
        path.symlink_to("/dev/zero")
    elif make == "huge":
        with path.open("wb") as fh:  # sparse: 3 GB declared, nothing written
            fh.truncate(3 << 30)
    else:
        path.write_bytes(b"\xff\xfe\x00garbage")
    s = Settings.load(path)  # returns (no hang, no RecursionError, no MemoryError)
    assert s.problem and "defaults restored" in s.problem
    assert s.get("sample_interval_s") == 1.0
    assert not path.exists() and not path.is_symlink()  # kept aside, under another name
    assert any(p.name.startswith("settings.json.corrupt-") for p in tmp_path.iterdir())


def test_two_bad_settings_in_one_second_are_both_kept(tmp_path):
    path = tmp_path / "settings.json"
    for text in ("[1", "[2"):
        path.write_text(text)
        assert Settings.load(path).problem
    kept = sorted(p.read_text() for p in tmp_path.iterdir())
    assert kept == ["[1", "[2"]  # the second did not replace the first


def test_own_reader_refuses_without_reading(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_own_json(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b" " * 2000)
    with pytest.raises(UnreadableFile, match="larger than"):
        read_own_json(tmp_path / "big", max_bytes=1000)
    (tmp_path / "nan").write_text("[NaN]")
    with pytest.raises(UnreadableFile, match="not valid JSON"):
        read_own_json(tmp_path / "nan")
    with pytest.raises(FileNotFoundError):
        read_own_json(tmp_path / "missing")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=2000)
    | st.recursive(
        st.none() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=30,
    ).map(lambda v: json.dumps(v).encode())
)
def test_own_reader_property_any_bytes(tmp_path, raw):
    path = tmp_path / "f.json"
    path.write_bytes(raw)
    try:
        value = read_own_json(path, max_bytes=1500, max_depth=8)
    except UnreadableFile as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert value == json.loads(raw)


def test_journal_that_is_a_fifo_is_one_sentence(tmp_path):
    from velollm_desktop.core.optimize.apply import Applier, ApplyError

    os.mkfifo(tmp_path / "journal.json")
    applier = Applier(dropin=tmp_path / "override.conf", journal=tmp_path / "journal.json")
    with pytest.raises(ApplyError, match="unreadable"):
        applier._entries()
    assert applier.can_undo() is False


# -- GGUF ---------------------------------------------------------------------------------


def _gguf_header(kv: bytes, n_kv: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, 0, n_kv) + kv


def _key(name: str) -> bytes:
    return struct.pack("<Q", len(name)) + name.encode()


@pytest.mark.parametrize("nested", [False, True])
def test_a_sparse_300mb_gguf_is_refused_quickly(tmp_path, nested):
    """A huge array of empty strings (or of empty arrays) in a 300 MB file of zeros."""
    path = tmp_path / "sparse.gguf"
    n = 20_000_000  # 160-240 MB of items: passes the bytes-left check, as in the report
    if nested:  # array of arrays: each item is (type u32, length u64) = 12 zero bytes
        kv = _key("a") + struct.pack("<IIQ", gguf.ARRAY, gguf.ARRAY, n)
    else:  # array of strings: each item is a length u64 = 8 zero bytes
        kv = _key("a") + struct.pack("<IIQ", gguf.ARRAY, gguf.STRING, n)
    with path.open("wb") as fh:
        fh.write(_gguf_header(kv, 1))
        fh.truncate(300 * 1024 * 1024)  # sparse: nothing else is written
    t0 = time.monotonic()
    with pytest.raises(gguf.NotGGUF, match="more than .* strings or arrays"):
        gguf.read_gguf(path)
    assert time.monotonic() - t0 < 10  # was 47-73 s; the bound is the item cap, not a timer


def test_a_long_vocabulary_is_still_read(tmp_path):
    """The item cap leaves real files alone: 300 000 tokens (skipped past the head)."""
    items = b"".join(struct.pack("<Q", 3) + b"tok" for _ in range(300_000))
    kv = _key("tokenizer.ggml.tokens") + struct.pack("<IIQ", gguf.ARRAY, gguf.STRING, 300_000)
    kv += items + _key("general.architecture") + struct.pack("<I", gguf.STRING) + _key("llama")
    (tmp_path / "v.gguf").write_bytes(_gguf_header(kv, 2))
    info = gguf.read_gguf(tmp_path / "v.gguf")
    assert info.vocab_size == 300_000 and info.architecture == "llama"


# -- absurd model metadata ----------------------------------------------------------------


def _show(**fields) -> dict:
    info = {
        "general.architecture": "llama",
        "llama.block_count": 32,
        "llama.embedding_length": 4096,
        "llama.attention.head_count": 32,
        "llama.attention.head_count_kv": 8,
        "llama.context_length": 8192,
    }
    info.update({f"llama.{k}": v for k, v in fields.items()})
    return {"model_info": info}


@pytest.mark.parametrize(
    "field, value",
    [
        ("embedding_length", -4096),
        ("attention.key_length", -128),
        ("attention.head_count", 0),
        ("attention.head_count_kv", [{}]),
        ("block_count", [1, "a"]),
        ("attention.head_count_kv", 0),
        ("context_length", 1e30),
        ("embedding_length", True),
    ],
)
def test_an_impossible_shape_field_is_reported_never_planned_for(field, value):
    with pytest.raises(BadModel, match=field.replace(".", r"\.")):
        profile_from_show("bad", _show(**{field: value}), 4 << 30)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "block_count",
                "embedding_length",
                "attention.head_count",
                "attention.head_count_kv",
                "attention.key_length",
                "attention.value_length",
                "context_length",
                "vocab_size",
            ]
        ),
        st.integers(-(2**40), 2**40)
        | st.floats(allow_nan=True)
        | st.lists(st.integers(-5, 5), max_size=4)
        | st.text(max_size=3)
        | st.none(),
    )
)
def test_profile_property_every_size_positive_or_refused(fields):
    try:
        p = profile_from_show("m", _show(**fields), 1 << 30)
    except BadModel as exc:
        assert str(exc).startswith("m: ")
        return
    assert p.block_count > 0 and p.embedding_length > 0 and p.head_count > 0
    assert p.key_length > 0 and p.value_length > 0 and p.kv_bytes_per_token_f16 > 0


def test_one_bad_model_file_is_skipped_with_its_source_named(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_show()))
    bad.write_text(json.dumps(_show(**{"attention.head_count_kv": [{}]})))
    models, _, notes = gather_models("http://127.0.0.1:9", [f"a={bad}", f"b={good}"])
    assert [m.name for m in models] == ["b"]
    assert len(notes) == 1 and f"--model-info a={bad}" in notes[0] and "head_count_kv" in notes[0]


# -- the fleet scraper --------------------------------------------------------------------


def test_a_series_with_200k_labels_is_refused_before_parsing():
    labels = ",".join(f'l{i}="v"' for i in range(200_000))
    body = f"node_load1{{{labels}}} 1\n"
    t0 = time.monotonic()
    with pytest.raises(MetricsError, match="labels|longer"):
        parse_exposition(body)
    assert time.monotonic() - t0 < 5  # was 125 s in the parser


def test_a_series_with_too_many_short_labels_is_refused():
    labels = ",".join(f'l{i}="v"' for i in range(1000))  # 9 KB: under the line cap
    with pytest.raises(MetricsError, match="more than 64 labels"):
        parse_exposition(f"node_load1{{{labels}}} 1\n")


def test_too_many_series_are_refused_before_parsing():
    body = "".join(f'x{{a="{i}"}} 1\n' for i in range(expo.MAX_SERIES + 1))
    with pytest.raises(MetricsError, match="series"):
        parse_exposition(body)


def test_100k_distinct_dcgm_gpus_cost_one_linear_pass():
    metrics = {
        "DCGM_FI_DEV_GPU_UTIL": [({"gpu": str(i)}, 50.0) for i in range(100_000)],
        "DCGM_FI_DEV_FB_USED": [({"gpu": str(i)}, 1.0) for i in range(100_000)],
    }
    t0 = time.monotonic()
    gpus = mapping.dcgm_gpus(metrics)
    assert len(gpus) == mapping.MAX_GPUS and gpus[0].load_pct == 50.0
    assert time.monotonic() - t0 < 10  # was still running at 150 s


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet='ab{}="=,# \n\\01.', max_size=400))
def test_exposition_property_bounded_and_typed(text):
    try:
        parse_exposition(text)
    except MetricsError as exc:
        assert str(exc)


def _drip_headers(srv, sock, method, path):
    srv.drip(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", every_s=0.2)


def test_a_target_dripping_headers_does_not_starve_a_healthy_one():
    from tests.core.fleet.servers import ScriptedServer
    from velollm_desktop.core.fleet.monitor import FleetMonitor
    from velollm_desktop.core.fleet.targets import parse_targets

    threads_before = threading.active_count()
    with HostileServer(_drip_headers) as slow, ScriptedServer(body=b"node_load1 1\n") as ok:
        targets = parse_targets([f"node={slow.url}", f"node={ok.url}"])
        with FleetMonitor(targets, deadline_s=0.8) as monitor:
            for _ in range(8):  # the 6th poll used to read the healthy target DOWN
                slow_status, ok_status = monitor.poll()
                assert ok_status.up, ok_status.error
                assert not slow_status.up and "within 0.8 s" in slow_status.error
                assert slow_status.error.startswith(("answer too slow", "no answer"))
    deadline = time.monotonic() + 10
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)  # probe threads end at their own deadline: none is left
    assert threading.active_count() <= threads_before


# -- streams ------------------------------------------------------------------------------


def test_bytes_without_a_complete_line_are_a_stall():
    """A byte every 0.05 s and never a newline: each byte used to reset the stall timer."""

    def reply(srv, sock, method, path):
        srv.send_all(sock, head(extra="Connection: close\r\n"))
        srv.drip(sock, b" " * 100_000, every_s=0.05)

    with HostileServer(reply) as srv:
        c = OllamaClient(srv.url, stream_deadline_s=60, stream_stall_timeout_s=0.6)
        t0 = time.monotonic()
        with pytest.raises(RequestTimedOut, match="no complete line"):
            list(c.generate("m", "hi", {"num_predict": 10}))
        assert time.monotonic() - t0 < 30  # the stall, not the 60 s deadline


def test_a_token_dripping_stream_is_too_slow_to_benchmark(monkeypatch):
    monkeypatch.setattr(bounds, "RATE_GRACE_S", 0.3)
    line = b'{"model": "m", "response": "a", "done": false}\n'

    def reply(srv, sock, method, path):
        srv.send_all(sock, head(extra="Connection: close\r\n"))
        while not srv.stopping.is_set():
            srv.send_all(sock, line)  # a token every 0.25 s, bytes in between
            for _ in range(5):
                srv.send_all(sock, b" ")
                time.sleep(0.05)

    with HostileServer(reply) as srv:
        c = OllamaClient(
            srv.url, stream_deadline_s=60, stream_stall_timeout_s=30, min_tokens_per_s=20.0
        )
        with pytest.raises(RequestTimedOut, match="this server is too slow to benchmark"):
            list(c.generate("m", "hi", {"num_predict": 1000}))


def test_the_cli_takes_the_stall_and_the_floor_speed(capsys):
    from velollm_desktop.cli import build_parser
    from velollm_desktop.commands.benchmark import _pace

    args = build_parser().parse_args(["benchmark", "--stall-timeout", "20", "--min-speed", "2"])
    assert _pace(args) == bounds.StreamPace(20.0, 2.0)
    for bad in (["--min-speed", "0"], ["--stall-timeout", "-1"], ["--min-speed", "nan"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["benchmark", *bad])
    assert "out of range" in capsys.readouterr().err


def test_the_tls_handshake_is_bounded_as_a_whole(monkeypatch):
    """A server that drips bytes of a TLS record a byte every 0.1 s: every byte used to
    restart the per-read timeout; now the handshake as a whole ends at its bound."""
    import socket as socket_mod

    from velollm_desktop.core.http import transport

    monkeypatch.setattr(transport, "TLS_HANDSHAKE_S", 0.6)
    listener = socket_mod.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(5)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            record = b"\x16\x03\x03\x40\x00" + b"\x00" * 20000  # a 16 KiB record, dripped
            for i in range(len(record)):
                if stop.wait(0.1):
                    return
                try:
                    conn.sendall(record[i : i + 1])
                except OSError:
                    return

    t = threading.Thread(target=serve)
    t.start()
    try:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        t0 = time.monotonic()
        with pytest.raises(RequestTimedOut, match="TLS"):
            transport.open_request(url, "GET", "/", None, transport.Limits(60, 60), "X")
        assert time.monotonic() - t0 < 30  # the handshake bound, not the 60 s deadline
    finally:
        stop.set()
        t.join(10)
        listener.close()


def test_the_stream_deadline_follows_from_what_was_asked():
    from velollm_desktop.core.http.limits import Limits, stream_limits_for

    limits = stream_limits_for(Limits(3600, 300), 20, 10)
    expected = 300 + bounds.RATE_GRACE_S + 11 / ollama_client.MIN_TOKENS_PER_S
    assert limits.deadline_s == pytest.approx(expected) and limits.deadline_s < 3600


# -- names, digests, addresses ------------------------------------------------------------


@pytest.mark.parametrize("name", ["a/../../b", "../x", "a/./b", "a//b", "a:../b", "x y", ""])
def test_hostile_model_names_are_refused(name):
    assert not valid_model_name(name)


def test_derived_names_are_built_from_allowed_characters():
    assert derived_name("a/../../b", "-spec") == "a/b-spec"
    assert derived_name("llama3.2:1b", "-spec") == "llama3.2-spec:1b"
    with pytest.raises(DerivedModelError):
        derived_name("../..", "-x")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.sampled_from(["-spec", "-tuned", "-velollm"]))
def test_derived_name_property_valid_or_refused(model, suffix):
    try:
        name = derived_name(model, suffix)
    except DerivedModelError:
        return
    assert valid_model_name(name) and ".." not in name.split("/")


def test_a_manifest_digest_cannot_name_a_path_outside_blobs(tmp_path):
    manifest = tmp_path / "manifests" / "registry.ollama.ai" / "library" / "m" / "latest"
    manifest.parent.mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("secret")
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": "../etc/passwd"}
    manifest.write_text(json.dumps({"layers": [layer]}))
    with pytest.raises(OllamaModelNotFound, match="not a sha256 digest"):
        resolve("m", [tmp_path])
    assert blob_file_name("sha256:" + "a" * 64) == "sha256-" + "a" * 64
    assert blob_file_name("sha256-" + "A" * 64) is None


def test_passwords_in_urls_are_redacted_everywhere_printed():
    assert redact_url("http://u:secret@h:1/x") == "http://***@h:1/x"
    assert "secret" not in redact_text("error at http://u:secret@h:1/x and https://a@b/")
    with pytest.raises(Exception) as info:
        OllamaClient("http://u:secret@127.0.0.1:1").version()
    assert "secret" not in str(info.value)


def test_ollama_host_with_user_password_is_parsed_and_not_exposed():
    url = ollama_url_from_env({"OLLAMA_HOST": "user:pw@127.0.0.1:11434"})
    assert url == "http://user:pw@127.0.0.1:11434"
    assert exposure_warnings({"OLLAMA_HOST": "user:pw@127.0.0.1:11434"}) == []
    warn = exposure_warnings({"OLLAMA_HOST": "user:pw@0.0.0.0"})
    assert warn and "pw" not in warn[0]


def test_the_cli_rejects_a_negative_fleet_count(capsys):
    from velollm_desktop.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["fleet", "--target", "http://127.0.0.1:9", "--count", "-5"])
    assert exit_.value.code == 2
    assert "--count" in capsys.readouterr().err


def test_sparse_helper_writes_nothing(tmp_path):
    """The sparse files above really are sparse (the tests stay cheap on disk)."""
    p = tmp_path / "s"
    with p.open("wb") as fh:
        fh.truncate(300 * 1024 * 1024)
    assert p.stat().st_blocks * 512 < 1024 * 1024
    Path(p).unlink()


def test_the_cli_skips_one_bad_model_info_and_names_it(tmp_path, capsys):
    """Was: exit 2 "--model-info: …" for the whole run. Now the bad one is a note naming
    its file, the good one is planned for; only when none is usable is it an error."""
    from velollm_desktop.cli import main

    hardware = Path(__file__).parents[2] / "docs" / "hardware" / "h100-detect.json"
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_show()))
    bad.write_text(json.dumps(_show(block_count=[1, "a"])))
    args = ["optimize", "--hardware", str(hardware), "--dry-run", "--model-info"]
    rc = main([*args, f"bad={bad}", "--model-info", f"good={good}"])
    err = capsys.readouterr().err
    assert rc == 0 and f"kipped --model-info bad={bad}" in err and "block_count" in err
    assert main([*args, f"bad={bad}"]) == 2
    assert "no --model-info file could be used" in capsys.readouterr().err
