"""Properties of the recorded environment: any text (no NUL) survives the journal's JSON, and
no value ever stands outside a PowerShell string literal in the scripts we run (read with
PowerShell's rule for single quotes, which also counts ‘ ’ ‚ ‛)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.optimize.fake_env import LIT, FakeWindowsUser, ps_assignments, ps_tokens
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.catalogue import NEVER_EXISTED
from velollm_desktop.core.optimize.journal import (
    EntryState,
    EnvValue,
    JournalEntry,
    read_entries,
    write_entries,
)
from velollm_desktop.core.optimize.targets import read_user_env_script, set_user_env_script
from velollm_desktop.core.optimize.writers import MANAGED_MARK, render_windows

NAMES = st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,12}\Z").filter(lambda n: n not in NEVER_EXISTED)
TRICKY = st.text(alphabet=st.sampled_from([*"'\u2018\u2019\u201a\u201b\"$`;()#@ {}a", "\n", "\r"]))
TEXT = st.one_of(st.text(alphabet=st.characters(blacklist_characters="\0")), TRICKY)
LINE = TEXT.map(lambda v: v.replace("\n", "").replace("\r", "")[:4096])


def _call(value: str | None) -> str:
    return (
        f"[Environment]::SetEnvironmentVariable({LIT}, {'$null' if value is None else LIT}, {LIT})"
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(NAMES, st.none() | TEXT, TEXT), max_size=4))
def test_any_recorded_value_round_trips_through_the_journal(records):
    entry = JournalEntry(
        target=Path("/x/io.velollm.ollama-env.plist"),
        backup=None,
        existed=False,
        mode=None,
        uid=None,
        gid=None,
        sha256="00",
        time_s=1.5,
        state=EntryState.INTENT,
        env=tuple(EnvValue(*r) for r in records),
    )
    with tempfile.TemporaryDirectory() as d:
        write_entries(Path(d) / "j.json", [entry])
        assert read_entries(Path(d) / "j.json") == [entry]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, st.none() | TEXT, max_size=4))
def test_undo_script_holds_values_only_inside_literals(values):
    script = set_user_env_script(values)
    code, _ = ps_tokens(script)
    assert code == "; ".join([f"$ErrorActionPreference = {LIT}", *map(_call, values.values())])
    assert ps_assignments(script) == list(values.items())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, LINE, max_size=4))
def test_apply_script_holds_values_only_inside_literals(env):
    script = render_windows(env)
    code, _ = ps_tokens(script)
    calls = [_call(v) for _, v in sorted(env.items())]
    head = f"{MANAGED_MARK}. Quit Ollama from the taskbar first; start it again afterwards."
    assert code == "\n".join([head, *calls]) + "\n"
    assert ps_assignments(script) == sorted(env.items())


@settings(max_examples=100, deadline=None)
@given(st.lists(NAMES, max_size=4, unique=True))
def test_read_script_names_only_literals(names):
    code, literals = ps_tokens(read_user_env_script(names))
    assert literals[1 : 1 + len(names)] == names
    assert code == ps_tokens(read_user_env_script(["X"] * len(names)))[0]  # names change no code


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(NAMES, LINE.filter(bool), max_size=3),
    st.dictionaries(NAMES, LINE, min_size=1, max_size=3),
)
def test_apply_then_undo_gives_any_user_environment_back(before, env):
    fake = FakeWindowsUser(before)
    with tempfile.TemporaryDirectory() as d:
        applier = Applier(runner=fake, journal=Path(d) / "j.json", platform="win32")
        applier.apply(applier.plan(env))
        assert fake.env == {k: v for k, v in {**before, **env}.items() if v}
        applier.undo()
    assert fake.env == before


def test_a_typographic_quote_would_end_a_naively_quoted_string():
    """Why powershell_quote doubles ‘ ’ ‚ ‛ too: PowerShell ends a '…' string at any of them."""
    value = "x\u2019; Remove-Item -Recurse ~; \u2018"
    naive = "'" + value.replace("'", "''") + "'"
    code, _ = ps_tokens(f"Write-Output {naive}")
    assert "Remove-Item" in code
    code, literals = ps_tokens(set_user_env_script({"OLLAMA_ORIGINS": value}))
    assert "Remove-Item" not in code and value in literals
