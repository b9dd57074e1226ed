"""`velollm optimize --apply --only-models` / `--undo-models` against the stand-in Ollama."""

from __future__ import annotations

import os

from tests.conftest import run_cli
from tests.ollama_fake import MODEL, FakeOllama
from velollm_desktop.core.optimize.per_model import per_model_plans
from velollm_desktop.core.optimize.recommend import Reason, Recommendation


def test_plans_skip_our_own_models_and_carry_reasons():
    rec = Recommendation(
        "fit",
        {},
        {MODEL: {"num_ctx": 8192}, "smollm2-velollm:135m": {"num_ctx": 8192}, "x:1b": {}},
        (),
        (Reason(f"{MODEL}: num_ctx", "8192", "this model alone fits 8192 tokens"),),
        "test",
    )
    (plan,) = per_model_plans(rec)
    assert plan.name == "smollm2-velollm:135m" and plan.options == {"num_ctx": 8192}
    assert plan.reasons == ("8192: this model alone fits 8192 tokens",)


def test_cli_creates_per_model_models_and_undoes(velollm_exe):
    with FakeOllama() as fake:
        env = dict(os.environ, OLLAMA_HOST=fake.url.removeprefix("http://"))
        res = run_cli(velollm_exe, "optimize", "--apply", "--only-models", env=env)
        assert res.returncode != 0 and "needs --yes" in res.stderr and fake.derived == {}
        res = run_cli(velollm_exe, "optimize", "--apply", "--only-models", "--yes", env=env)
        assert res.returncode == 0, res.stderr
        assert list(fake.derived) == ["smollm2-velollm:135m"]
        assert fake.derived["smollm2-velollm:135m"].get("num_thread")  # CPU only: per model
        assert "created smollm2-velollm:135m" in res.stdout and "  - " in res.stdout
        res = run_cli(velollm_exe, "optimize", "--undo-models", env=env)
        assert res.returncode == 0 and "deleted smollm2-velollm:135m" in res.stdout
        assert fake.derived == {}
