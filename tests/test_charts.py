"""charts.py: byte-stable SVGs, colour-blind-safe palette, alt text that states the finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from parentlink import charts as C
from tests.test_facts import build, make_results, study_config

CHARTS = study_config()[1]["charts"]

FONTS = Path(__file__).resolve().parents[1] / "workflow" / "fonts"


def _make(tmp: Path, name: str, **kw: object) -> tuple[dict[str, str], Path]:
    facts = build(make_results(tmp / name, **kw))  # type: ignore[arg-type]
    out = tmp / name / "figures"
    return C.make_charts(facts, CHARTS, out, FONTS, out / "alt_text.json"), out


def test_svgs_are_byte_stable(tmp_path: Path) -> None:
    alt_a, a = _make(tmp_path, "a")
    alt_b, b = _make(tmp_path, "b")
    assert alt_a == alt_b
    for name in CHARTS:
        assert (a / f"{name}.svg").read_bytes() == (b / f"{name}.svg").read_bytes(), name
    svg = (a / "acceptability.svg").read_text()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg  # no date, no creator
    assert C.OKABE_ITO[0].lower() in svg.lower()


def test_alt_text_states_the_finding(tmp_path: Path) -> None:
    alt, _ = _make(tmp_path, "a")
    assert set(alt) == set(CHARTS)
    acc = alt["acceptability"]
    # Lowest purpose in the fixture: 17% for families who have not asked for support.
    assert "identify families who have not asked for support" in acc and "17%" in acc
    assert "Highest: anonymised research (56%)" in acc
    assert "lowest: private companies (4%" in alt["trust"]
    assert "Would definitely trust private companies: 4 of 365" in alt["pilot"]
    assert "[c]" in alt["breakdown"]  # the suppressed 'Other ethnic group' is explained
    for text in alt.values():
        assert len(text) > 60 and not text.lower().startswith("a chart")


def test_numbers_follow_the_data(tmp_path: Path) -> None:
    alt, _ = _make(tmp_path, "a", overrides={("acc_notasked_net", "1", "All parents"): 0.083})
    assert "8%" in alt["acceptability"] and "fewer than 1 in 10" in alt["acceptability"].lower()


def test_hostile_labels_do_not_break_charts(tmp_path: Path) -> None:
    paths = make_results(tmp_path / "h")
    est = paths["main_estimates"]
    est.write_text(est.read_text().replace(
        ",Lone parent,", ",$\\frac{1}{0}$ <img src='file:///etc/passwd'> & " + "x" * 5000 + ","))
    facts = build(paths)
    out = tmp_path / "h" / "figures"
    alt = C.make_charts(facts, CHARTS, out, FONTS, out / "alt_text.json")
    assert "x" * 100 not in alt["breakdown"]
    # Chart text is SVG <text>: the label must stay character data, never markup.
    root = ET.parse(out / "breakdown.svg").getroot()
    assert not root.findall(".//{http://www.w3.org/2000/svg}img")
    assert any("<img src=" in (t.text or "") for t in root.iter("{http://www.w3.org/2000/svg}text"))


def test_chart_text_uses_the_report_font(tmp_path: Path) -> None:
    """Text, not outlines (fast to render), in the PDF's @font-face family before any system font."""
    _, out = _make(tmp_path, "a")
    for name in CHARTS:
        root = ET.parse(out / f"{name}.svg").getroot()
        texts = list(root.iter("{http://www.w3.org/2000/svg}text"))
        assert texts, name
        for t in texts:
            assert "font-family: 'Report Sans', 'DejaVu Sans', sans-serif" in t.get("style", ""), name
    css = (FONTS.parent / "templates" / "base.html").read_text()
    assert '@font-face { font-family: "Report Sans"' in css


def test_cooccurrence_heatmap(tmp_path: Path) -> None:
    alt, out = _make(tmp_path, "a")
    text = alt["cooccurrence"]
    # The strongest pairing comes from the data, with its count.
    assert "'Hidden risk' with 'Profiling hidden risk', each in 21 of 60 documents" in text
    assert "The strongest pairing:" in text and "Next: 'Early warning' with 'Hidden risk' (14)" \
        in text
    svg = (out / "cooccurrence.svg").read_text()
    # Sequential viridis (reversed): the darkest colour marks the largest count.
    assert "#440154" in svg.lower()


def test_cooccurrence_alt_names_every_tie(tmp_path: Path) -> None:
    from tests.test_facts import PAIRS, write_cooccurrence

    paths = make_results(tmp_path / "t")
    write_cooccurrence(paths["cooccurrence"], {**PAIRS, ("Hidden risk", "Early warning"): 21})
    out = tmp_path / "t" / "figures"
    alt = C.make_charts(build(paths), CHARTS, out, FONTS, out / "alt_text.json")["cooccurrence"]
    strongest = alt.split("The strongest pairings: ")[1].split(" Next:")[0]
    assert strongest.count(" with ") == 2 and "each in 21 of 60 documents" in strongest


def test_a_chart_that_is_not_valid_svg_stops_the_build() -> None:
    """WeasyPrint silently drops an image it cannot parse; the chart stage refuses it instead."""
    from parentlink.charts import check_svg
    from parentlink.errors import UserError

    check_svg('<svg xmlns="http://www.w3.org/2000/svg"><text>ok</text></svg>', "fine.svg")
    with pytest.raises(UserError, match="breakdown.svg: the chart is not valid SVG"):
        check_svg('<svg xmlns="http://www.w3.org/2000/svg"><text>a\x00b</text></svg>', "breakdown.svg")


def test_a_chart_of_an_unweighted_survey_says_unweighted(tmp_path: Path) -> None:
    from tests.test_facts import study_config

    _, spec = study_config()
    findings = {**spec["findings"], "pilot_items": {
        "kind": "items", "survey": "pilot", "category": 1,
        "items": {"acc_plan_net": "plan services", "acc_save_net": "save money"}}}
    facts = build(make_results(tmp_path), report={**spec, "findings": findings})
    assert facts["findings"]["pilot_items"]["survey"] == "pilot"
    charts = {"p": {"kind": "bars", "finding": "pilot_items", "axis": "Pilot", "alt": "Pilot."},
              "w": {"kind": "bars", "finding": "acceptability", "axis": "Main", "alt": "Main."}}
    C.make_charts(facts, charts, tmp_path / "f", FONTS, tmp_path / "f" / "alt.json")
    assert "(unweighted %" in (tmp_path / "f" / "p.svg").read_text()
    main_svg = (tmp_path / "f" / "w.svg").read_text()
    assert "(weighted %" in main_svg and "unweighted" not in main_svg


def test_a_complementary_suppression_says_so_and_a_small_base_says_too_few() -> None:
    assert C.hidden_text({"suppressed": True, "reason": "complementary"}) == (
        "hidden to protect another figure")
    for reason in ("small_base", "small_cell", None):
        assert C.hidden_text({"suppressed": True, "reason": reason}) == "too few to show"


def test_facts_carry_why_a_share_is_hidden() -> None:
    from parentlink.facts import _cell

    row = {"base_unweighted": 52, "suppressed": True, "estimate": float("nan"),
           "suppressed_reason": "complementary"}
    assert _cell(row, 50) == {"suppressed": True, "base": 52, "reason": "complementary"}
    assert _cell({**row, "suppressed_reason": ""}, 50)["reason"] is None
    assert _cell({**row, "base_unweighted": 12, "suppressed_reason": float("nan")},
                 50)["reason"] == "small_base"
def test_a_count_chart_has_a_count_axis(tmp_path: Path) -> None:
    """The pilot's bars are respondents out of those asked: its axis counts respondents (no '%'
    beside '183 of 365'), and '[c] too few to show' keeps clear of the axis line (checked on
    the chart as printed in a PDF, by parentlink.layout)."""
    import re

    from parentlink import layout
    from parentlink import render as R

    facts = build(make_results(tmp_path))
    hidden = facts["findings"]["pilot_private_definitely"]
    for key in ("pct", "ci_lower", "ci_upper", "count"):
        hidden.pop(key, None)
    hidden["suppressed"] = True
    out = tmp_path / "figures"
    C.make_charts(facts, CHARTS, out, FONTS, out / "alt_text.json")
    svg = (out / "pilot.svg").read_text()
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert any(" of " in t for t in texts), texts
    assert not any("%" in t for t in texts), texts
    assert any("too few to show" in t for t in texts)
    engine = FONTS.parent / "templates"
    pdf = tmp_path / "pilot.pdf"
    html = (f'<html lang="en"><title>t</title><style>@page {{ size: A4; margin: 22mm 17mm; }}'
            f'</style><img style="width: 100%" alt="pilot" src="{(out / "pilot.svg").as_uri()}">'
            "</html>")
    R.write_pdf(html, pdf, "pilot", R.make_fetcher([out, FONTS]), engine, FONTS)
    assert layout.layout_problems(pdf) == []


def test_every_documents_bar_carries_its_value(tmp_path: Path) -> None:
    """Issue 17: a policy reader reads each share off its bar, not off the axis."""
    _, out = _make(tmp_path, "a")
    docs = build(make_results(tmp_path / "f"))["documents"]
    root = ET.parse(out / "documents.svg").getroot()
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    values = [f"{row['pct'].get(t, 0.0):.0f}%" for row in docs["matrix"] for t in docs["doc_types"]]
    panels = len(docs["doc_types"]) or 1
    ticks = {"0%", "100%"}  # each panel's axis
    for value in set(values):
        # An axis tick may read like a value: one more text of that content per panel.
        assert texts.count(value) == values.count(value) + panels * (value in ticks), value
