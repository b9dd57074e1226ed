"""Sentences from parts (issue 27 item 6): whole sentences, none twice, never cut mid-word."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from velollm_desktop.core.wording import sentence, sentences, shorten


def test_parts_become_sentences_once_each():
    text = sentences(
        [
            "Budget: 8 GiB of available RAM",
            "Ollama is not running at http://127.0.0.1:9, or set the right address in Settings",
            "",
            None,
            "With no model to plan for, the recommendation comes from the hardware tiers",
            "with no model to plan for, the recommendation comes from the hardware tiers.",
        ]
    )
    assert text == (
        "Budget: 8 GiB of available RAM. Ollama is not running at http://127.0.0.1:9, or set "
        "the right address in Settings. With no model to plan for, the recommendation comes "
        "from the hardware tiers."
    )
    assert sentence("ok.") == "Ok." and sentence("  ") == ""


def test_shorten_keeps_whole_sentences_or_words():
    text = "First sentence here. The hardware tiers are used instead of the fit for this machine."
    assert shorten(text, 40) == "First sentence here."
    assert shorten("the hardware tiers are used", 22) == "the hardware tiers…"
    assert shorten("short", 300) == "short"


@given(st.text(alphabet=st.sampled_from("ab .,!"), max_size=400), st.integers(10, 300))
def test_shorten_never_cuts_a_word(text, limit):
    out = shorten(text, limit)
    norm = " ".join(text.split())
    body = out[:-1] if out.endswith("…") else out
    assert len(out) <= limit and norm.startswith(body)
    rest = norm[len(body) :]
    assert rest == "" or rest[0] in " ,;:—-" or body == ""  # ends at a word boundary
