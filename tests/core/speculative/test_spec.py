"""Speculative decoding: GGUF metadata, Ollama's blobs, parsers on recorded output, real comparisons."""

from __future__ import annotations

import json
import os
import threading

import pytest

from tests.conftest import run_cli
from tests.fakes import FIXTURES
from tests.gguf_writer import write_gguf
from velollm_desktop.core.llamacpp.binaries import BinaryNotFound, find_program
from velollm_desktop.core.llamacpp.gguf import NotGGUF, read_gguf
from velollm_desktop.core.ollama.store import OllamaModelNotFound, list_models, resolve
from velollm_desktop.core.speculative.cli_parsers import (
    parse_completion,
    parse_speculative,
    run_seed_tools,
)
from velollm_desktop.core.speculative.compare import (
    CompareCancelled,
    SpecMode,
    compatibility_problems,
    draft_mode,
    ngram_mode,
    run_compare,
)


def test_gguf_metadata_of_the_real_model(smol_model):
    g = read_gguf(smol_model)
    assert g.architecture == "llama" and g.quantization == "Q4_1"
    assert g.vocab_size == 49152 and g.tokenizer_model == "gpt2" and g.arch("block_count") == 30


def test_not_gguf_and_truncated(tmp_path, smol_model):
    (tmp_path / "a.gguf").write_bytes(b"PK\x03\x04 zip, not gguf")
    with pytest.raises(NotGGUF, match="not a GGUF"):
        read_gguf(tmp_path / "a.gguf")
    (tmp_path / "b.gguf").write_bytes(smol_model.read_bytes()[:5000])
    with pytest.raises(NotGGUF, match="truncated|ends in the middle"):
        read_gguf(tmp_path / "b.gguf")


def test_compatibility(tmp_path, smol_model):
    target = read_gguf(smol_model)
    assert compatibility_problems(target, read_gguf(smol_model)) == []
    other = read_gguf(
        write_gguf(
            tmp_path / "o.gguf",
            {
                "general.architecture": "llama",
                "tokenizer.ggml.model": "llama",
                "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>"],
                "tokenizer.ggml.bos_token_id": 1,
                "tokenizer.ggml.eos_token_id": 2,
            },
        )
    )
    problems = compatibility_problems(target, other)
    assert any("tokenizers" in p for p in problems) and any(
        "vocabularies differ" in p for p in problems
    )


def _ollama_tree(root, blob_target):
    blobs = root / "blobs"
    blobs.mkdir(parents=True)
    digest = "sha256-" + "c" * 64
    (blobs / digest).symlink_to(blob_target)
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / "smollm2" / "135m"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(
        json.dumps(
            {
                "layers": [
                    {
                        "mediaType": "application/vnd.ollama.image.template",
                        "digest": "sha256:" + "d" * 64,
                    },
                    {
                        "mediaType": "application/vnd.ollama.image.model",
                        "digest": "sha256:" + "c" * 64,
                    },
                ]
            }
        )
    )
    return blobs / digest


def test_resolve_ollama_blob(tmp_path, smol_model):
    blob = _ollama_tree(tmp_path, smol_model)
    assert resolve("ollama:smollm2:135m", [tmp_path]) == blob
    assert list_models([tmp_path]) == ["smollm2:135m"]
    with pytest.raises(OllamaModelNotFound, match="ollama pull llama3"):
        resolve("llama3", [tmp_path])
    with pytest.raises(OllamaModelNotFound, match="invalid"):
        resolve("../../etc:passwd", [tmp_path])


def test_parsers_on_recorded_output():
    spec = parse_speculative((FIXTURES / "llamacpp" / "llama-speculative-b11434.txt").read_text())
    assert (spec.decoded_tokens, spec.n_drafted, spec.n_accepted) == (57, 64, 48)
    assert spec.decode_tokens_per_s == 54.412 and spec.acceptance == 0.75
    comp = parse_completion((FIXTURES / "llamacpp" / "llama-completion-b11434.txt").read_text())
    assert (
        comp.decode_tokens_per_s == 47.54
        and comp.prompt_tokens_per_s == 174.31
        and comp.eval_tokens == 47
    )
    older = "llama_perf_context_print:        eval time =     500.00 ms /    99 runs   (    5.05 ms per token,   198.00 tokens per second)"
    assert parse_completion(older).decode_tokens_per_s == 198.0
    assert parse_speculative("garbage").n_drafted is None


@pytest.mark.slow
def test_real_comparison_every_mode_runs(smol_f32, smol_model):
    modes = [SpecMode("vanilla"), draft_mode(smol_model, 8, 0, 0.0), ngram_mode("ngram-simple")]
    result = run_compare(smol_f32, modes, draft=smol_model, runs=1, n_predict=24, threads=2)
    by = {m.mode: m for m in result.modes}
    assert set(by) == {"vanilla", "draft", "ngram-simple"}
    assert all(len(m.runs) == 2 and m.decode_tokens_per_s for m in result.modes)
    assert by["vanilla"].acceptance is None and by["vanilla"].speedup == pytest.approx(1.0)
    assert by["draft"].drafted > 0 and 0 <= by["draft"].acceptance <= 1
    assert by["draft"].speedup_ci95 is not None and 0 <= by["draft"].agreement_with_vanilla <= 1
    assert result.advice


@pytest.mark.slow
def test_cancel_stops_every_server(smol_f32):
    cancel = threading.Event()

    def progress(event):
        if event.done >= 1:
            cancel.set()

    with pytest.raises(CompareCancelled):
        run_compare(
            smol_f32,
            [SpecMode("vanilla"), ngram_mode("ngram-simple")],
            runs=2,
            n_predict=16,
            threads=2,
            progress=progress,
            cancel=cancel,
        )


def test_incompatible_pair_is_refused_before_any_server(tmp_path, smol_model):
    other = write_gguf(
        tmp_path / "o.gguf", {"general.architecture": "llama", "tokenizer.ggml.model": "llama"}
    )
    with pytest.raises(ValueError, match="cannot draft"):
        run_compare(smol_model, [SpecMode("vanilla"), draft_mode(other)], draft=other)


def test_missing_binary_says_how_to_get_it(tmp_path):
    with pytest.raises(BinaryNotFound, match="does not contain llama-server"):
        find_program("llama-server", str(tmp_path))


@pytest.mark.slow
def test_seed_tools_path(smol_f32, smol_model):
    comp, spec = run_seed_tools(str(smol_f32), str(smol_model), "def add(a, b):", n_predict=16)
    assert comp.decode_tokens_per_s > 0 and spec.n_drafted and spec.acceptance is not None


@pytest.mark.slow
def test_cli_compare_with_ollama_blob_and_json(velollm_exe, tmp_path, smol_model, smol_f32):
    _ollama_tree(tmp_path / "models", smol_model)
    out = tmp_path / "spec.json"
    env = dict(os.environ, OLLAMA_MODELS=str(tmp_path / "models"))
    res = run_cli(
        velollm_exe,
        "compare",
        "--target",
        str(smol_f32),
        "--draft",
        "ollama:smollm2:135m",
        "--runs",
        "1",
        "--n-predict",
        "16",
        "--json",
        str(out),
        "-q",
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert [m["mode"] for m in data["modes"]] == ["vanilla", "draft"]
    for m in data["modes"]:
        assert (
            {"mean", "stddev"} <= m["decode_tokens_per_s"].keys()
            and "speedup" in m
            and "acceptance" in m
        )
    bad = run_cli(velollm_exe, "compare", "--target", "ollama:nope", env=env)
    assert bad.returncode == 2 and "ollama pull nope" in bad.stderr
    assert "saved in the history as comparison #1" in res.stdout and "llama.cpp: " in res.stdout
