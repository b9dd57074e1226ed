"""systemd drop-in parsing (systemd.syntax(7), systemd.exec(5)) and the lossless merge."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from velollm_desktop.core.optimize.parse import (
    environment_assignments,
    split_words,
    unit_environment,
    unit_lines,
)
from velollm_desktop.core.optimize.sources import parse_environment_lines
from velollm_desktop.core.optimize.writers import render_systemd, systemd_quote

OURS = {"OLLAMA_KEEP_ALIVE": "10m", "OLLAMA_FLASH_ATTENTION": "1"}


def test_systemd_rules_several_assignments_spaces_quotes_later_wins_reset():
    text = (
        "[Unit]\nEnvironment=NOT_SERVICE=1\n"
        "[Service]\n"
        '# comment\n; comment too\nEnvironment="A=1" "B=two words" C=3\n'
        "Environment = D=4\n"
        "Environment=A=5 \\\n  E=6\n"
        "Environment='F=it''s' G=\"x\\\"y\" H=a\\tb I=%%\n"
        'Environment="BROKEN=unterminated\n'
    )
    assert unit_environment(text) == {
        "A": "5",
        "B": "two words",
        "C": "3",
        "D": "4",
        "E": "6",
        "F": "its",
        "G": 'x"y',
        "H": "a\tb",
        "I": "%",
    }
    assert unit_environment(text + "Environment=\nEnvironment=Z=1\n") == {"Z": "1"}
    assert parse_environment_lines(text) == unit_environment(text)  # the reader uses it


def test_merge_keeps_other_assignments_on_a_shared_line_and_ours_win():
    """Before: our variable first on a line deleted the user's A; not first, the user's
    later line silently overrode ours (and our reader then reported theirs)."""
    for existing in (
        '[Service]\nEnvironment="OLLAMA_KEEP_ALIVE=5m" "A=1"\n',
        '[Service]\nEnvironment="A=1" "OLLAMA_KEEP_ALIVE=5m"\n',
        "[Service]\nEnvironment = OLLAMA_KEEP_ALIVE=5m A=1\n",
    ):
        merged = render_systemd(OURS, existing)
        assert unit_environment(merged) == {"A": "1", **OURS}
        assert existing.splitlines()[1] in merged.splitlines()  # byte for byte


def test_merge_twice_is_stable_and_drops_only_whole_lines_of_ours():
    existing = "[Unit]\nDescription=x\n\n[Service]\nEnvironment=OLLAMA_KEEP_ALIVE=1h\nEnvironment=B=2\n[Install]\nWantedBy=x\n"
    once = render_systemd(OURS, existing)
    assert render_systemd(OURS, once) == once
    assert "Environment=OLLAMA_KEEP_ALIVE=1h" not in once
    assert "Environment=B=2" in once and "WantedBy=x" in once
    assert unit_environment(once) == {"B": "2", **OURS}


NAMES = st.sampled_from(["A", "B_2", "OLLAMA_KEEP_ALIVE", "OLLAMA_FLASH_ATTENTION", "OLLAMA_HOST"])
VALUES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=8)


def _word(name: str, value: str, style: int) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if style == 0 or any(c in value for c in " \t'\"\\%"):
        return f'"{name}={escaped}"'
    return f"{name}={value}" if style == 1 else f"'{name}={value}'"


@st.composite
def dropins(draw) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["env", "env", "env", "section", "comment", "reset", "other"]))
        if kind == "section":
            lines.append(draw(st.sampled_from(["[Service]", "[Unit]", "[Install]"])))
        elif kind == "comment":
            lines.append(draw(st.sampled_from(["# note", "; note", ""])))
        elif kind == "reset":
            lines.append("Environment=")
        elif kind == "other":
            lines.append(draw(st.sampled_from(["ExecStart=/x", "Restart=always", "User=ollama"])))
        else:
            words = [
                _word(draw(NAMES), draw(VALUES), draw(st.integers(0, 2)))
                for _ in range(draw(st.integers(1, 3)))
            ]
            eq = draw(st.sampled_from(["=", " = ", "= "]))
            cont = draw(st.booleans()) and len(words) > 1
            sep = " \\\n  " if cont else " "
            lines.append("Environment" + eq + sep.join(words))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n", " \\"]))


@settings(max_examples=300, deadline=None)
@given(
    existing=dropins(),
    ours=st.dictionaries(NAMES, VALUES.filter(lambda v: "\n" not in v), max_size=3),
)
def test_merge_property_parse_of_merge_is_existing_updated_with_ours(existing, ours):
    merged = render_systemd(ours, existing)
    assert unit_environment(merged) == {**unit_environment(existing), **ours}
    # every line but whole lines of ours survives byte for byte, in order
    lines = existing.split("\n")
    ours_only = set()
    for ul in unit_lines(existing):
        names = [n for n, _ in environment_assignments(ul.value)] if ul.key == "Environment" else []
        if ul.section == "Service" and names and all(n in ours for n in names):
            ours_only.update(range(ul.first, ul.last + 1))
    expected = [ln for i, ln in enumerate(lines) if i not in ours_only and ln.strip()]
    got = iter(merged.split("\n"))
    assert all(any(ln == g for g in got) for ln in expected), (expected, merged)


@given(name=NAMES, value=VALUES)
def test_our_quoting_round_trips_through_the_parser(name, value):
    assert unit_environment(f"[Service]\n{systemd_quote(name, value)}\n") == {name: value}


@given(text=st.text(max_size=60))
def test_split_words_never_raises(text):
    assert isinstance(split_words(text), list)
