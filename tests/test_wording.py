"""wording.py: print helpers, and keeping text within what the shipped font draws."""

from __future__ import annotations

from pathlib import Path

import pytest

from parentlink import render as R
from parentlink import wording as W
from parentlink.errors import UserError

FONTS = Path(__file__).resolve().parents[1] / "workflow" / "fonts"
TEMPLATES = Path(__file__).resolve().parents[1] / "workflow" / "templates"


def test_coverage_is_the_shipped_fonts_without_emoji() -> None:
    cov = W.font_coverage(FONTS)
    assert {ord(c) for c in "aZé€–“”’→✓ŁΩЖא"} <= cov
    assert not {0x1F600, 0x2614, 0xFE0F, ord("家")} & cov  # emoji (in DejaVu) and CJK (not)


def test_printable_replaces_only_what_the_font_cannot_draw() -> None:
    cov = W.font_coverage(FONTS)
    assert W.printable("Lone parent – “ok” ✓\tnext\nline", cov) == "Lone parent – “ok” ✓\tnext\nline"
    assert W.printable("Family 😀 家族", cov) == "Family \ufffd \ufffd\ufffd"
    assert W.printable("👍🏽", cov) == "\ufffd\ufffd"  # emoji and its skin-tone modifier
    tree = W.printable_tree({"a 😀": ["x", {"y": "☕"}], "n": 3}, cov)
    assert tree == {"a \ufffd": ["x", {"y": "\ufffd"}], "n": 3}


def test_missing_font_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"DejaVuSans.ttf: shipped font not found"):
        W.font_coverage(tmp_path)


def test_pdf_templates_print_only_covered_characters(tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text(
        "{% macro b(x) %}<b>{{ x }}</b>{% endmacro %}{{ b(v) }}|{{ v }}|{{ n }}", encoding="utf-8")
    cov = W.font_coverage(FONTS)
    ctx = {"v": "😀<&", "n": 12}
    pdf = R.make_env(tmp_path, cov).get_template("t.html").render(**ctx)
    # Escaped once (a macro's Markup stays markup), emoji replaced, numbers untouched.
    assert pdf == "<b>\ufffd&lt;&amp;</b>|\ufffd&lt;&amp;|12"
    html = R.make_env(tmp_path).get_template("t.html").render(**ctx)
    assert html == "<b>😀&lt;&amp;</b>|😀&lt;&amp;|12"  # the HTML version keeps every character


@pytest.mark.parametrize(("odds_ratio", "words"), [
    (0.185, "about a fifth the odds"), (0.34, "about a third the odds"),
    (0.106, "about a tenth the odds"), (0.5, "about half the odds"),
    (0.25, "about a quarter the odds"), (0.05, "less than a tenth the odds"),
    (0.75, "about 75% of the odds"), (1.0, "about the same odds"), (0.9, "about the same odds"),
    (1.15, "about the same odds"), (1.6, "about 1.6 times the odds"),
    (4.5, "about 4.5 times the odds"), (2.0, "about 2 times the odds"),
    (7.36, "about 7.4 times the odds"), (12.4, "about 12 times the odds")])
def test_odds_ratios_in_words(odds_ratio: float, words: str) -> None:
    assert W.odds_words(odds_ratio) == words


def test_odds_words_refuse_a_non_positive_ratio() -> None:
    with pytest.raises(ValueError):
        W.odds_words(0.0)
