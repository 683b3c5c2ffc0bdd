"""WCAG 2.2 AA colours, caveat sizes, SYNTHETIC stamps and links of the documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from parentlink import accessibility as A
from parentlink import charts as C
from tests.test_render import ENGINE, rendered

ROOT = Path(__file__).resolve().parents[1]


def test_contrast_is_wcag_and_symmetric() -> None:
    assert A.contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert A.contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert A.contrast("#D55E00", "#fff") == pytest.approx(3.87, abs=0.01)  # the old banner
    assert A.contrast("#0072B2", "#ffffff") == pytest.approx(A.contrast("#ffffff", "#0072B2"))
    with pytest.raises(ValueError):
        A.contrast("orange", "#ffffff")


def test_css_pairs_read_each_rules_own_background() -> None:
    css = """/* c */ .a { color: #fff; background: #D55E00; } .b { color: #333; }
    @page { @bottom-right { content: "x"; color: #777777; } } .c { color: inherit; }"""
    got = {t.selector: (t.foreground, t.background) for t in A.css_text_colours(css)}
    assert got == {".a": ("#ffffff", "#d55e00"), ".b": ("#333333", "#ffffff"),
                   "bottom-right": ("#777777", "#ffffff")}


def _stylesheets() -> str:
    return "\n".join((ENGINE / n).read_text(encoding="utf-8") for n in ("briefing.css", "base.html"))


def test_every_text_colour_meets_aa() -> None:
    found = A.css_text_colours(_stylesheets())
    assert any(t.selector == ".synthetic-banner" for t in found)
    low = [(t.selector, round(t.ratio, 2)) for t in found if t.ratio < A.TEXT_MIN]
    assert low == []


def test_chart_colours_meet_non_text_contrast() -> None:
    for colour in [*C.GRAPHIC, C.INK]:
        assert A.contrast(colour, A.PAGE) >= A.GRAPHIC_MIN, colour
    assert A.contrast(C.INK, A.PAGE) >= A.TEXT_MIN


def _size_pt(css: str, selector: str) -> float:
    m = re.search(re.escape(selector) + r"\s*\{[^}]*font-size:\s*([\d.]+)pt", css)
    assert m, selector
    return float(m.group(1))


@pytest.mark.parametrize("selector", [".note", "figcaption", ".attribution", ".cite", "caption",
                                      ".synthetic-banner"])
def test_caveats_are_at_least_9pt(selector: str) -> None:
    assert _size_pt((ENGINE / "briefing.css").read_text(encoding="utf-8"), selector) >= 9


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return rendered(tmp_path_factory.mktemp("a11y"))


def test_svg_charts_carry_a_synthetic_title(built: dict[str, Any]) -> None:
    figures = sorted((built["results"] / "figures").glob("*.svg"))
    assert figures
    for svg in figures:
        text = svg.read_text(encoding="utf-8")
        m = re.search(r"<svg[^>]*>\s*<title>([^<]+)</title>", text)
        assert m and m.group(1).startswith(C.SYNTHETIC_TITLE), svg.name


def test_a_real_studys_chart_title_has_no_stamp(tmp_path: Path) -> None:
    svg = tmp_path / "x.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>', encoding="utf-8")
    C.add_title(svg, "Bars & <lines>", synthetic=False)
    assert "<title>Bars &amp; &lt;lines&gt;</title>" in svg.read_text(encoding="utf-8")


def test_html_briefings_say_synthetic_in_the_title_and_link_the_other_outputs(
        built: dict[str, Any]) -> None:
    rules = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "workflow/rules").glob("*.smk"))
    for audience in ("local_authorities", "national_policy", "parents"):
        html = (built["root"] / "reports" / f"{audience}.html").read_text(encoding="utf-8")
        assert re.search(r"<title>SYNTHETIC DATA: [^<]+</title>", html), audience
        nav = re.search(r'<nav class="outputs".*?</nav>', html, re.S)
        assert nav, audience
        hrefs = re.findall(r'href="([^"]+)"', nav.group(0))
        assert len(hrefs) >= 6 and any("appendix" in h for h in hrefs)
        for href in hrefs:
            target = (Path("reports/briefings") / href).as_posix()
            while "/../" in target or target.startswith("../"):
                target = re.sub(r"[^/]+/\.\./", "", target, count=1)
            pattern = re.sub(r"(local_authorities|national_policy|parents)\.html$",
                             "{audience}.html", target)
            pattern = re.sub(r"/(main|pilot)_tables", "/{survey}_tables", pattern)
            pattern = pattern.replace("reports/briefings/../", "reports/")
            assert f'"{pattern}"' in rules, f"{audience}: link {href} is no workflow output"


def test_briefings_have_no_overprinted_or_overflowing_text(built: dict[str, Any]) -> None:
    from parentlink.layout import layout_problems

    for audience in ("local_authorities", "national_policy", "parents"):
        assert layout_problems(built["root"] / "reports" / f"{audience}.pdf") == [], audience
