"""readability.py: the Flesch–Kincaid grade, and the parents' briefing held to grade 6."""

from __future__ import annotations

from typing import Any

import pytest

from parentlink import readability as RD
from tests.test_render import AUDIENCES, rendered

# Syllables by dictionary (Collins), words briefings use.
WORDS = {"make": 1, "share": 1, "families": 3, "linked": 1, "asked": 1, "the": 1, "parents": 2,
         "acceptable": 4, "council": 2, "records": 2, "little": 2, "agree": 2, "trust": 1,
         "government": 3, "information": 4, "data": 2, "research": 2, "people": 2,
         "services": 3, "children": 2, "police": 2, "computer": 3, "rights": 1, "object": 2,
         "complain": 2, "safe": 1, "shared": 1, "wanted": 2, "together": 3, "anonymised": 4}


@pytest.mark.parametrize(("word", "n"), sorted(WORDS.items()))
def test_syllables_match_a_dictionary(word: str, n: int) -> None:
    assert RD.syllables(word) == n


def test_numbers_count_as_two_syllables_and_symbols_as_nothing() -> None:
    r = RD.measure(["About 935 parents said 20% no."])
    assert (r.sentences, r.words) == (1, 6)
    assert r.syllables == 2 + 2 + 2 + 1 + 2 + 1  # about 935 parents said 20 no


def test_grade_is_the_flesch_kincaid_formula() -> None:
    r = RD.Reading(sentences=4, words=60, syllables=90)
    assert r.grade == pytest.approx(0.39 * 15 + 11.8 * 1.5 - 15.59)
    assert RD.Reading(0, 0, 0).grade == 0.0


def test_blocks_and_full_stops_end_sentences() -> None:
    r = RD.measure(["One two three. Four five!", "Six seven"])
    assert (r.sentences, r.words) == (3, 7)
    assert RD.measure(["3.5 percent of 1,000. Done."]).sentences == 2  # no break inside 3.5


def test_prose_leaves_out_what_is_not_our_running_text() -> None:
    html = """<html><head><title>Title words here</title></head><body>
    <div class="synthetic-banner">SYNTHETIC DATA banner</div><main>
    <h1>Heading</h1><p>Kept one.</p><figure><img alt="x"><figcaption>Caption</figcaption></figure>
    <blockquote><p>Someone's words.</p></blockquote><table><tr><td>cell</td></tr></table>
    <ul><li>Kept two</li></ul><div><p>Kept <strong>three</strong> here.</p></div>
    <nav><a href="x">Link</a></nav></main></body></html>"""
    assert RD.prose(html) == ["Kept one.", "Kept two", "Kept three here."]


@pytest.fixture(scope="module")
def briefings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = rendered(tmp_path_factory.mktemp("read"))["root"]
    return {a: (root / "reports" / f"{a}.html").read_text(encoding="utf-8") for a in AUDIENCES}


def test_parents_briefing_reads_at_grade_six_or_below(briefings: dict[str, str]) -> None:
    """GOV.UK writes for a reading age of 9; the issue asks for about 11, grade 6 or below.
    The figures of every briefing are printed (pytest -s) for the record."""
    for audience, html in briefings.items():
        r = RD.grade(html)
        print(f"{audience}: Flesch-Kincaid grade {r.grade:.1f} ({r.words} words, "
              f"{r.sentences} sentences, {r.words_per_sentence:.1f} words per sentence)")
    parents = RD.grade(briefings["parents"])
    assert parents.words > 300, "the parents' briefing lost its text"
    assert parents.grade <= 6.0, f"parents' briefing reads at grade {parents.grade:.1f}"


JARGON = ["confidence interval", "statistically", "weighted %", "odds ratio", "p-value",
          "significant", "Rao", "design effect", "[c] too few"]


def test_parents_briefing_has_no_statistical_jargon(briefings: dict[str, str]) -> None:
    text = " ".join(RD.prose(briefings["parents"]))
    for term in JARGON:
        assert term not in text, term


def test_parents_briefing_says_what_it_means_and_names_their_rights(
        briefings: dict[str, str]) -> None:
    html = briefings["parents"]
    for must in ("What this means for you", "UK GDPR", "To be told", "To see your records",
                 "To object", "To complain", "Information Commissioner", "data protection officer"):
        assert must in html, must


def test_reading_level_can_fail() -> None:
    hard = ("<main><p>Intergovernmental organisational interoperability considerations "
            "necessitate comprehensive administrative documentation, notwithstanding "
            "methodological heterogeneity.</p></main>")
    assert RD.grade(hard).grade > 12


def test_text_outside_main_is_not_graded() -> None:
    assert RD.grade("<html><body><p>outside main</p></body></html>").words == 0
