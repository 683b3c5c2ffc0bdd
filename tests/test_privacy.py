from __future__ import annotations

import pytest

from parentlink.errors import UserError
from parentlink.privacy import pseudonym, pseudonym_key, redact


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


def test_huge_answers_are_redacted_whole_then_capped() -> None:
    """A 100 kB answer is redacted before the cap (no half number or address survives the cut)
    and in linear time (the e-mail pattern used to rescan a long run from every position)."""
    assert redact("A" * 100_000, 600) == "A" * 599 + "…"
    pad = " " * 3000
    for secret, mark in (("07700 900 123", "[phone]"), ("LS6 2AB", "[postcode]"),
                         ("jo.bloggs@example.org", "[email]")):
        out = redact(pad + "We live at " + secret + " and " + "x" * 100_000, 40)
        assert out.startswith("We live at " + mark) and secret.split()[0] not in out, out
    assert redact("a@b.com+c@d.com and jo@x.org.+sam@y.org", 600).count("@") == 0


def test_pseudonym_is_stable_keyed_and_not_the_id() -> None:
    a = pseudonym("PNL1234567", "k1")
    assert a == pseudonym("PNL1234567", "k1")
    assert a != pseudonym("PNL1234567", "k2")
    assert "1234567" not in a and a.startswith("R") and len(a) == 17


PRIVACY = {"pseudonym_key_env": "PARENTLINK_TEST_KEY_VARIABLE", "fallback_pseudonym_key": "published"}


def test_real_data_without_the_key_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARENTLINK_TEST_KEY_VARIABLE", raising=False)
    with pytest.raises(UserError, match="PARENTLINK_TEST_KEY_VARIABLE .* is not set"):
        pseudonym_key(PRIVACY, synthetic=False)
    assert pseudonym_key(PRIVACY, synthetic=True) == "published"  # synthetic data only


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARENTLINK_TEST_KEY_VARIABLE", "s3cret")
    assert pseudonym_key(PRIVACY, synthetic=False) == "s3cret"
    assert pseudonym_key(PRIVACY, synthetic=True) == "s3cret"
