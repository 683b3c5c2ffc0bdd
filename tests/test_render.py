"""render.py: safe fetching, escaping, deterministic tagged PDF/UA-1 output, numbers from data."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from parentlink import charts as C
from parentlink import layout
from parentlink import render as R
from parentlink.errors import UserError
from tests.test_comments import make_quotes
from tests.test_facts import STUDY, build, make_results, study_config

CFG, SPEC = study_config()

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "config" / "templates"  # the embedded study's documents
ENGINE = ROOT / "workflow" / "templates"  # base.html, _engine.html, briefing.css
FONTS = ROOT / "workflow" / "fonts"

HOSTILE = {
    "Mixed": '<img src="file:///etc/passwd">',
    "Asian": '<link rel=attachment href="file:///etc/passwd">',
    "Couple": "<style>body{display:none}</style>",
    "4 people": "http://evil.example/x.png",
    "2-3 people": "A" * 100_000,
}


def _project(root: Path, **kw: Any) -> dict[str, Any]:
    """Results tree + facts + charts under root, as the workflow would leave them."""
    paths = make_results(root, **kw)
    facts = build(paths)
    figures = root / "results" / "figures"
    alt = C.make_charts(facts, SPEC["charts"], figures, FONTS, figures / "alt_text.json")
    return {"paths": paths, "facts": facts, "alt": alt, "results": root / "results",
            "quotes": make_quotes()}


def _briefing(p: dict[str, Any], audience: str, out: Path) -> Path:
    R.render_briefing(audience=audience, document=SPEC["documents"][audience], facts=p["facts"],
                      alt_text=p["alt"], study=STUDY, quotes=p["quotes"], templates_dir=TEMPLATES,
                      engine_dir=ENGINE, fonts_dir=FONTS, results_dir=p["results"],
                      out_pdf=out / f"{audience}.pdf", out_html=out / f"{audience}.html",
                      audiences={n: d["audience"] for n, d in SPEC["documents"].items()},
                      surveys=sorted(CFG["surveys"]))
    return out / f"{audience}.pdf"


AUDIENCES = ("local_authorities", "national_policy", "parents")


def rendered(root: Path) -> dict[str, Any]:
    """Results, facts and charts under root, with every briefing rendered in root/reports."""
    p = _project(root)
    for audience in AUDIENCES:
        p[audience] = _briefing(p, audience, root / "reports")
    p["root"] = root
    return p


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("base")
    p = _project(root)
    for audience in ("local_authorities", "national_policy", "parents"):
        p[audience] = _briefing(p, audience, root / "reports")
    return p


# ----------------------------------------------------------------------------- fetcher


def test_fetcher_refuses_everything_outside(tmp_path: Path, base: dict[str, Any]) -> None:
    fetcher = R.make_fetcher([TEMPLATES, FONTS, base["results"]])
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    link = base["results"] / "figures" / "link.svg"
    link.symlink_to(outside)
    for url in ["http://example.com/x.png", "https://example.com/x.css", "ftp://example.com/x",
                "file:///etc/passwd", outside.as_uri(), link.as_uri(),
                (base["results"] / ".." / ".." / "secret.txt").as_uri(),
                "file://evil.example/etc/passwd"]:
        with pytest.raises(R.FetchRefused):
            fetcher.fetch(url)
    ok = fetcher.fetch((base["results"] / "figures" / "trust.svg").as_uri())
    assert ok.read().startswith(b"<?xml") and ok.content_type == "image/svg+xml"
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"


def test_refused_fetch_stops_the_render(tmp_path: Path, base: dict[str, Any]) -> None:
    fetcher = R.make_fetcher([TEMPLATES, FONTS, base["results"]])
    html = '<html lang="en-GB"><title>t</title><img src="file:///etc/passwd" alt="x"></html>'
    from weasyprint.urls import FatalURLFetchingError

    with pytest.raises(FatalURLFetchingError):
        R.write_pdf(html, tmp_path / "x.pdf", "x", fetcher, TEMPLATES, FONTS)


# ----------------------------------------------------------------------------- structure


def test_pdf_ua_structure(base: dict[str, Any]) -> None:
    assert {a: d["pages"] for a, d in SPEC["documents"].items()} == {
        "local_authorities": 4, "national_policy": 4, "parents": 2}
    for audience, doc in SPEC["documents"].items():
        max_pages = doc["pages"]
        with pikepdf.open(base[audience]) as pdf:
            assert 1 <= len(pdf.pages) <= max_pages, audience
            xmp = pdf.Root.Metadata.read_bytes().decode()
            assert "pdfuaid" in xmp and 'pdfuaid:part="1"' in xmp
            assert str(pdf.Root.Lang) == "en-GB"
            assert bool(pdf.Root.MarkInfo.Marked)
            assert bool(pdf.Root.ViewerPreferences.DisplayDocTitle)
            assert "/StructTreeRoot" in pdf.Root
            figures = _figures(pdf.Root.StructTreeRoot)
            assert figures and all("/Alt" in f and len(str(f.Alt)) > 40 for f in figures)
            assert "/EmbeddedFiles" not in pdf.Root.get("/Names", {})
            _assert_fonts_embedded(pdf)
            # First /ID element is the fixed identifier derived from the document name.
            expected = hashlib.sha256(f"parentlink:{audience}".encode()).hexdigest()[:32]
            assert len(pdf.trailer.ID) == 2 and bytes(pdf.trailer.ID[0]) == expected.encode()


def _figures(node: Any, seen: set[tuple[int, int]] | None = None) -> list[Any]:
    seen = set() if seen is None else seen
    out = []
    if isinstance(node, pikepdf.Array):
        for child in node:
            out += _figures(child, seen)
    elif isinstance(node, pikepdf.Dictionary):
        if node.is_indirect:
            if node.objgen in seen:
                return out
            seen.add(node.objgen)
        if node.get("/S") == "/Figure":
            out.append(node)
        if "/K" in node:
            out += _figures(node.K, seen)
    return out


def _assert_fonts_embedded(pdf: pikepdf.Pdf) -> None:
    for page in pdf.pages:
        for _, font in page.Resources.get("/Font", {}).items():
            fonts = font.DescendantFonts if "/DescendantFonts" in font else [font]
            for f in fonts:
                desc = f.FontDescriptor
                assert any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")), f


def test_every_page_says_synthetic(base: dict[str, Any]) -> None:
    for audience in ("local_authorities", "national_policy", "parents"):
        pages = _text(base[audience]).split("\f")
        pages = [p for p in pages if p.strip()]
        assert pages and all("SYNTHETIC DATA" in p for p in pages), audience


def test_html_version_is_self_contained(base: dict[str, Any]) -> None:
    html = (base["local_authorities"].with_suffix(".html")).read_text(encoding="utf-8")
    assert '<html lang="en-GB">' in html and "SYNTHETIC DATA" in html
    assert "file:" not in html and 'src="data:image/svg+xml;base64,' in html
    assert html.count("<img ") == html.count(' alt="')


# ----------------------------------------------------------------------------- determinism

_SCRIPT = """
import json, sys
from pathlib import Path
from tests.test_render import _briefing
p = json.loads(Path(sys.argv[1]).read_text())
p["results"] = Path(p["results"])
_briefing(p, "parents", Path(sys.argv[2]))
"""


def test_byte_identical_across_processes(tmp_path: Path, base: dict[str, Any]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}  # use the fallback
    state = tmp_path / "state.json"
    state.write_text(json.dumps({k: base[k] for k in ("facts", "alt", "quotes")}
                                | {"results": str(base["results"])}))
    outs = []
    for run in ("a", "b"):
        subprocess.run([sys.executable, "-c", _SCRIPT, str(state), str(tmp_path / run)],
                       cwd=ROOT, env=env, check=True)
        outs.append((tmp_path / run / "parents.pdf").read_bytes())
    assert outs[0] == outs[1]
    with pikepdf.open(tmp_path / "a" / "parents.pdf") as pdf:
        assert str(pdf.docinfo["/CreationDate"]).startswith("D:20231114")


def test_font_subsets_never_come_from_the_systems_harfbuzz(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with the optional libharfbuzz-subset would make other font subsets, so other
    PDF bytes: the renderer always uses fontTools (pinned in the lock)."""
    import weasyprint.pdf.fonts as wp_fonts

    monkeypatch.setattr(wp_fonts, "harfbuzz_subset", object())  # as if the library were found
    R._weasyprint()
    assert wp_fonts.harfbuzz_subset is None


# ----------------------------------------------------------------------------- content


def test_numbers_come_from_the_results(tmp_path: Path, base: dict[str, Any]) -> None:
    before = _text(base["local_authorities"])
    assert "Only 17% of parents" in " ".join(before.split())
    p = _project(tmp_path, overrides={("acc_notasked_net", "1", "All parents"): 0.123})
    after = " ".join(_text(_briefing(p, "local_authorities", tmp_path / "out")).split())
    assert "Only 12% of parents" in after and "Only 17% of parents" not in after


def test_suppressed_values_never_appear(tmp_path: Path) -> None:
    p = _project(tmp_path)
    est = p["paths"]["main_estimates"]
    # Upstream bug simulation: suppressed rows that still carry a value of 91.3%.
    est.write_text(est.read_text().replace(",30,,,,,,True", ",30,30.3,0.913,0.01,0.9,0.93,True"))
    facts = build(p["paths"])
    assert "0.913" not in json.dumps(facts) and "91.3" not in json.dumps(facts)
    p["facts"] = facts
    text = " ".join(_text(_briefing(p, "local_authorities", tmp_path / "out")).split())
    assert "91%" not in text and "[c]" in text and "fewer than 50 parents" in text


def test_hostile_free_text_is_inert(tmp_path: Path) -> None:
    p = _project(tmp_path)
    est = p["paths"]["main_estimates"]
    text = est.read_text(encoding="utf-8")
    for old, new in HOSTILE.items():
        quoted = new.replace('"', '""')  # CSV quoting, as pandas would write it
        text = text.replace(f",{old},", f',"{quoted}",')
    est.write_text(text, encoding="utf-8")
    p["facts"] = build(p["paths"])
    figures = p["results"] / "figures"
    p["alt"] = C.make_charts(p["facts"], SPEC["charts"], figures, FONTS, figures / "alt_text.json")
    out = tmp_path / "out"
    for audience in ("local_authorities",):
        pdf = _briefing(p, audience, out)
        html = pdf.with_suffix(".html").read_text(encoding="utf-8")
        assert "<img src=\"file:///etc/passwd\">" not in html
        assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
        assert "<link rel=attachment" not in html and "<style>body{display" not in html
        assert "A" * 300 not in html
        with pikepdf.open(pdf) as doc:
            assert "/EmbeddedFiles" not in doc.Root.get("/Names", {})
            assert len(doc.pages) <= 4
    shown = " ".join(_text(out / "local_authorities.pdf").split())
    assert '<img src="file:///etc/passwd">' in shown  # drawn as text, not fetched
    assert "root:x:0:0" not in shown


def _technical_report(p: dict[str, Any], root: Path) -> Path:
    out = root / "technical_report.pdf"
    R.render_technical_report(
        facts=p["facts"], alt_text=p["alt"], study=STUDY, quotes=p["quotes"],
        flows={"main": p["paths"]["main_flow"], "pilot": p["paths"]["pilot_flow"]},
        diagnostics={"main": p["paths"]["diagnostics"]},
        code_frequencies=p["paths"]["code_frequencies"],
        hashed_inputs=[p["paths"]["main_estimates"], p["paths"]["diagnostics"]],
        project_root=root, version="v-test", templates_dir=TEMPLATES, engine_dir=ENGINE,
        fonts_dir=FONTS, results_dir=p["results"],
        appendices=["reports/appendix/main_tables.pdf", "reports/appendix/pilot_tables.pdf"],
        out_pdf=out)
    return out


def test_technical_report(tmp_path: Path) -> None:
    # Hostile code names: the code table prints every one of them.
    p = _project(tmp_path, rename_codes={"Hidden risk": '<img src="file:///etc/passwd">',
                                         "Early warning": "B" * 100_000})
    est = p["paths"]["main_estimates"]
    out = _technical_report(p, tmp_path)
    text = " ".join(_text(out).split())
    assert hashlib.sha256(est.read_bytes()).hexdigest()[:40] in text.replace(" ", "")
    for needle in ("attention_check", "Kish effective sample size", "702.4", "[c]", "v-test",
                   '<img src="file:///etc/passwd">', "SYNTHETIC",
                   # The reader's way in, and what the data cannot show.
                   "Contents", "Executive summary", "4. Limitations",
                   "reports/appendix/main_tables.pdf",
                   # Document analysis: heatmap, chains and reliability with its unit.
                   "Figure 6. Co-occurrence of codes",
                   "Data analytics companies (n=18) Hidden risk Superior knowledge 14 93% of 15",
                   "Unit of analysis: document x code presence (double-coded documents)",
                   "Pooled: all codes", "87.5 0.61 0.62", "— = undefined",
                   # Open-text quotes: the rule, its counts and the quotes.
                   "2.2 Parents' own words: how quotes are chosen", "could be quoted (candidates) 3",
                   "approved by the research team 3",
                   "“Ask parents first & tell us why — it is our children's data.”"):
        assert needle in text, needle
    assert "B" * 300 not in text
    # The full tables left for the appendices: no estimate table headed by a variable code.
    assert "acc_plan_net:" not in text and "Full estimate tables" not in text
    with pikepdf.open(out) as pdf:
        assert 'pdfuaid:part="1"' in pdf.Root.Metadata.read_bytes().decode()
        assert len(pdf.pages) <= 20
        # PDF bookmarks from the headings, for readers who jump between sections.
        with pdf.open_outline() as outline:
            titles = [item.title for item in outline.root]
        assert "Executive summary" in " ".join(titles) or any(
            "Executive summary" in c.title for item in outline.root for c in item.children)
    # Contents: each entry's page number is the page its section starts on.
    contents = _text_pages(out)[0]
    assert re.search(r"4\. Limitations[ .]*(\d+)", contents)
    page = int(re.search(r"4\. Limitations[ .]*(\d+)", contents).group(1))
    assert "4. Limitations" in _text_pages(out)[page - 1]
    assert layout.layout_problems(out) == []


def _text_pages(pdf: Path) -> list[str]:
    return _text(pdf).split("\f")


def _appendix(p: dict[str, Any], root: Path, survey: str, codebook: Path) -> Path:
    out = root / "reports" / "appendix" / f"{survey}_tables.pdf"
    s = p["facts"]["surveys"][survey]
    R.render_appendix(survey=survey, survey_label=s["label"], weighted=s["weighted"],
                      population=p["facts"]["population"], min_base=p["facts"]["min_base"],
                      study=STUDY,
                      estimates=p["paths"][f"{survey}_estimates"], codebook=codebook,
                      version="v-test", templates_dir=TEMPLATES, engine_dir=ENGINE,
                      fonts_dir=FONTS, results_dir=p["results"], out_pdf=out)
    return out


def test_appendix_labels_every_table_and_hides_nothing_it_should_not(tmp_path: Path) -> None:
    p = _project(tmp_path, overrides={("consent", "3", "All parents"): 0.0})
    book = tmp_path / "results" / "codebook" / "main.csv"
    book.parent.mkdir(parents=True, exist_ok=True)
    long_name = "commercial_sources_acceptable_count_of_every_single_source_named"
    book.write_text(
        "variable,label,type,source,derived_from,code,value_label,missing,in_base,n,note\n"
        "hh_size_group,Household size (group),categorical,,household_size,1,Up to 3 people,,yes,412,\n"
        f"{long_name},Commercial sources acceptable (count),numeric,,src_a,,,,,935,\n",
        encoding="utf-8")
    out = _appendix(p, tmp_path, "main", book)
    text = " ".join(_text(out).split())
    # The question's wording and the group variable's label head the rows, not their codes.
    tables = text.split("A. Estimate tables")[-1].split("B. Codebook")[0]
    # Once per table, on the first row of its groups.
    assert tables.count("Household size (group)") == tables.count("All parents") > 1
    assert "hh_size_group" not in tables
    assert "A1. Heard of data linkage (heard)" in tables
    assert "0 (0–0)" not in text and "— nobody in the group gave this answer" in text
    assert "[c] small base" in text
    with pikepdf.open(out) as pdf:
        assert 'pdfuaid:part="1"' in pdf.Root.Metadata.read_bytes().decode()
        assert "/StructTreeRoot" in pdf.Root
    assert layout.layout_problems(out) == []


def test_appendix_labels_secondary_suppression_apart_from_small_cells(tmp_path: Path) -> None:
    """A share hidden only to protect a small cell (suppressed_reason complementary) reads
    '[c] secondary', not '[c] small cell', and the key on page 1 says what each label means;
    an estimates file without the column still labels its hidden cells."""
    import pandas as pd

    p = _project(tmp_path)
    est = p["paths"]["main_estimates"]
    df = pd.read_csv(est, dtype={"group_code": str, "category_code": str})
    min_base = int(p["facts"]["min_base"])
    big = df.index[(df["base_unweighted"] >= min_base) & (df["group_variable"] != "all")]
    hidden = {big[0]: "small_cell", big[1]: "complementary"}
    df["suppressed_reason"] = ""
    for i, why in hidden.items():
        df.loc[i, ["estimate", "se", "ci_lower", "ci_upper"]] = float("nan")
        df.loc[i, ["suppressed", "suppressed_reason"]] = [True, why]
    cells = [c for t in R.estimate_tables(df, min_base) for r in t["rows"] for c in r["cells"]]
    assert cells.count("[c] small cell") == 1 and cells.count("[c] secondary") == 1
    # Without the column (an older estimates file) a hidden cell is a small cell.
    old = R.estimate_tables(df.drop(columns="suppressed_reason"), min_base)
    assert sum(c == "[c] small cell" for t in old for r in t["rows"] for c in r["cells"]) == 2
    df.to_csv(est, index=False)
    book = tmp_path / "results" / "codebook" / "main.csv"
    book.parent.mkdir(parents=True, exist_ok=True)
    book.write_text("variable,label,type,source,derived_from,code,value_label,missing,in_base,n,"
                    "note\nheard,Heard,categorical,,,1,Yes,,yes,412,\n", encoding="utf-8")
    text = " ".join(_text(_appendix(p, tmp_path, "main", book)).split())
    key, tables = text.split("A. Estimate tables", 1)[1].split("A. Estimate tables", 1)
    assert "[c] secondary: not itself a small cell, but hidden so that a small cell" in key
    assert "[c] small cell: hidden because 1 to 9" in key
    assert tables.count("[c] secondary") == 1 and tables.count("[c] small cell") == 1


def test_appendix_says_small_base_once_per_row(tmp_path: Path) -> None:
    """A group under min_base has every answer hidden: its row says so once, across the
    answers; a group of exactly min_base keeps one cell per answer (the boundary)."""
    import pandas as pd

    p = _project(tmp_path)
    est = p["paths"]["main_estimates"]
    df = pd.read_csv(est, dtype={"group_code": str, "category_code": str})
    min_base = int(p["facts"]["min_base"])
    groups = df.loc[df["group_variable"] != "all", ["group_variable", "group_code"]]
    (gv_a, gc_a), (gv_b, gc_b) = groups.drop_duplicates().head(2).itertuples(index=False)
    rows_a = (df["group_variable"] == gv_a) & (df["group_code"] == gc_a)
    rows_b = (df["group_variable"] == gv_b) & (df["group_code"] == gc_b)
    df.loc[rows_a, "base_unweighted"] = min_base - 1
    df.loc[rows_b, "base_unweighted"] = min_base
    df.loc[rows_b, "suppressed"] = False
    flags = [(r["group_variable"], r["group"], r["small_base"])
             for t in R.estimate_tables(df, min_base) for r in t["rows"]]
    small = {(gv, g) for gv, g, sb in flags if sb}
    label_a = df.loc[rows_a, "group"].iloc[0]
    label_b = df.loc[rows_b, "group"].iloc[0]
    assert (gv_a, label_a) in small and (gv_b, label_b) not in small
    df.to_csv(est, index=False)
    book = tmp_path / "results" / "codebook" / "main.csv"
    book.parent.mkdir(parents=True, exist_ok=True)
    book.write_text("variable,label,type,source,derived_from,code,value_label,missing,in_base,n,"
                    "note\nheard,Heard,categorical,,,1,Yes,,yes,412,\n", encoding="utf-8")
    out = _appendix(p, tmp_path, "main", book)
    text = " ".join(_text(out).split())
    tables = text.split("A. Estimate tables", 2)[2]
    spanned = f"[c] small base: fewer than {min_base} answered"
    assert tables.count(spanned) == sum(1 for _, _, sb in flags if sb) > 0
    assert layout.layout_problems(out) == []


def test_lean_user_agent_stylesheet_changes_no_byte(tmp_path: Path, base: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The documents render with WeasyPrint's stylesheet minus the pseudo-element rules that
    only footnotes, notes and list items use (render.lean_ua_css): same bytes, less CPU."""
    import weasyprint
    from weasyprint import html as wp_html

    # The override is called in this WeasyPrint (a rename would make it silently do nothing).
    assert "_ua_stylesheets" in vars(weasyprint.HTML)
    lean = R.lean_ua_css(wp_html.UA)
    assert "li::marker, summary::marker {" in lean and "::footnote-call" not in lean
    assert R._html_class(weasyprint, "<p>x</p>") is not weasyprint.HTML
    for needs_full in ('<p style="float: footnote">x</p>', "<li style='display: list-item'>"):
        assert R._html_class(weasyprint, needs_full) is weasyprint.HTML
    # A briefing (lists: markers) and an appendix (long tables), lean and with the full sheet.
    book = tmp_path / "results" / "codebook" / "main.csv"
    book.parent.mkdir(parents=True, exist_ok=True)
    book.write_text("variable,label,type,source,derived_from,code,value_label,missing,in_base,n,"
                    "note\nheard,Heard,categorical,,,1,Yes,,yes,412,\n", encoding="utf-8")
    p = {**base, "results": base["results"]}
    made = {}
    for sheet in ("lean", "full"):
        if sheet == "full":
            monkeypatch.setattr(R, "_html_class", lambda wp, html: wp.HTML)
        out = tmp_path / sheet
        made[sheet] = [_briefing(p, "local_authorities", out).read_bytes(),
                       _appendix(p, out, "main", book).read_bytes()]
    assert made["lean"] == made["full"]


def test_layout_check_finds_overprinting_and_overflow(tmp_path: Path) -> None:
    """The check fails on what a reader sees as broken: text over text, text jammed against or
    crossed by a line, text outside the page's text area; and passes a clean page."""
    fetcher = R.make_fetcher([ENGINE, FONTS])
    font = (FONTS / "DejaVuSans.ttf").resolve().as_uri()
    head = (f'<html lang="en"><title>t</title><style>@font-face {{ font-family: F; src: '
            f'url("{font}"); }} @page {{ size: A4; margin: 22mm 17mm 18mm 17mm; }} '
            'body { font-family: F; font-size: 10pt; } .a { position: absolute; }</style>')
    cases = {
        "clean": "<p>Two words</p><p>on two lines</p>",
        "overprint": '<p class="a" style="top: 0">Overprinted words</p>'
                     '<p class="a" style="top: 3pt; left: 10pt">Other text</p>',
        "overflow": '<table style="width: 100%; table-layout: fixed"><tr><td>x</td><td>'
                    + "a_long_variable_name_that_does_not_wrap_anywhere</td></tr></table>",
        "line": '<p style="border-left: 1pt solid #000; padding-left: 1pt; line-height: 2">'
                "[c] too few to show</p>",
    }
    found = {}
    for name, body in cases.items():
        pdf = tmp_path / f"{name}.pdf"
        R.write_pdf(head + body + "</html>", pdf, name, fetcher, ENGINE, FONTS)
        found[name] = layout.layout_problems(pdf)
    assert found["clean"] == []
    assert any("overprint" in f for f in found["overprint"]), found["overprint"]
    assert any("outside the text area" in f for f in found["overflow"]), found["overflow"]
    assert any("line is drawn" in f for f in found["line"]), found["line"]


# ----------------------------------------------------------------------------- computed wording


def _flat(pdf: Path) -> str:
    return " ".join(_text(pdf).split())


def test_claims_come_from_computed_comparisons(base: dict[str, Any]) -> None:
    la, nat = _flat(base["local_authorities"]), _flat(base["national_policy"])
    assert "Parents draw a clear line" in la  # planning's CI is above every targeting use
    assert "There is no general social licence" in nat
    assert "in private companies 4%, the least trusted of the 9 organisations" in nat
    # Group comparisons among the groups shown, hidden groups counted once, tests decide.
    assert "cannot be compared across groups here" not in la
    assert "differed by household income, from" in la
    assert "ranged by age from" in la and "not statistically clear" in la
    assert "(1 group not shown, [c])" in la
    # The model speaks for the suppressed 'Other ethnic group' (CI excludes 1).
    # An odds ratio is put in words first, the numbers after.
    assert ("parents in the other ethnic group had about a third the odds of high social licence "
            "that White parents had (odds ratio 0.38, 95% CI 0.16–0.90)") in nat
    assert "of parents who gave a view" in la


def test_wording_follows_the_data(tmp_path: Path) -> None:
    # Targeting as acceptable as planning, and the NHS trusted least: no claim survives.
    p = _project(tmp_path, overrides={("acc_notasked_net", "1", "All parents"): 0.47,
                                      ("acc_need_net", "1", "All parents"): 0.6,
                                      ("trust_private_net", "1", "All parents"): 0.5})
    la = _flat(_briefing(p, "local_authorities", tmp_path / "out"))
    assert "Parents draw a clear line" not in la
    assert "planning uses clearly more" not in la
    assert "private companies least of all" not in la
    assert "Only 47%" not in la and "47% of parents who gave a view" in la


def test_document_findings_in_every_briefing(base: dict[str, Any]) -> None:
    la, nat, par = (_flat(base[a]) for a in ("local_authorities", "national_policy", "parents"))
    assert ("local authority documents most often constructed the problem as “Hidden risk” "
            "(14 of 24, 58%)") in la
    assert ("company documents also most often “Hidden risk” (15 of 18, 83%), with “Superior "
            "knowledge” too") in la
    assert "were raised in 25% of local authority documents and 0% of company documents" in la
    assert ("government (local and national) documents most often “Families as a costly burden” "
            "(27 of 42, 64%)") in nat
    assert "Firms most often said the problem was “hidden risk”" in par
    assert ("Only about 2 in 10 documents spoke of worries, such as “errors and bias in records”"
            in par)


def test_document_findings_follow_the_data(tmp_path: Path) -> None:
    from tests.test_facts import CHAIN_PROBLEMS

    # Government documents now lead with hidden risk too: the parents' briefing says "also".
    old = dict(CHAIN_PROBLEMS["national_government"])
    CHAIN_PROBLEMS["national_government"].update({"Hidden risk": 18, "Families as a costly burden": 1})
    try:
        p = _project(tmp_path)
    finally:
        CHAIN_PROBLEMS["national_government"].update(old)
    par = _flat(_briefing(p, "parents", tmp_path / "out"))
    assert "Government also most often said it was “hidden risk”" in par


# ----------------------------------------------------------------------------- fonts


def _font_names(pdf: Path) -> set[str]:
    from tests.test_workflow import _fonts

    with pikepdf.open(pdf) as doc:
        return {str(f.get("/BaseFont")) for page in doc.pages for f in _fonts(page.Resources)}


def test_characters_the_font_lacks_never_pull_in_a_system_font(tmp_path: Path) -> None:
    """An emoji or CJK label would make Pango take a glyph from the OS: machine-dependent bytes."""
    p = _project(tmp_path)
    est = p["paths"]["main_estimates"]
    est.write_text(est.read_text(encoding="utf-8").replace(",Mixed,", ",Mixed 😀 家族 ✓,"),
                   encoding="utf-8")
    p["facts"] = build(p["paths"])
    figures = p["results"] / "figures"
    p["alt"] = C.make_charts(p["facts"], SPEC["charts"], figures, FONTS, figures / "alt_text.json")
    pdf = _briefing(p, "local_authorities", tmp_path / "out")
    fonts = _font_names(pdf)
    assert fonts and all("Report-Sans" in f for f in fonts), fonts
    assert "Mixed \ufffd \ufffd\ufffd ✓" in _text(pdf)
    assert "Mixed 😀 家族 ✓" in pdf.with_suffix(".html").read_text(encoding="utf-8")
    assert "😀" not in (figures / "breakdown.svg").read_text(encoding="utf-8")


def test_every_covered_character_renders_in_the_shipped_font(tmp_path: Path) -> None:
    """The coverage list (wording.font_coverage, emoji excluded) matches what Pango does."""
    from html import escape

    from parentlink.wording import font_coverage

    text = escape("".join(chr(c) for c in sorted(font_coverage(FONTS)) if c > 0x20))
    faces = "".join(
        f'@font-face {{ font-family: "Report Sans"; font-weight: {w}; '
        f'src: url("{(FONTS / n).as_uri()}"); }}'
        for w, n in (("normal", "DejaVuSans.ttf"), ("bold", "DejaVuSans-Bold.ttf")))
    html = (f'<html lang="en"><head><title>t</title><style>{faces} html {{ font-family: '
            f'"Report Sans", sans-serif; }}</style></head><body><p>{text}</p><p><b>{text}</b>'
            f'</p></body></html>')
    out = tmp_path / "all.pdf"
    R.write_pdf(html, out, "all", R.make_fetcher([FONTS]), FONTS, FONTS)
    fonts = _font_names(out)
    assert fonts and all("Report-Sans" in f for f in fonts), fonts


def test_briefings_quote_parents_own_words(base: dict[str, Any]) -> None:
    quotes = [q["text"] for q in base["quotes"]["quotes"]]
    for audience, shown in (("local_authorities", 2), ("national_policy", 1), ("parents", 2)):
        text = " ".join(_text(base[audience]).split())
        assert "In parents' own words" in text, audience
        assert sum(f"“{q}”" in text for q in quotes) == shown, audience
        # Each quote says which question the parent answered, and how.
        assert ("— a parent asked about using linked records to identify families who have not "
                "asked for support, who answered “Unacceptable”") in text, audience
        assert "identify families who have not asked for support" in text  # facts' short wording


def test_no_quotes_no_section(tmp_path: Path, base: dict[str, Any]) -> None:
    p = dict(base, quotes=dict(base["quotes"], quotes=[]))
    text = " ".join(_text(_briefing(p, "parents", tmp_path)).split())
    assert "own words" not in text


def test_renderer_sees_no_system_font(tmp_path: Path) -> None:
    """fontconfig is pointed at the shipped fonts only: a character they lack gets no system font
    (without the isolation this machine's CJK fallback font would be embedded)."""
    face = f'@font-face {{ font-family: "Report Sans"; src: url("{(FONTS / "DejaVuSans.ttf").as_uri()}"); }}'
    html = (f'<html lang="en"><head><title>t</title><style>{face} html {{ font-family: '
            f'"Report Sans", sans-serif; }}</style></head><body><p>abc 家族 ﷺ</p></body></html>')
    out = tmp_path / "iso.pdf"
    R.write_pdf(html, out, "iso", R.make_fetcher([FONTS]), FONTS, FONTS)
    fonts = _font_names(out)
    assert fonts and all("Report-Sans" in f or "DejaVu-Sans" in f for f in fonts), fonts
    conf = Path(os.environ["FONTCONFIG_FILE"]).read_text(encoding="utf-8")
    assert f"<dir>{os.path.realpath(FONTS)}</dir>" in conf and "/usr/share/fonts" not in conf
    assert "<include" not in conf  # nothing from /etc/fonts


# ----------------------------------------------------------------------------- study templates


def _study_template(tmp: Path, body: str) -> Path:
    folder = tmp / "templates"
    folder.mkdir(exist_ok=True)
    (folder / "note.html").write_text(
        '{% extends "base.html" %}\n{% import "_engine.html" as e with context %}\n'
        "{% block content %}\n<h1>Note</h1>\n" + body + "\n{% endblock %}\n", encoding="utf-8")
    return folder


def _render_note(p: dict[str, Any], folder: Path, out: Path) -> None:
    R.render_briefing(audience="note", document={"title": "A note"}, facts=p["facts"],
                      alt_text=p["alt"], study=STUDY, quotes=p["quotes"], templates_dir=folder,
                      engine_dir=ENGINE, fonts_dir=FONTS, results_dir=p["results"],
                      out_pdf=out / "note.pdf", out_html=out / "note.html")


def test_a_study_template_cites_findings_by_name(tmp_path: Path, base: dict[str, Any]) -> None:
    folder = _study_template(tmp_path, "<p>{{ f.consent_always | pct }} say ask first; "
                                       "{{ e.gap_sentence('trust_council_by_group', 'income', "
                                       "'Trust') }}.</p>")
    _render_note(base, folder, tmp_path)
    text = _flat(tmp_path / "note.pdf")
    assert "72% say ask first; Trust differed by household income, from" in text


def test_an_unknown_finding_names_the_template_line(tmp_path: Path,
                                                    base: dict[str, Any]) -> None:
    folder = _study_template(tmp_path, "<p>fine</p>\n<p>{{ f.trust_concil | pct }}</p>")
    with pytest.raises(UserError) as err:
        _render_note(base, folder, tmp_path)
    message = str(err.value)
    assert "note.html line 6" in message and "no finding 'trust_concil'" in message
    assert "trust_council_by_group" in message  # the findings that exist are listed
    assert not (tmp_path / "note.pdf").exists()


def test_a_suppressed_finding_cannot_be_printed(tmp_path: Path) -> None:
    p = _project(tmp_path)
    cell = dict(p["facts"]["findings"]["consent_always"])
    p["facts"]["findings"]["consent_always"] = {"suppressed": True, "base": 31,
                                                "finding": "consent_always",
                                                **{k: cell[k] for k in ("variable", "short")}}
    folder = _study_template(tmp_path, "<p>{{ f.consent_always | pct }}</p>")
    with pytest.raises(UserError, match=r"note.html line 5: finding 'consent_always' is "
                                        r"suppressed \(base 31\)"):
        _render_note(p, folder, tmp_path)
    # Guarded, the same template renders.
    folder = _study_template(tmp_path, "<p>{% if not f.consent_always.suppressed %}"
                                       "{{ f.consent_always | pct }}{% else %}too few{% endif %}</p>")
    _render_note(p, folder, tmp_path)
    assert "too few" in _flat(tmp_path / "note.pdf")


def test_appendix_with_a_broken_codebook_is_one_error(tmp_path: Path) -> None:
    p = _project(tmp_path)
    book = tmp_path / "results" / "codebook" / "main.csv"
    with pytest.raises(UserError, match="main.csv: codebook not found; run the codebook rule"):
        _appendix(p, tmp_path, "main", book)
    book.parent.mkdir(parents=True, exist_ok=True)
    book.write_text("variable,label\nx,X\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"main.csv: codebook lacks column\(s\) type, source"):
        _appendix(p, tmp_path, "main", book)
    assert not (tmp_path / "reports" / "appendix" / "main_tables.pdf").exists()
