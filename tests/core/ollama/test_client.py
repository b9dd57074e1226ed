"""The Ollama client against a local server speaking Ollama's wire format (tests/ollama_fake.py)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.ollama_fake import DIGEST, MODEL, FakeOllama
from velollm_desktop.core.http.errors import (
    ModelNotFound,
    RequestTimedOut,
    ServerBusy,
    ServerNotRunning,
    StreamBroken,
)
from velollm_desktop.core.llamacpp.server import free_port
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.models import GenerateChunk, LoadedModel


@pytest.fixture
def fake():
    with FakeOllama() as f:
        yield f


def test_version_tags_show(fake):
    with OllamaClient(fake.url) as c:
        assert c.version() == "0.33.0"
        (m,) = c.installed_models()
        assert (
            m.name == MODEL
            and m.digest == DIGEST
            and m.size_bytes == 98362432
            and m.quantization_level == "Q4_1"
        )
        show = c.show(MODEL)
        assert show.architecture == "llama" and show.arch_value("block_count") == 30
        assert fake.requests[-1][2] == {"model": MODEL, "verbose": True}


def test_generate_streams_typed_chunks_with_ns_durations(fake):
    with OllamaClient(fake.url) as c:
        chunks = list(c.generate(MODEL, "hi", {"num_predict": 5}))
    assert [ch.text for ch in chunks[:-1]] == ["Hello", " from", " the", " fake", " Ollama"]
    final = chunks[-1]
    assert final.done and final.done_reason == "length" and final.eval_count == 5
    assert final.eval_duration_ns > 5 * 2_000_000 * 0.9  # ≥ 5 tokens × 2 ms, in ns
    assert final.prompt_eval_duration_ns == 3_000_000


def test_chat_stream(fake):
    with OllamaClient(fake.url) as c:
        chunks = list(c.chat(MODEL, [{"role": "user", "content": "hi"}], {"num_predict": 3}))
    assert "".join(ch.text for ch in chunks) == "Hello from the"
    assert chunks[-1].done


def test_omitempty_fields_are_none():
    ch = GenerateChunk.from_json(
        {"model": "m", "response": "", "done": True, "done_reason": "stop"}
    )
    assert ch.eval_count is None and ch.eval_duration_ns is None and ch.load_duration_ns is None


def test_preload_ps_and_unload(fake):
    with OllamaClient(fake.url) as c:
        assert c.loaded_models() == []
        final = c.preload(MODEL)
        assert final.done_reason == "load"
        (m,) = c.loaded_models()
        assert isinstance(m, LoadedModel) and m.placement == "on CPU" and m.context_length == 4096
        c.unload(MODEL)
        assert c.loaded_models() == []
        assert fake.requests[-2][2]["keep_alive"] == 0


def test_model_not_found_says_pull(fake):
    with OllamaClient(fake.url) as c, pytest.raises(ModelNotFound, match="ollama pull nope"):
        list(c.generate("nope", "hi"))


def test_not_running_says_start_command():
    with (
        OllamaClient(f"http://127.0.0.1:{free_port()}") as c,
        pytest.raises(ServerNotRunning, match="ollama serve"),
    ):
        c.version()


def test_busy_is_retried_then_succeeds(fake):
    fake.fault, fake.busy_count = "busy", 2
    with OllamaClient(fake.url, busy_backoff_s=0.01) as c:
        assert c.version() == "0.33.0"
    assert fake.busy_count == 0


def test_busy_gives_up_clearly(fake):
    fake.fault, fake.busy_count = "busy", 100
    with OllamaClient(fake.url, busy_backoff_s=0.01) as c, pytest.raises(ServerBusy, match="busy"):
        list(c.generate(MODEL, "hi"))


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        ("garbage", "not JSON"),
        ("error_line", "CUDA error"),
        ("drop", "dropped|before the final"),
    ],
)
def test_stream_faults_are_clear_errors(fake, fault, match):
    fake.fault = fault
    got = []
    with OllamaClient(fake.url) as c, pytest.raises(StreamBroken, match=match):
        for ch in c.generate(MODEL, "hi", {"num_predict": 10}):
            got.append(ch.text)
    assert got == ["Hello", " from"]  # what arrived before the fault was delivered


def test_stalled_stream_times_out(fake):
    fake.fault = "stall"
    t0 = time.monotonic()
    with OllamaClient(fake.url, stream_stall_timeout_s=1.0) as c, pytest.raises(RequestTimedOut):
        list(c.generate(MODEL, "hi", {"num_predict": 10}))
    assert time.monotonic() - t0 < 5


def test_cancel_stops_the_stream(fake):
    cancel = threading.Event()
    got = []
    with OllamaClient(fake.url) as c:
        for ch in c.generate(MODEL, "hi", {"num_predict": 200}, cancel=cancel):
            got.append(ch)
            if len(got) == 3:
                cancel.set()
    assert len(got) == 3


def test_lightweight_mode_same_answers_and_errors_without_httpx(fake):
    import subprocess
    import sys

    with OllamaClient(fake.url, lightweight=True) as c:
        assert c.version() == "0.33.0"
        assert c.installed_models()[0].name == MODEL
        assert c.loaded_models() == []
        with pytest.raises(ModelNotFound, match="ollama pull"):
            c.show("nope")
    fake.fault, fake.busy_count = "busy", 1
    with OllamaClient(fake.url, lightweight=True, busy_backoff_s=0.01) as c:
        assert c.version() == "0.33.0"
    with (
        OllamaClient(f"http://127.0.0.1:{free_port()}", lightweight=True) as c,
        pytest.raises(ServerNotRunning),
    ):
        c.loaded_models()
    code = (
        "import sys; from velollm_desktop.core.ollama.client import OllamaClient; "
        f"OllamaClient({fake.url!r}, lightweight=True).loaded_models(); print('httpx' in sys.modules or 'http.client' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"


def test_lightweight_errors_never_load_httpx():
    import subprocess
    import sys

    code = (
        "import sys\nfrom velollm_desktop.core.ollama.client import OllamaClient\n"
        "from velollm_desktop.core.http.errors import ServerNotRunning\n"
        f"try:\n    OllamaClient('http://127.0.0.1:{free_port()}', lightweight=True).loaded_models()\n"
        "except ServerNotRunning as e:\n    print('not running' in str(e), 'httpx' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "False"]
