"""The people-facing workbook: suppressed values never written, [c] marks, layout, sheet names and
byte-identical files from two processes with the same SOURCE_DATE_EPOCH."""

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


@pytest.fixture()
def built(inputs: tuple[Path, Path], tmp_path: Path) -> Path:
    out = tmp_path / "out" / "main_tables.xlsx"
    wbk.write_workbook(*inputs, out, context())
    return out


def all_cells(path: Path) -> list[Any]:
    book = openpyxl.load_workbook(path)
    return [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row
            if c.value is not None]


def item_table(ws: Any) -> tuple[list[Any], list[tuple[Any, ...]]]:
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "Breakdown")
    return list(rows[start]), [r for r in rows[start + 1:] if r[0] is not None]


def test_suppressed_values_reach_no_cell(built: Path) -> None:
    values = all_cells(built)
    assert values.count("[c]") == 8  # South x 2 categories x (% and CI), in two items
    for v in values:
        if isinstance(v, float):
            assert v not in (87.7, 81.4, 92.5, 87.6543, 0.876543, 1.23457)
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
    ws = book["heard"]
    top = [ws.cell(row=r, column=1).value for r in range(1, 7)]
    assert top[0] == "Had you heard of data linkage?"
    assert top[1] == "Variable heard: question Q1."
    assert "Main survey: probability-based panel" in top
    assert any("Weighted estimates" in str(t) for t in top)
    assert any("SYNTHETIC DATA" in str(t) for t in top)
    header, body = item_table(ws)
    assert header == ["Breakdown", "Group", "Unweighted base", "Yes: % (weighted)", "Yes: 95% CI",
                      "No: % (weighted)", "No: 95% CI"]
    assert body[0] == ("All parents", "All parents", 900, 44.0, "41.2\u201347.0", 56.0, "53.0\u201358.8")
    assert body[1] == ("Region of residence", "North", 300, 40.1, "35.0\u201345.0", 59.9, "55.0\u201365.0")
    assert body[2] == ("Region of residence", "South", 40, "[c]", "[c]", "[c]", "[c]")  # base kept
    assert ws.freeze_panes == f"D{len(list(ws.iter_rows())) - len(body) + 1}"
    assert ws.cell(row=len(list(ws.iter_rows())) - len(body), column=1).font.bold
    derived = book[book.sheetnames[2]]
    assert derived["A2"].value == f"Variable {LONG}: derived from trust_ss (question Q4_5)."


def test_notes_sheet(built: Path) -> None:
    book = openpyxl.load_workbook(built)
    assert book.sheetnames[0] == "Notes"
    notes = book["Notes"]
    text = " ".join(str(c.value) for row in notes.iter_rows() for c in row if c.value is not None)
    for needle in ("SYNTHETIC DATA", "under 50", "1 to 9 respondents", "logit", "Sex of parent",
                   "main_survey.sav", "results/tables/main_estimates.csv", "Unweighted base"):
        assert needle in text, needle
    links = {c.value: c.hyperlink.location for row in notes.iter_rows() for c in row if c.hyperlink}
    assert set(links) == set(book.sheetnames[1:])
    assert links["heard"] == "'heard'!A1"


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
    assert len(names) == len({n.casefold() for n in names}) == 8
    for n in names:
        assert 0 < len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) and n[0] != "'" and n[-1] != "'"
        assert n.casefold() != "history"
    assert "notes (2)" in [n.casefold() for n in names]


def test_safe_sheet_names_rules() -> None:
    names = wbk.safe_sheet_names(["a" * 40, "a" * 35, "x:y", "'q'", "", "NOTES"])
    assert names["a" * 40] == "a" * 31
    assert names["a" * 35] == "a" * 27 + " (2)"
    assert names["x:y"] == "x_y" and names["'q'"] == "q" and names[""] == "Sheet"
    assert names["NOTES"] == "NOTES (2)"


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
