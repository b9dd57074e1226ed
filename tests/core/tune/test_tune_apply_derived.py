"""The tuning apply goes through the shared derived-model code: journalled, never over a
user's model, undo only ours."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.ollama.derived import DerivedModelError
from velollm_desktop.core.tune.ollama import (
    OllamaCandidate,
    apply_ollama_winner,
    undo_ollama_winner,
)


def test_apply_and_undo_are_journalled_and_never_overwrite():
    winner = SimpleNamespace(candidate=OllamaCandidate("num_thread=2", {"num_thread": 2}))
    result = SimpleNamespace(model=MODEL, winner=winner)
    with FakeOllama() as fake:
        fake.derived["smollm2-velollm:135m"] = {"num_ctx": 1}  # the user's own
        with pytest.raises(DerivedModelError, match="did not create it"):
            apply_ollama_winner(result, fake.url)
        assert fake.derived["smollm2-velollm:135m"] == {"num_ctx": 1}
        del fake.derived["smollm2-velollm:135m"]
        name, env = apply_ollama_winner(result, fake.url)
        assert name == "smollm2-velollm:135m" and env == {}
        assert fake.derived[name] == {"num_thread": 2}
        undo_ollama_winner(fake.url, name)
        assert fake.derived == {}
