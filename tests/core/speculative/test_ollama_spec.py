"""Speculative decoding as Ollama runs it: metadata, flags, the stand-in's runner, Use in Ollama."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.gguf_writer import write_gguf
from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.llamacpp.binaries import find_program
from velollm_desktop.core.llamacpp.gguf import NotGGUF
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.derived import (
    DerivedJournal,
    DerivedModelError,
    create_derived,
    delete_derived,
)
from velollm_desktop.core.ollama.spec_info import (
    OllamaSpecInfo,
    info_from_gguf,
    info_from_show,
    mtp_advice,
    ollama_draft_args,
    ollama_model_advice,
    parse_help,
    server_support,
    tensor_names,
)
from velollm_desktop.core.speculative.ollama_apply import (
    spec_plan,
    undo_use_in_ollama,
    use_in_ollama,
)

SPEC = "smollm2-spec:135m"


def _gguf_with_tensors(path, meta: dict, names: list[str]):
    """A metadata-only GGUF plus tensor infos (no data): enough for tensor_names."""
    write_gguf(path, meta)
    data = bytearray(path.read_bytes())
    data[8:16] = struct.pack("<Q", len(names))
    for n in names:
        b = n.encode()
        data += struct.pack("<Q", len(b)) + b + struct.pack("<I", 1) + struct.pack("<Q", 4)
        data += struct.pack("<I", 0) + struct.pack("<Q", 0)
    path.write_bytes(bytes(data))
    return path


# -- the flags, as Ollama's appendDraftArgs (llm/llama_server.go) builds them ----------------
@pytest.mark.parametrize(
    ("info", "n", "draft_arch", "want"),
    [
        (OllamaSpecInfo("m", "llama"), 4, None, ()),  # no draft, no heads: nothing
        (
            OllamaSpecInfo("m", "qwen35", 1),
            4,
            None,
            (
                "--spec-type",
                "draft-mtp",
                "--spec-draft-n-max",
                "4",
                "--spec-draft-backend-sampling",
            ),
        ),
        (
            OllamaSpecInfo("m", "llama", draft_path="draft.gguf"),
            8,
            "llama",
            (
                "--spec-type",
                "draft-mtp",
                "--spec-draft-n-max",
                "8",
                "--spec-draft-backend-sampling",
                "--spec-draft-model",
                "draft.gguf",
            ),
        ),
        (
            OllamaSpecInfo("m", "llama", draft_path="draft.gguf"),
            4,
            "dflash",
            (
                "--spec-type",
                "draft-dflash",
                "--spec-draft-n-max",
                "4",
                "--spec-draft-model",
                "draft.gguf",
            ),
        ),
        (OllamaSpecInfo("m", "llama", draft_path="draft.gguf"), 0, "dflash", ()),
    ],
)
def test_draft_args_as_ollama_builds_them(info, n, draft_arch, want):
    assert ollama_draft_args(info, n, draft_arch) == want


def test_draft_num_predict_defaults_as_routes_go():
    assert OllamaSpecInfo("m", "qwen35", 1).effective_draft_num_predict() == 0  # MTP: must be set
    assert OllamaSpecInfo("m", "llama", draft_path="d").effective_draft_num_predict() == 4
    assert OllamaSpecInfo("m", "qwen35", 1, draft_num_predict=6).effective_draft_num_predict() == 6
    assert OllamaSpecInfo("m", "qwen35", 1).effective_draft_num_predict(2) == 2


def test_mtp_heads_from_show_and_the_advice():
    show = {"model_info": {"general.architecture": "glm4moe", "glm4moe.nextn_predict_layers": 1}}
    info = info_from_show("glm", show)
    assert info.has_mtp
    (advice,) = mtp_advice(info)
    assert "MTP" in advice and "will not use them unless draft_num_predict is set" in advice
    show["parameters"] = "draft_num_predict              3\ntemperature 0.2\n"
    assert "drafts 3 tokens per step" in mtp_advice(info_from_show("glm", show))[0]
    legacy = {"model_info": {"general.architecture": "qwen35"}, "tensors": [{"name": "mtp.fc"}]}
    assert info_from_show("q", legacy).has_mtp
    other = {"model_info": {"general.architecture": "llama"}, "tensors": [{"name": "mtp.fc"}]}
    assert not info_from_show("l", other).has_mtp  # mtp.* counts only for qwen35(moe)
    assert mtp_advice(info_from_show("l", other)) == []


def test_mtp_heads_from_a_gguf_blob(tmp_path, smol_model):
    g = _gguf_with_tensors(
        tmp_path / "q.gguf", {"general.architecture": "qwen35"}, ["blk.0.attn_q.weight", "mtp.fc"]
    )
    assert tensor_names(g, "mtp.") == ["mtp.fc"] and info_from_gguf(g).has_mtp
    nextn = write_gguf(
        tmp_path / "n.gguf", {"general.architecture": "glm4moe", "glm4moe.nextn_predict_layers": 1}
    )
    assert info_from_gguf(nextn).nextn_predict_layers == 1
    real = info_from_gguf(smol_model)  # SmolLM2 has no MTP heads
    assert not real.has_mtp and "token_embd.weight" in tensor_names(smol_model)


@settings(max_examples=150, deadline=2000)
@given(st.binary(max_size=300))
def test_tensor_names_on_garbage_is_a_clear_error(tmp_path_factory, blob):
    p = tmp_path_factory.mktemp("g") / "x.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<I", 3) + blob)
    try:
        tensor_names(p)
    except NotGGUF as exc:
        assert str(exc)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["model_info", "tensors", "modelfile", "parameters"]), JSONISH)
)
def test_info_from_show_accepts_whatever_the_server_sends(show):
    info = info_from_show("m", show)
    assert info.nextn_predict_layers >= 0 and isinstance(mtp_advice(info), list)


def test_this_llama_server_accepts_ollamas_spec_types_and_flags():
    support = server_support(find_program("llama-server"))
    assert {"draft-mtp", "draft-dflash", "draft-simple"} <= support.spec_types
    args = ("--spec-type", "draft-mtp", "--spec-draft-backend-sampling", "--spec-draft-model", "d")
    assert support.missing(args) == []
    assert support.missing(("--spec-type", "draft-eagle9")) == [
        "this llama-server does not accept --spec-type draft-eagle9"
    ]
    assert parse_help("--spec-type [none|ngram-simple]   help").spec_types == {
        "none",
        "ngram-simple",
    }


# -- derived models: version gate, never overwrite, undo ---------------------------------------
def test_use_in_ollama_version_gate_creates_nothing(tmp_path):
    with FakeOllama(version="0.29.1") as fake:
        with pytest.raises(DerivedModelError, match="needs Ollama ≥ 0.30.0"):
            use_in_ollama(fake.url, spec_plan(MODEL), journal=DerivedJournal(tmp_path / "j.json"))
        assert fake.derived == {} and not [r for r in fake.requests if r[1] == "/api/create"]


def test_never_overwrites_a_users_model_and_undo_only_ours(tmp_path):
    journal = DerivedJournal(tmp_path / "j.json")
    with FakeOllama() as fake:
        fake.derived[SPEC] = {"temperature": 1}  # the user's own model of that name
        with pytest.raises(DerivedModelError, match="VeloLLM did not create it"):
            create_derived(fake.url, SPEC, MODEL, {"draft_num_predict": 4}, journal=journal)
        with pytest.raises(DerivedModelError, match="not created by VeloLLM"):
            delete_derived(fake.url, SPEC, journal)
        assert fake.derived[SPEC] == {"temperature": 1}
        del fake.derived[SPEC]
        applied = use_in_ollama(fake.url, spec_plan(MODEL, None, 3), journal=journal, measure=False)
        assert fake.derived[SPEC] == {"draft_num_predict": 3} and journal.ours(SPEC)
        assert applied.ollama_version == "0.33.0"
        undo_use_in_ollama(fake.url, SPEC, journal)
        assert SPEC not in fake.derived and not journal.ours(SPEC)


@pytest.mark.slow
def test_runner_maps_the_draft_exactly_and_surfaces_llama_servers_refusal(
    tmp_path, smol_f32, smol_model
):
    """F32 target + Q4_1 draft, attached as Ollama's DRAFT: Ollama ≥ 0.30 passes draft-mtp for
    any non-DFlash draft; this llama-server refuses a draft without MTP layers."""
    journal = DerivedJournal(tmp_path / "j.json")
    with FakeOllama(runner_model=smol_f32) as fake:
        create_derived(fake.url, SPEC, MODEL, {}, draft=smol_model, journal=journal)
        blob = fake.drafts[SPEC]
        assert blob.read_bytes()[:4] == b"GGUF" and ("POST", "/api/blobs/sha256:") in [
            (r[0], r[1][:18]) for r in fake.requests
        ]
        with OllamaClient(fake.url) as client:
            info, advice = ollama_model_advice(fake.url, SPEC)
            assert info.draft_path == str(blob) and "drafts 4 tokens per step" in advice[0]
            with pytest.raises(ServerError, match="MTP"):
                list(client.generate(SPEC, "Hi", {"num_predict": 8, "temperature": 0}))
            assert fake.launched[-1][-7:] == [
                "--spec-type",
                "draft-mtp",
                "--spec-draft-n-max",
                "4",  # routes.go: 4 by default with an attached draft
                "--spec-draft-backend-sampling",
                "--spec-draft-model",
                str(blob),
            ]
            off = list(client.generate(SPEC, "Hi", {"num_predict": 8, "draft_num_predict": 0}))
            assert off[-1].done and "--spec-type" not in fake.launched[-1]
            list(client.generate(MODEL, "Hi", {"num_predict": 4}))  # no heads, no draft
            assert "--spec-type" not in fake.launched[-1]
        delete_derived(fake.url, SPEC, journal)
        assert fake.derived == {} and journal.load() == {}
        # "Use in Ollama" with this pair: created, Ollama cannot run it, so it is removed again
        with pytest.raises(DerivedModelError, match="deleted again"):
            use_in_ollama(
                fake.url,
                spec_plan(MODEL, smol_model, 4, "llama"),
                journal=journal,
                budget_s=10,
                n_predict=8,
            )
        assert fake.derived == {} and journal.load() == {}


def test_refusal_note_names_the_cause_not_the_noise():
    from velollm_desktop.core.speculative.compare import SpecMode, refused_note

    log = "\n".join(
        [
            "llama-server exited with status 1 at start:",
            "0.01 W security: no API key is set and CORS allows all origins",
            "0.04 W llama_init_from_model: context type MTP requested but model doesn't contain "
            "MTP layers",
            "0.04 E common_speculative_init_result: failed to create MTP context",
            "0.04 E srv    load_model: failed to create MTP context",
            "0.04 E srv  llama_server: exiting due to model loading error",
        ]
    )
    note = refused_note(SpecMode("ollama", ("--spec-type", "draft-mtp")), log)
    assert note.endswith(
        "refuses these flags: context type MTP requested but model doesn't contain MTP layers; "
        "failed to create MTP context. Ollama ≥ 0.30 passes the same flags to its own "
        "llama-server, so expect the same there."
    )
    assert "security" not in note and "exiting" not in note
