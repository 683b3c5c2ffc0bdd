"""CSV injection: text fields a spreadsheet would run as formulas are neutralised on writing and
given back exactly on reading (parentlink.csvio, docs/data-contract.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from parentlink.csvio import (
    FORMULA_START,
    neutralise,
    neutralise_text,
    read_csv,
    read_records,
    unescape_text,
    write_csv,
)

HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\tTab", "\rCR",
           "=cmd|' /C calc'!A0", "'=already quoted", "''", "'", "'plain", "", "plain -x",
           "a=b", "-", "+", "=", "-1", "+44", "1e5", "-0.5", "Label with = inside"]


@pytest.mark.parametrize("text", HOSTILE)
def test_round_trip(text: str) -> None:
    assert unescape_text(neutralise_text(text)) == text


@pytest.mark.parametrize("text", [t for t in HOSTILE if t.startswith(FORMULA_START)
                                  and t not in ("-1", "+44", "-0.5")])
def test_formula_starts_are_quoted(text: str) -> None:
    assert neutralise_text(text).startswith("'") and neutralise_text(text)[1:] == text


def test_numbers_and_numeric_columns_are_left_alone() -> None:
    assert neutralise_text("-1") == "-1" and neutralise_text("+44") == "+44"
    frame = pd.DataFrame({"code": [-1, 2], "share": [-0.5, 0.25], "label": ["=1+1", "ok"]})
    out = neutralise(frame)
    assert out["code"].tolist() == [-1, 2] and out["share"].tolist() == [-0.5, 0.25]
    assert out["label"].tolist() == ["'=1+1", "ok"]


def test_file_round_trip_and_no_live_formula_in_the_file(tmp_path: Path) -> None:
    # (a bare CR inside a field is a line break to every CSV reader; labels lose their control
    # characters at ingest, so only the field-level round trip above covers it)
    texts = [t for t in HOSTILE if "\r" not in t]
    frame = pd.DataFrame({"variable": ["q"] * len(texts), "label": texts,
                          "n": range(len(texts))})
    path = tmp_path / "t.csv"
    write_csv(frame, path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    for cell in raw["label"]:  # what a spreadsheet would see
        assert not cell.startswith(FORMULA_START) or cell in ("-1", "+44", "-0.5", "1e5")
    back = read_csv(path, dtype={"label": str}, keep_default_na=False)
    assert back["label"].tolist() == texts


def test_every_pipeline_writer_neutralises(tmp_path: Path) -> None:
    """The writers of the estimates/tests/audit/model (estimate.write_csv), the documents tables
    (documents.write_csv) and the codebook (codebook.write) go through csvio."""
    from parentlink import documents, estimate

    frame = pd.DataFrame({"category": ["=2+3", "@x"], "v": [1.0, 2.0]})
    for i, writer in enumerate((estimate.write_csv, documents.write_csv)):
        path = tmp_path / f"{i}.csv"
        writer(frame, path)
        assert pd.read_csv(path)["category"].tolist() == ["'=2+3", "'@x"], writer


def test_read_records_types_like_read_csv_without_pandas(tmp_path: Path) -> None:
    """The technical report's small tables are read without importing pandas: same values and
    types as read_csv(...).to_dict('records'), neutralisation undone, empty cells as asked."""
    path = tmp_path / "t.csv"
    frame = pd.DataFrame({
        "step": ["delivered", "=HYPERLINK(x)", "2020", "-1"],   # text, one number-like
        "n": [1048, 15, 0, -3],                                    # whole numbers
        "pct": [10.0, 11.111111, 0.5, 1e-05],                      # floats
        "code": ["1", "2", "3", "4"],                              # codes kept as text if asked
    })
    write_csv(frame, path)
    got = read_records(path, text={"code"})
    want = read_csv(path, dtype={"code": str}).to_dict("records")
    assert got == want
    assert [type(v) for v in got[0].values()] == [type(v) for v in want[0].values()]
    assert got[1]["step"] == "=HYPERLINK(x)" and got[0]["n"] == 1048 and got[3]["code"] == "4"
    # An empty cell: `empty`; a whole-number column with one becomes float, as in pandas.
    path.write_text("a,b,c\n1,x,2.5\n,,\n", encoding="utf-8")
    rows = read_records(path, empty="")
    assert rows == [{"a": 1.0, "b": "x", "c": 2.5}, {"a": "", "b": "", "c": ""}]
    assert isinstance(rows[0]["a"], float)
    assert read_records(path)[1] == {"a": None, "b": None, "c": None}
    path.write_text("a,b\n", encoding="utf-8")
    assert read_records(path) == []


def test_the_renderer_and_the_csv_reader_load_without_pandas() -> None:
    """A render job that reads only small tables does not pay for importing pandas (issue 17's
    render times): neither parentlink.render nor parentlink.csvio imports it at load."""
    import subprocess
    import sys

    code = ("import sys, parentlink.csvio, parentlink.render, parentlink.wording; "
            "sys.exit('pandas' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
