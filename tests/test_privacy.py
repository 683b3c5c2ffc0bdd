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


# ----------------------------------------------------------------------------- hostile corpus


def _nhs_numbers(n: int) -> list[str]:
    out, i = [], 400_000_000
    while len(out) < n:
        i += 7919
        d = f"{i:09d}"
        check = 11 - sum(int(x) * w for x, w in zip(d, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            out.append(d + str(check))
    return out


def hostile_corpus() -> list[tuple[str, list[str]]]:
    """(answer, tokens that must not survive redaction): personal details as people write them."""
    cases: list[tuple[str, list[str]]] = []
    zw = "\u200b"
    for local, domain in (("jo.bloggs", "example.org"), ("sam_smith1", "mail.co.uk"),
                          ("kieran.oneil", "school.sch.uk"), ("priya.kaur", "nhs.net")):
        user, host = domain.split(".", 1)
        forms = [f"{local}@{domain}", f"{local.upper()}@{domain.upper()}", f"{local}＠{domain}",
                 f"{local[:3]}{zw}{local[3:]}@{domain}", f"{local}@\n{domain}",
                 f"{local.replace('.', ' dot ')} at {user} dot {host.replace('.', ' dot ')}",
                 f"{local}(at){user}(dot){host.replace('.', '(dot)')}",
                 f"{local} [at] {user} [dot] {host.replace('.', ' [dot] ')}",
                 f"{local} @ {domain}"]
        for f in forms:
            token = local.replace(".", " ").split()[-1].replace("_", " ").split()[-1]
            cases.append((f"Please email me at {f} if you want to talk.", [token]))
    for national in ("7700 900123", "20 7946 0958", "113 496 0000"):
        digits = national.replace(" ", "")
        a, b = national.split(" ", 1)
        forms = [f"0{national}", f"+44 {national}", f"0044 {national}", f"+44 (0){national}",
                 f"(0{a}) {b}", f"0{national}".replace(" ", "."), f"+44-{national.replace(' ', '-')}",
                 f"0{digits}", f"+44{digits}"]
        for f in forms:
            cases.append((f"You can ring me on {f} after six.", [digits[-4:]]))
    for number in _nhs_numbers(6):
        for f in (f"{number[:3]} {number[3:6]} {number[6:]}", number,
                  f"{number[:3]}-{number[3:6]}-{number[6:]}"):
            cases.append((f"Her NHS number is {f} if that helps.", [number[-4:]]))
    for day, month, name, year in ((12, 3, "March", 2015), (1, 1, "January", 2016),
                                   (23, 11, "November", 2012), (5, 7, "July", 2019),
                                   (30, 9, "September", 2010)):
        for f in (f"{day:02d}/{month:02d}/{year}", f"{day}.{month}.{str(year)[2:]}",
                  f"{day}-{month}-{year}", f"{day} {name} {year}", f"{day}th of {name[:3]} {year}",
                  f"{name} {day}, {year}"):
            cases.append((f"My son was born on {f} in hospital.", [str(year)[2:]]))
    for code in ("SO17 1BJ", "LS6 2AB", "W1B 2HW", "EC1A 1BB", "GIR 0AA", "M1 1AE"):
        out, inward = code.split()
        for f in (code, code.lower(), out + inward, " ".join(code.replace(" ", "")),
                  f"{out}  {inward}"):
            cases.append((f"We live in {f} near the park.", [inward, inward.lower()]))
    for name in ("jack", "aisling", "Amelia", "mohammed", "kyle", "oliwia", "Kofi", "siobhan",
                 "Zainab", "tyrone"):
        for f in (f"my son {name} is", f"our daughter {name} has", f"she is called {name} and",
                  f"my little boy {name} was", f"a girl named {name} in"):
            cases.append((f"The council wrote about {f} it upset us.", [name.lower()]))
    # In lower case too: the words before the keyword up to an ordinary one ("at").
    cases.append(("ask aisling o'brien at holy cross school what happened",
                  ["aisling", "brien", "holy", "cross"]))
    for school, token in (("st bartholomew's primary", "bartholomew"),
                          ("oakfield academy", "oakfield"), ("little acorns nursery", "acorns")):
        cases.append((f"my daughter goes to {school} and they told", [token]))
    for school, token in (("Holy Cross School", "holy"), ("St Mary's primary", "mary"),
                          ("Oakfield Academy", "oakfield"), ("Greenfields Nursery", "greenfields")):
        for f in (f"the teachers at {school} told", f"{school} shared it", f"she goes to {school}."):
            cases.append((f"I found out that {f} with the police.", [token]))
    for handle in ("@jo_bloggs", "@SamSmith1978"):
        cases.append((f"Message me on twitter {handle} about it.", [handle[1:]]))
    for nino in ("QQ 12 34 56 C", "AB123456D"):
        cases.append((f"My NI number is {nino} if needed.", [nino, nino[:2] + " " + nino[3:5]]))
    for url in ("https://example.org/my-family", "www.facebook.com/jo.bloggs", "http://bit.ly/x1y2"):
        cases.append((f"See {url} for what happened.", [url.split("/")[-1] or url]))
    return cases


def test_hostile_corpus_is_fully_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = hostile_corpus()
    assert len(corpus) >= 200
    missed = []
    for text, tokens in corpus:
        out = redact(text, 600).lower()
        if any(t.lower() in out for t in tokens):
            missed.append((text, redact(text, 600)))
    recall = 1 - len(missed) / len(corpus)
    with capsys.disabled():
        print(f"\nredaction recall on {len(corpus)} hostile answers: {recall:.3f}")
    assert missed == [], "\n".join(f"{a!r} -> {b!r}" for a, b in missed[:20])


ORDINARY = [
    "I will trust the council in May.",
    "I looked at the council website and it said nothing about this.",
    "The local primary school was good at telling us what they do.",
    "We have 3 kids and in 2019 we moved house.",
    "My son is autistic and the school has been great.",
    "Councils make mistakes with records and families pay the price.",
    "Private companies should not be anywhere near our children's data.",
    "Data should only be shared if parents are told first and can say no.",
    "It is about 50 50 for me, depends who is looking at it.",
    "At least tell us when it happens, that is all I ask.",
    "We got a letter from the school at the end of term.",
    "I would say no to the police but yes to the NHS.",
    # found by review: each was changed by an earlier version of the patterns
    "We meet at 10 am and my 14 yo comes too, he is 16 or over in 10 or 20 years.",
    "It happened 12 to 15 times in the 2020-2021 school year and cost £1,200.",
    "My daughter loves it, my son didn't get help and their children need support.",
    "My ex husband works nights; they called us twice and called social services.",
    "Their partner agencies and the named person scheme were no help.",
    "After school clubs, Every school, Primary school teachers and High school.",
    "Sixth form college, mainstream school, Pre school and the council nursery.",
    "I work at home. Me and my partner looked at it. Co-operation matters.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_answers_are_left_alone(text: str) -> None:
    assert redact(text, 600) == text


@pytest.mark.parametrize("text", ["a at " * 20000, "0 " * 50000, "my son " * 20000, "x." * 50000,
                                  "School " * 20000, "Ab " * 30000 + "school", "a@" * 30000])
def test_no_pattern_backtracks_on_long_answers(text: str) -> None:
    """Redaction runs on the whole answer before the cap: a pattern that backtracks would stall
    ingest on one long answer (earlier versions took over a minute on "x." * 50000)."""
    import time

    t0 = time.perf_counter()
    redact(text, 600)
    assert time.perf_counter() - t0 < 10
