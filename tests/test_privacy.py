from __future__ import annotations

import pytest

from parentlink.privacy import pseudonym, redact


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Email me at jo.bloggs@example.org please", "jo.bloggs@example.org"),
        ("Call me on 07700 900123 any time", "07700 900123"),
        ("ring +44 20 7946 0958", "7946 0958"),
        ("We live near SO17 1BJ and", "SO17 1BJ"),
        ("postcode w1b2hw", "w1b2hw"),
        ("My name is Sarah Jones and", "Sarah"),
        ("Ask Mrs Okafor at the school", "Okafor"),
        ("Ask Gareth at the office", "Gareth"),
        ('<img src="file:///etc/passwd">', "file:///etc/passwd"),
    ],
)
def test_redact_removes_personal_data(text: str, gone: str) -> None:
    out = redact(text, 600)
    assert gone not in out
    assert "[" in out


def test_redact_keeps_ordinary_words_and_caps_length() -> None:
    assert redact("I will trust the council in May.", 600) == "I will trust the council in May."
    long = "word " * 1000
    out = redact(long, 100)
    assert len(out) == 100 and out.endswith("…")


def test_redact_reads_a_bounded_head_of_huge_answers() -> None:
    """A 100 kB answer is capped without scanning all of it (no quadratic regex) or leaking a part."""
    assert redact("A" * 100_000, 600) == "…"
    spaced = " " * 3000 + "mail jo.bloggs@example.org" + "x" * 100_000
    assert redact(spaced, 600) == "…"  # the address lies past the part read: nothing of it kept
    head = "word " * 10 + " " * 2600 + "jo.bloggs@exam" + "ple.org and more"
    out = redact(head, 600)
    assert "jo.bloggs" not in out and out.endswith("…")  # half an address at the cut is dropped
    assert redact("x" * 5000 + "@example.org", 600) == "…"


def test_pseudonym_is_stable_keyed_and_not_the_id() -> None:
    a = pseudonym("PNL1234567", "k1")
    assert a == pseudonym("PNL1234567", "k1")
    assert a != pseudonym("PNL1234567", "k2")
    assert "1234567" not in a and a.startswith("R") and len(a) == 17
