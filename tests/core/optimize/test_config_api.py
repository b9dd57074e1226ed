"""`OllamaConfig`: from_env as Ollama parses, to_env_exports through a real /bin/sh, merge."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velollm_desktop.core.optimize import OllamaConfig
from velollm_desktop.core.optimize.catalogue import BY_NAME, VarType
from velollm_desktop.core.optimize.writers import UnsafeValue

STRINGS = [n for n, v in BY_NAME.items() if v.type is VarType.STRING]


def source_in_sh(script: str, names: list[str]) -> dict[str, str]:
    """Run `script` with /bin/sh from an empty environment and read the variables back."""
    dump = "".join(f"printf '%s\\0' \"${{{n}-__UNSET__}}\"\n" for n in names)
    out = subprocess.run(
        ["/bin/sh", "-c", script + "\n" + dump],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        timeout=10,
    ).stdout
    return dict(zip(names, out.decode().split("\0")[: len(names)], strict=True))


def test_from_env_parses_as_ollama_and_lists_unknown_and_never_read_apart():
    cfg = OllamaConfig.from_env(
        {
            "OLLAMA_NUM_PARALLEL": "abc",  # invalid uint → default with a warning
            "OLLAMA_KEEP_ALIVE": "1h30m",
            "OLLAMA_FLASH_ATTENTION": "yes",  # not a Go bool → Ollama reads it as true
            "OLLAMA_KV_CACHE_TYPE": "",  # empty = unset
            "OLLAMA_NUM_GPU": "99",  # never read
            "OLLAMA_NOT_A_THING": "1",
            "HOME": "/home/x",
        }
    )
    assert cfg.values == {"OLLAMA_KEEP_ALIVE": "1h30m", "OLLAMA_FLASH_ATTENTION": "yes"}
    assert cfg.get("OLLAMA_NUM_PARALLEL") == 1 and cfg.get("OLLAMA_KEEP_ALIVE") == 5400
    assert cfg.get("OLLAMA_FLASH_ATTENTION") is True
    assert cfg.unknown == ("OLLAMA_NOT_A_THING",) and cfg.never_read == ("OLLAMA_NUM_GPU",)
    assert any("OLLAMA_NUM_PARALLEL='abc'" in w and "uses 1" in w for w in cfg.warnings)
    assert any("OLLAMA_NUM_GPU" in w and "num_gpu" in w for w in cfg.warnings)
    exports = cfg.to_env_exports()
    assert "OLLAMA_NUM_GPU" not in exports and "OLLAMA_NOT_A_THING" not in exports
    assert "export OLLAMA_KEEP_ALIVE='1h30m'" in exports


def test_go_whitespace_not_python_whitespace():
    # Go's TrimSpace keeps U+001E (Python's str.strip would remove it): not a number for Ollama
    cfg = OllamaConfig.from_env({"OLLAMA_NUM_PARALLEL": "2\x1e", "OLLAMA_MAX_QUEUE": " 64\u3000"})
    assert "OLLAMA_NUM_PARALLEL" not in cfg.values and cfg.get("OLLAMA_NUM_PARALLEL") == 1
    assert cfg.get("OLLAMA_MAX_QUEUE") == 64


def test_from_env_defaults_to_os_environ(monkeypatch):
    monkeypatch.setenv("OLLAMA_MAX_QUEUE", "64")
    assert OllamaConfig.from_env().values["OLLAMA_MAX_QUEUE"] == "64"


def test_merge_other_set_values_win_unset_keep_ours():
    a = OllamaConfig({"OLLAMA_NUM_PARALLEL": "2", "OLLAMA_KEEP_ALIVE": "10m"})
    b = OllamaConfig({"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_FLASH_ATTENTION": "1"})
    m = a.merge(b)
    assert m.values == {
        "OLLAMA_NUM_PARALLEL": "4",
        "OLLAMA_KEEP_ALIVE": "10m",
        "OLLAMA_FLASH_ATTENTION": "1",
    }
    assert a.values["OLLAMA_NUM_PARALLEL"] == "2"  # a new value; neither input changes


def test_constructor_refuses_variables_ollama_does_not_read():
    with pytest.raises(ValueError, match="OLLAMA_NUM_CTX"):
        OllamaConfig({"OLLAMA_NUM_CTX": "8192"})


def test_exports_filter_by_version():
    cfg = OllamaConfig({"OLLAMA_NEW_ENGINE": "1", "LLAMA_ARG_FIT_TARGET": "512"})
    assert "OLLAMA_NEW_ENGINE" not in cfg.to_env_exports("0.33.0")
    assert "LLAMA_ARG_FIT_TARGET" not in cfg.to_env_exports("0.20.0")


HOSTILE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\0"),
    min_size=1,
    max_size=60,
).filter(lambda v: v.strip().strip("\"'")) | st.sampled_from(
    ["$(touch /tmp/pwned)", "`id`", "'; rm -rf ~; '", '"$HOME"', "a'b\"c\\d", "%s"]
)
"""Values that are set (Ollama treats blank or quote-only values as unset)."""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(STRINGS), HOSTILE, min_size=1, max_size=4))
def test_exports_sourced_by_sh_give_back_the_values(values):
    cfg = OllamaConfig(values)
    got = source_in_sh(cfg.to_env_exports(), sorted(values))
    assert got == values
    again = OllamaConfig.from_env(got)  # and the round trip parses to the same config
    assert again.values == cfg.values


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(BY_NAME)), st.text(max_size=40), max_size=8))
def test_from_env_never_raises_and_exports_are_safe_or_refused(environ):
    cfg = OllamaConfig.from_env(environ)
    assert set(cfg.values) <= set(BY_NAME)
    try:
        script = cfg.to_env_exports()
    except UnsafeValue as exc:
        assert "line break or NUL" in str(exc)
        assert any(ch in v for v in cfg.values.values() for ch in "\n\r\0")
    else:
        body = [line for line in script.split("\n")[:-1] if not line.startswith("#")]
        assert all(line.startswith("export ") for line in body)
        assert len(body) == len(cfg.values)
