"""The people-facing workbook: suppressed values never written, [c] marks, the Analysis Function
spreadsheet checklist (cover, contents, [note N] notes, one Excel table per sheet, numbers stored
as numbers, readable unique sheet names, document properties), and byte-identical files from two
processes with the same SOURCE_DATE_EPOCH."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from parentlink import FALLBACK_SOURCE_DATE_EPOCH
from parentlink import workbook as wbk
from parentlink.errors import UserError
from parentlink.estimate import ESTIMATE_COLUMNS

EPOCH = "1700000000"
LONG = "trust_social_services_and_children_services_net"  # > 31 characters
# Values carried (against the data contract) by a suppressed row: none of them may reach the file.
HIDDEN = {"estimate": 0.876543, "se": 0.0123457, "ci_lower": 0.81357, "ci_upper": 0.92468}
HIDDEN_TEXTS = ["0.876543", "87.7", "0.0123457", "0.81357", "81.4", "0.92468", "92.5", "81.4\u201392.5"]


def _row(variable: str, label: str, code: int, category: str, gvar: str, gcode: int, group: str,
         base: int, est: float | None, lo: float | None = None, hi: float | None = None,
         suppressed: bool = False) -> dict[str, Any]:
    return {"survey": "main", "variable": variable, "variable_label": label, "category_code": code,
            "category": category, "group_variable": gvar, "group_code": gcode, "group": group,
            "base_unweighted": base, "base_weighted": float(base), "estimate": est,
            "se": None if est is None else 0.02, "ci_lower": lo, "ci_upper": hi,
            "suppressed": suppressed, "deff_kish": None if est is None else 1.3,
            "design": "calibrated (raking margins)"}


def fixture_rows() -> list[dict[str, Any]]:
    heard = "Had you heard of data linkage?"
    rows = [
        _row("heard", heard, 1, "Yes", "all", 0, "All parents", 900, 0.44, 0.412, 0.47),
        _row("heard", heard, 2, "No", "all", 0, "All parents", 900, 0.56, 0.53, 0.588),
        # region: North fine; South has a small base (quality rule: whole row suppressed)
        _row("heard", heard, 1, "Yes", "region", 1, "North", 300, 0.401, 0.35, 0.45),
        _row("heard", heard, 2, "No", "region", 1, "North", 300, 0.599, 0.55, 0.65),
        _row("heard", heard, 1, "Yes", "region", 2, "South", 40, None, suppressed=True),
        _row("heard", heard, 2, "No", "region", 2, "South", 40, None, suppressed=True),
    ]
    t = "Trust social services?"
    rows += [
        _row(LONG, t, 1, "Trust", "all", 0, "All parents", 880, 0.301, 0.27, 0.33),
        _row(LONG, t, 2, "Distrust", "all", 0, "All parents", 880, 0.699, 0.67, 0.73),
        _row(LONG, t, 1, "Trust", "region", 1, "North", 290, 0.212, 0.17, 0.26),
        _row(LONG, t, 2, "Distrust", "region", 1, "North", 290, 0.788, 0.74, 0.83),
        # a primary cell suppression whose row wrongly still carries its values
        {**_row(LONG, t, 1, "Trust", "region", 2, "South", 120, None, suppressed=True), **HIDDEN},
        _row(LONG, t, 2, "Distrust", "region", 2, "South", 120, None, suppressed=True),
    ]
    for var in ("trust_police_and_courts_services_a", "trust_police_and_courts_services_b",
                "notes", "what?/[odd]:*\\name", "History"):
        rows += [_row(var, f"Item {var}", 1, "Yes", "all", 0, "All parents", 500, 0.25, 0.21, 0.29),
                 _row(var, f"Item {var}", 2, "No", "all", 0, "All parents", 500, 0.75, 0.71, 0.79)]
    return rows


def meta() -> dict[str, Any]:
    return {"survey": "main", "n": 900, "weighted": True, "source_file": "main_survey.sav",
            "variables": {
                "region": {"label": "Region of residence", "source": "D3", "derived_from": None},
                "heard": {"label": "Had you heard of data linkage?", "source": "Q1",
                          "derived_from": None},
                LONG: {"label": "Trust social services?", "source": None, "derived_from": ["trust_ss"]},
                "trust_ss": {"label": "Trust social services", "source": "Q4_5"},
                "sex": {"label": "Sex of parent"},
            }}


def context(**kw: Any) -> wbk.Context:
    base: dict[str, Any] = dict(
        survey="main", survey_label="Main survey: probability-based panel", weighted=True,
        study={"title": "Parental social licence", "synthetic": True, "funder": "ESRC"},
        min_base=50, min_cell=10, margins=["sex"], estimates_name="results/tables/main_estimates.csv",
        population="parents")
    base.update(kw)
    return wbk.Context(**base)


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    est = tmp_path / "main_estimates.csv"
    pd.DataFrame(fixture_rows(), columns=ESTIMATE_COLUMNS).to_csv(est, index=False, lineterminator="\n")
    m = tmp_path / "main_meta.json"
    m.write_text(json.dumps(meta()), encoding="utf-8")
    return est, m


HIDDEN_TEST = 12.3456789  # a withheld test's statistic, wrongly carried by its row


def write_extras(tmp_path: Path) -> wbk.Extras:
    tests = tmp_path / "main_tests.csv"
    pd.DataFrame([
        {"survey": "main", "variable": "heard", "group_variable": "region", "chisq": HIDDEN_TEST,
         "f": HIDDEN_TEST, "ndf": 1.0, "ddf": 899.0, "p_value": 0.5, "n": 940,
         "withheld": "hidden shares in the table"},
        {"survey": "main", "variable": LONG, "group_variable": "region", "chisq": 4.5, "f": 4.4,
         "ndf": 1.0, "ddf": 879.0, "p_value": 0.036, "n": 880, "withheld": ""},
    ]).to_csv(tests, index=False)
    model = tmp_path / "main_licence_glm.csv"
    pd.DataFrame([
        {"term": "(Intercept)", "estimate": -1.2, "se": 0.5, "t": -2.4, "p_value": 0.02,
         "odds_ratio": 0.301, "or_lower": 0.11, "or_upper": 0.8, "label": "Intercept"},
        {"term": "region=2", "estimate": 0.4, "se": 0.2, "t": 2.0, "p_value": 0.05,
         "odds_ratio": 1.49, "or_lower": 1.0, "or_upper": 2.2, "label": "Region of residence: South"},
    ]).to_csv(model, index=False)
    diagnostics = tmp_path / "main_diagnostics.json"
    diagnostics.write_text(json.dumps({
        "n": 900, "design_effect": 1.4, "effective_n": 642.9, "efficiency": 0.71, "converged": True,
        "method": "rake_trim", "margins": [
            {"variable": "sex", "category": "1", "label": "Male", "target": 0.44,
             "unweighted": 0.38, "weighted": 0.44},
            {"variable": "sex", "category": "2", "label": "Female", "target": 0.56,
             "unweighted": 0.62, "weighted": 0.56}],
        "sources": {"sex": {"file": "config/targets/sex.csv", "note": "illustrative"}}}))
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"findings": {
        "heard": {"survey": "main", "variable": "heard", "label": "Heard of linkage", "base": 900,
                  "pct": 44.04, "ci_lower": 41.2, "ci_upper": 47.0, "suppressed": False},
        "by_region": {"survey": "main", "label": "Trust social services?", "by": {"region": {
            "lowest": {"group": "South", "base": 120, "suppressed": True, **{
                k: 100 * v for k, v in HIDDEN.items()}}}}},
        "pilot_only": {"survey": "pilot", "label": "Pilot figure", "base": 300, "pct": 12.0},
        # a comparison quoting the first finding again: listed once
        "heard_again": {"against": [{"label": "Heard of linkage", "base": 900, "pct": 44.04,
                                     "ci_lower": 41.2, "ci_upper": 47.0, "suppressed": False}]},
    }}))
    means = tmp_path / "main_means.csv"
    pd.DataFrame([
        {"survey": "main", "variable": "age", "label": "Age of parent", "group_variable": "all",
         "group_code": "0", "group": "All parents", "base_unweighted": 900, "base_weighted": 900.0,
         "mean": 39.5, "se": 0.2, "ci_lower": 39.1, "ci_upper": 39.9, "total": 35550.0,
         "total_se": 180.0, "suppressed": False, "design": "d", "suppressed_reason": ""},
        {"survey": "main", "variable": "age", "label": "Age of parent", "group_variable": "region",
         "group_code": "1", "group": "North", "base_unweighted": 30, "base_weighted": 31.0,
         "mean": None, "se": None, "ci_lower": None, "ci_upper": None, "total": None,
         "total_se": None, "suppressed": True, "design": "d", "suppressed_reason": "small_base"},
    ]).to_csv(means, index=False)
    return wbk.Extras(tests=tests, models={"licence": model}, diagnostics=diagnostics,
                      facts=facts, means=means,
                      finding_surveys={"heard": "main", "by_region": "main",
                                       "pilot_only": "pilot", "heard_again": "main"})


@pytest.fixture()
def built(inputs: tuple[Path, Path], tmp_path: Path) -> Path:
    out = tmp_path / "out" / "main_tables.xlsx"
    wbk.write_workbook(*inputs, out, context(contact="Stats team, stats@example.org",
                                             next_update="Spring 2027"), write_extras(tmp_path))
    return out


def all_cells(path: Path) -> list[Any]:
    book = openpyxl.load_workbook(path)
    return [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row
            if c.value is not None]


def item_table(ws: Any) -> tuple[list[Any], list[tuple[Any, ...]]]:
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "Breakdown")
    return list(rows[start]), [r for r in rows[start + 1:] if r[0] is not None]


def sheet_of(book: Any, title: str) -> Any:
    return next(ws for ws in book.worksheets if ws["A1"].value == title)


def test_suppressed_values_reach_no_cell(built: Path) -> None:
    values = all_cells(built)
    # South x 2 categories x (%, lower, upper) in two items; the withheld test's 5 statistics;
    # the briefing figure withheld (%, lower, upper); the hidden mean's 6 values
    assert values.count("[c]") == 12 + 5 + 3 + 6
    for v in values:
        if isinstance(v, float):
            assert v not in (87.7, 81.4, 92.5, 87.6543, 0.876543, 1.23457, HIDDEN_TEST)
        text = str(v)
        for hidden in HIDDEN_TEXTS:
            assert hidden not in text, (hidden, text)


def test_suppressed_values_reach_no_xml(built: Path) -> None:
    with zipfile.ZipFile(built) as zf:
        for name in zf.namelist():
            body = zf.read(name).decode("utf-8")
            for hidden in HIDDEN_TEXTS:
                assert hidden not in body, (name, hidden)


def test_item_sheet_layout(built: Path) -> None:
    book = openpyxl.load_workbook(built)
    ws = sheet_of(book, "Had you heard of data linkage?")
    assert ws.title == "T1 Had you heard of data"
    top = [ws.cell(row=r, column=1).value for r in range(1, 7)]
    assert top[1] == "This worksheet contains one table."
    assert re.fullmatch(r"This table has notes: (\[note \d+\], )*\[note \d+\] \(see the Notes sheet\)\.",
                        top[2])
    assert any("SYNTHETIC DATA" in str(t) for t in top)
    assert "Variable heard: question Q1. Main survey: probability-based panel." in top
    header, body = item_table(ws)
    assert header == ["Breakdown", "Group", "Unweighted base", "Yes: % (weighted)",
                      "Yes: lower 95% limit", "Yes: upper 95% limit", "No: % (weighted)",
                      "No: lower 95% limit", "No: upper 95% limit"]
    assert body[0] == ("All parents", "All parents", 900, 44.0, 41.2, 47.0, 56.0, 53.0, 58.8)
    assert body[1] == ("Region of residence", "North", 300, 40.1, 35.0, 45.0, 59.9, 55.0, 65.0)
    assert body[2] == ("Region of residence", "South", 40, *["[c]"] * 6)  # base kept
    assert ws.cell(row=len(list(ws.iter_rows())) - len(body) + 1, column=1).font.bold
    derived = sheet_of(book, "Trust social services?")
    assert derived["A6"].value == (f"Variable {LONG}: derived from trust_ss (question Q4_5). "
                                   "Main survey: probability-based panel.")


def test_cover_contents_and_notes(built: Path) -> None:
    book = openpyxl.load_workbook(built)
    assert book.sheetnames[:3] == ["Cover", "Contents", "Notes"]
    cover = " ".join(str(c.value) for row in book["Cover"].iter_rows() for c in row if c.value)
    for needle in ("Parental social licence: tables", "SYNTHETIC DATA", "Stats team, stats@example.org",
                   "Spring 2027", "14 November 2023", "main_survey.sav", "[c]", "[note N]"):
        assert needle in cover, needle
    notes = book["Notes"]
    table = notes.tables["notes"]
    rows = list(notes[table.ref])
    assert [c.value for c in rows[0]] == ["Note number", "Note text"]
    numbered = [r[0].value for r in rows[1:]]
    assert numbered == [f"[note {n}]" for n in range(1, len(numbered) + 1)]
    text = " ".join(str(r[1].value) for r in rows[1:])
    for needle in ("SYNTHETIC DATA", "under 50", "1 to 9 respondents", "logit", "Sex of parent",
                   "main_survey.sav", "results/tables/main_estimates.csv", "unweighted base",
                   "svychisq", "svyglm", "Kish"):
        assert needle in text, needle
    # every note is cited by some table sheet, and every citation exists
    cited = {m for ws in book.worksheets[3:] for m in re.findall(r"\[note \d+\]", str(ws["A3"].value))}
    assert cited == set(numbered)
    contents = book["Contents"]
    links = {c.value: c.hyperlink.location for row in contents.iter_rows() for c in row if c.hyperlink}
    assert set(links) == set(book.sheetnames[2:])
    assert links["T1 Had you heard of data"] == "'T1 Had you heard of data'!A1"


def test_other_results_sheets(built: Path) -> None:
    book = openpyxl.load_workbook(built)
    figures = sheet_of(book, "Figures quoted in the briefings")
    ref = next(iter(figures.tables.values())).ref
    rows = [tuple(c.value for c in r) for r in figures[ref]]
    assert rows[1] == ("heard", "Heard of linkage", "All parents", 44.0, 41.2, 47.0, 900)
    assert rows[2] == ("by_region / by / region / lowest", "Trust social services?", "South",
                       "[c]", "[c]", "[c]", 120)
    assert len(rows) == 3  # the pilot's finding is in the pilot's workbook only; no repeats
    model = sheet_of(book, "Model licence: survey-weighted logistic regression")
    assert model.title == "Model Licence"
    assert ["Region of residence: South", "region=2", 0.4, 0.2, 2.0, 0.05, 1.49, 1.0, 2.2] in [
        list(r) for r in model.iter_rows(values_only=True)]
    tests = book["Tests"]
    assert any(str(c.value).startswith("Source: ") and str(c.value).endswith("main_tests.csv.")
               for c in tests["A"][:7])
    body = [tuple(c.value for c in r) for r in tests[next(iter(tests.tables.values())).ref]][1:]
    assert body[0][:8] == ("Had you heard of data linkage?", "heard", "Region of residence",
                           "[c]", "[c]", "[c]", "[c]", "[c]")
    assert body[0][9] == "Withheld: hidden shares in the table"
    assert body[1][3:9] == (4.5, 4.4, 1.0, 879.0, 0.036, 880)
    margins = [r for r in book["Weighting margins"].iter_rows(values_only=True)]
    assert ("Sex of parent", "Male", 44.0, 38.0, 44.0, "config/targets/sex.csv") in margins
    summary = {r[0]: r[1] for r in book["Weighting summary"].iter_rows(values_only=True)}
    assert summary["Design effect due to weighting (Kish)"] == 1.4 and summary["Converged"] == "Yes"


def checklist(path: Path, variables: set[str]) -> list[str]:
    """The Analysis Function spreadsheet checklist, as far as a program can check it: the
    problems found (empty: the workbook passes)."""
    problems: list[str] = []
    book = openpyxl.load_workbook(path)
    names = book.sheetnames
    if names[:3] != ["Cover", "Contents", "Notes"]:
        problems.append(f"meta sheets first: {names[:3]}")
    if len({n.casefold() for n in names}) != len(names):
        problems.append("sheet names not unique")
    props = book.properties
    if not (props.title and props.language == "en-GB" and props.creator):
        problems.append("document properties (title, language, creator) not set")
    displays: list[str] = []
    for ws in book.worksheets:
        where = ws.title
        if len(where) > 31 or where in variables or re.search(r"[\[\]:*?/\\]", where):
            problems.append(f"{where}: sheet name too long, invalid or a variable code")
        if ws.merged_cells.ranges:
            problems.append(f"{where}: merged cells")
        if not isinstance(ws["A1"].value, str) or not ws["A1"].value:
            problems.append(f"{where}: no title in A1")
        if ws.title == "Cover":
            if ws.tables:
                problems.append("Cover: holds a table")
            continue
        if len(ws.tables) != 1:
            problems.append(f"{where}: {len(ws.tables)} Excel tables, not one")
            continue
        table = next(iter(ws.tables.values()))
        displays.append(table.displayName)
        if ws["A2"].value != "This worksheet contains one table.":
            problems.append(f"{where}: no table count above the table")
        cells = ws[table.ref]
        header = [c.value for c in cells[0]]
        if any(not isinstance(h, str) or not h.strip() for h in header):
            problems.append(f"{where}: empty header cell")
        if len({str(h).casefold() for h in header}) != len(header):
            problems.append(f"{where}: header not unique")
        if ws.max_row != cells[-1][0].row or ws.max_column != len(header):
            problems.append(f"{where}: cells outside the table, below or right of it")
        if cells[0][0].row - 1 < 2:
            problems.append(f"{where}: nothing above the table")
        for row in cells[1:]:
            values = [c.value for c in row]
            if all(v is None for v in values):
                problems.append(f"{where}: blank row inside the table")
            for c in row:
                if c.value is None and where not in ("Contents",):
                    problems.append(f"{where}!{c.coordinate}: blank cell in the table")
                if c.data_type == "f":
                    problems.append(f"{where}!{c.coordinate}: formula")
                if isinstance(c.value, str) and re.fullmatch(r"-?\d+(\.\d+)?|\d+(\.\d+)?\u2013\d+(\.\d+)?",
                                                             c.value.strip()):
                    problems.append(f"{where}!{c.coordinate}: number stored as text {c.value!r}")
        for c in range(len(header)):
            if all(cells[r][c].value is None for r in range(1, len(cells))):
                problems.append(f"{where}: blank column {header[c]!r} inside the table")
    if len(set(displays)) != len(displays):
        problems.append("table names not unique")
    return problems


def test_analysis_function_checklist(built: Path) -> None:
    assert checklist(built, set(meta()["variables"]) | {r["variable"] for r in fixture_rows()}) == []


def test_checklist_catches_departures(built: Path, tmp_path: Path) -> None:
    """The checklist can fail: a merged cell, a number as text, a second table, a variable code
    as a sheet name, an unset language are each reported."""
    from openpyxl.worksheet.table import Table
    book = openpyxl.load_workbook(built)
    ws = book.worksheets[3]
    top = next(iter(ws.tables.values())).ref.split(":")[0]
    row = int(top[1:]) + 1
    ws.cell(row=row, column=4, value="44.0")
    ws.merge_cells("A1:B1")
    book["Tests"].add_table(Table(displayName="extra", ref="A1:A2"))
    book.worksheets[4].title = "heard"
    book.properties.language = None
    broken = tmp_path / "broken.xlsx"
    book.save(broken)
    found = " | ".join(checklist(broken, {"heard"}))
    for needle in ("merged cells", "number stored as text", "Tests: 2 Excel tables",
                   "heard: sheet name", "document properties"):
        assert needle in found, (needle, found)


def test_unweighted_and_real_data_wording(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "pilot.xlsx"
    wbk.write_workbook(*inputs, out, context(weighted=False, study={"title": "T", "synthetic": False},
                                             survey_label="Pilot: convenience sample"))
    text = " ".join(str(v) for v in all_cells(out))
    assert "SYNTHETIC" not in text
    assert "Unweighted convenience sample" in text
    assert "Yes: %" in text and "(weighted)" not in text


def test_sheet_names_valid_and_unique(built: Path) -> None:
    names = openpyxl.load_workbook(built).sheetnames
    assert len(names) == len({n.casefold() for n in names}) == 3 + 7 + 6
    for n in names:
        assert 0 < len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) and n[0] != "'" and n[-1] != "'"
        assert n.casefold() != "history"
        assert n not in {r["variable"] for r in fixture_rows()}
    assert "T5 Item notes" in names and "T6 Item what odd name" in names and "T7 Item History" in names


def test_safe_sheet_names_rules() -> None:
    names = wbk.safe_sheet_names(["a" * 40, "a" * 35, "x:y", "'q'", "", "NOTES"])
    assert names["a" * 40] == "a" * 31
    assert names["a" * 35] == "a" * 27 + " (2)"
    assert names["x:y"] == "x_y" and names["'q'"] == "q" and names[""] == "Sheet"
    assert names["NOTES"] == "NOTES (2)"
    assert wbk.readable_name("T12", "How acceptable is linking: identify families who might "
                             "need support (collapsed)") == "T12 Identify families who might"
    assert wbk.readable_name("T1", "x" * 40) == "T1 X" + "x" * 27


def test_finding_surveys() -> None:
    findings = {"a": {"kind": "items", "survey": "main"}, "b": {"kind": "compare", "finding": "a"},
                "m": {"kind": "model", "model": "lic"}, "c": {"kind": "code"}}
    assert wbk.finding_surveys(findings, {"lic": {"survey": "pilot"}}) == {
        "a": "main", "b": "main", "m": "pilot"}


def _write_in_subprocess(inputs: tuple[Path, Path], out: Path, epoch: str | None) -> None:
    code = (
        "import sys; from parentlink import workbook as w; from tests.test_workbook import context;"
        "w.write_workbook(sys.argv[1], sys.argv[2], sys.argv[3], context())"
    )
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONHASHSEED"] = "random"
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = epoch
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code, str(inputs[0]), str(inputs[1]), str(out)],
                   cwd=root, env=env, check=True, timeout=120)


def test_byte_identical_across_processes(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.xlsx", tmp_path / "b.xlsx", tmp_path / "c.xlsx"
    _write_in_subprocess(inputs, a, EPOCH)
    _write_in_subprocess(inputs, b, EPOCH)
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        infos = zf.infolist()
        core = zf.read("docProps/core.xml").decode()
    assert {i.date_time for i in infos} == {(2023, 11, 14, 22, 13, 20)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    assert infos[-1].filename == "[Content_Types].xml"  # openpyxl's own order is kept
    assert core.count("2023-11-14T22:13:20Z") == 2
    _write_in_subprocess(inputs, c, None)  # the package-wide fallback date
    fallback = dt.datetime.fromtimestamp(FALLBACK_SOURCE_DATE_EPOCH, tz=dt.UTC)
    with zipfile.ZipFile(c) as zf:
        assert fallback.strftime("%Y-%m-%dT%H:%M:%SZ") in zf.read("docProps/core.xml").decode()


def test_bad_inputs_fail_cleanly(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    table = pd.read_csv(inputs[0]).drop(columns=["ci_lower"])
    bad = tmp_path / "bad.csv"
    table.to_csv(bad, index=False)
    with pytest.raises(UserError, match="ci_lower"):
        wbk.read_estimates(bad)
    with pytest.raises(UserError, match="no rows for survey"):
        wbk.build_workbook(wbk.read_estimates(inputs[0]), meta(), context(survey="pilot"))
    extras = write_extras(tmp_path)
    tests = pd.read_csv(extras.tests).drop(columns=["withheld"])
    tests.to_csv(bad, index=False)
    with pytest.raises(UserError, match=r"bad.csv: lacks column\(s\) withheld; re-run the estimate"):
        wbk.build_workbook(wbk.read_estimates(inputs[0]), meta(), context(),
                           wbk.Extras(tests=bad))
    out = tmp_path / "never.xlsx"
    with pytest.raises(UserError, match="lacks column"):
        wbk.write_workbook(*inputs, out, context(), wbk.Extras(models={"m": bad}))
    assert not out.exists() and not out.with_name("never.xlsx.part").exists()


def test_labels_that_look_like_formulas_stay_text(tmp_path: Path) -> None:
    """A delivery's label starting with '=' is text in the workbook, never a live formula."""
    rows = fixture_rows()
    for r in rows:
        if r["variable"] == "heard":
            r["variable_label"] = '=HYPERLINK("http://evil.example","click")'
            r["category"] = "=1+1" if r["category_code"] == 1 else "@SUM(A1)"
    est = tmp_path / "main_estimates.csv"
    pd.DataFrame(rows, columns=ESTIMATE_COLUMNS).to_csv(est, index=False, lineterminator="\n")
    m = tmp_path / "main_meta.json"
    m.write_text(json.dumps(meta()), encoding="utf-8")
    out = tmp_path / "t.xlsx"
    wbk.write_workbook(est, m, out, context())
    with zipfile.ZipFile(out) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
    assert "<f>" not in xml and "<f " not in xml  # no formula element anywhere
    book = openpyxl.load_workbook(out)
    texts = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row
             if isinstance(c.value, str)]
    assert '=HYPERLINK("http://evil.example","click")' in texts and "=1+1: % (weighted)" in texts
    assert all(c.data_type != "f" for ws in book.worksheets for row in ws.iter_rows() for c in row)


def test_means_sheet_shows_numbers_and_hides_small_groups(built: Path) -> None:
    wb = openpyxl.load_workbook(built)
    ws = wb["Means"]
    rows = [r for r in ws.iter_rows(values_only=True) if r and r[1] == "age"]
    assert rows[0][4:6] == (900, 39.5) and isinstance(rows[0][5], float)
    assert rows[1][3] == "North" and rows[1][5:] == ("[c]",) * 6
