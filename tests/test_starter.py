"""python -m parentlink.starter: a starter plan that validates and that ingest + clean run on."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from parentlink import starter
from parentlink.clean import clean
from parentlink.ingest import apply_privacy, read_raw
from parentlink.plan import load_plan


def run_plan(plan_path: Path, raw: Path) -> dict[str, object]:
    plan = load_plan(plan_path)
    df, meta = read_raw(raw, plan)
    df = apply_privacy(df, meta, plan, "k", 500)
    return clean(df, meta, plan, weighted="design_weight" in plan).meta


def test_starter_on_the_shipped_main_survey(tmp_path: Path, root: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.yaml"
    assert starter.main([str(root / "raw/main_survey.sav"), "--out", str(out), "--survey", "main"]) == 0
    plan = load_plan(out)
    assert plan["id"] == "panel_id" and plan["drop"] == ["email"]
    assert plan["text"] == {"Q8": "q8"} and plan["design_weight"] == "design_wt"
    assert plan["timestamps"] == {"start": "start_time", "end": "end_time",
                                  "duration": "interview_seconds", "date": "interview_date"}
    assert plan["missing"] == {-1: "not_asked", 8: "dont_know", 9: "refused"}
    assert {"d2", "d9", "d10", "d11"} <= set(plan["numeric"])
    text = out.read_text("utf-8")
    assert '# Q4_1 "How much would you trust' in text and "8 Don't know [missing: dont_know]" in text
    meta = run_plan(out, root / "raw/main_survey.sav")
    assert meta["variables"]["q2_1"]["missing"] == {"-1": "not_asked", "8": "dont_know", "9": "refused"}
    assert "Wrote" in capsys.readouterr().out


def agency_file(tmp: Path) -> Path:
    """Undeclared 'Refused'/'Don't know' codes, a LO THRU -1 range, a date, and identifiers that
    only their names or contents give away."""
    n = 8
    df = pd.DataFrame({
        "RESPNO": [f"A{i:04d}" for i in range(n)],
        "Q1": [1.0, 2, 8, 9, 1, 2, 1, 2],
        "Q2": [1.0, 2, -1, -2, 1, 1, 2, 2],
        "AGE": [30.0, 45, 999, 51, 28, 33, 61, 40],
        "withinwt": [0.8, 1.2, 1.0, 1.1, 0.9, 1.0, 1.05, 0.95],
        "contact": [f"person{i}@example.org" for i in range(n)],
        "mobile_no": ["07700 900123"] * n,
        "pc": ["SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "W1A 0AX", "EC1A 1BB", "LS1 4AP"],
        "RESPNAME": ["Ann", "Bo", "Cy", "Di", "Ed", "Fi", "Gus", "Hal"],
        "who": ["Emma", "Oliver", "Amelia", "Jack", "Emma", "Harry", "Isla", "Noah"],
        "comments": ["fine", "", "too long", "ok", "", "", "no", "yes"],
        "intdate": [13834711445.0] * n,
    })
    path = tmp / "agency.sav"
    pyreadstat.write_sav(
        df, str(path),
        column_labels={"Q1": "Trust in the council", "withinwt": "Within-country weighting factor"},
        variable_value_labels={"Q1": {1: "Yes", 2: "No", 8: "Refused", 9: "Don't know"},
                               "Q2": {1: "Yes", 2: "No", -1: "Not applicable", -2: "Refused"}},
        missing_ranges={"Q2": [{"lo": -math.inf, "hi": -1.0}]},
        variable_format={"intdate": "DATETIME20"},
    )
    return path


def test_starter_on_an_agency_style_file(tmp_path: Path) -> None:
    raw = agency_file(tmp_path)
    out = tmp_path / "plan.yaml"
    assert starter.main([str(raw), "--out", str(out)]) == 0
    plan = load_plan(out)
    assert plan["survey"] == "agency" and plan["id"] == "RESPNO"
    assert {"contact", "mobile_no", "pc", "RESPNAME", "who"} <= set(plan["drop"])
    assert "intdate" in plan["drop"]  # a date is not analysed, and no start/end pair was found
    assert plan["design_weight"] == "withinwt"
    assert plan["text"] == {"comments": "comments"}
    assert plan["missing"] == {-2: "refused", -1: "not_asked"}
    meta = run_plan(out, raw)
    assert meta["variables"]["q1"]["missing"] == {"8": "refused", "9": "dont_know"}  # declared by the plan
    assert meta["variables"]["q2"]["missing"] == {"-2": "refused", "-1": "not_asked"}
    assert "age" in plan["numeric"]


def test_starter_marks_unlabelled_codes_numeric(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": ["a", "b", "c"], "q": [1.0, 2, 7], "n": [3.0, np.nan, 1]})
    raw = tmp_path / "d.sav"
    pyreadstat.write_sav(df, str(raw), variable_value_labels={"q": {1: "Yes", 2: "No"}})
    out = tmp_path / "plan.yaml"
    assert starter.main([str(raw), "--out", str(out)]) == 0
    assert set(load_plan(out)["numeric"]) == {"q", "n"}
    assert "CHECK: 1 value(s) without a label" in out.read_text("utf-8")
    run_plan(out, raw)


def test_starter_flags_missing_codes_no_label_explains(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": ["a", "b", "c"], "q": [1.0, 2, -7]})
    raw = tmp_path / "d.sav"
    pyreadstat.write_sav(df, str(raw), variable_value_labels={"q": {1: "Yes", 2: "No"}},
                         missing_ranges={"q": [-7.0]})
    out = tmp_path / "plan.yaml"
    assert starter.main([str(raw), "--out", str(out)]) == 0
    assert "  -7: not_asked    # CHECK: no value label says what it means" in out.read_text("utf-8")
    run_plan(out, raw)


def test_starter_never_overwrites_and_names_bad_files(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.yaml"
    out.write_text("keep me")
    assert starter.main([str(agency_file(tmp_path)), "--out", str(out)]) == 1
    assert out.read_text() == "keep me"
    assert starter.main([str(tmp_path / "absent.sav"), "--out", str(tmp_path / "p2.yaml")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("ERROR: ") for line in err)
    assert not (tmp_path / "p2.yaml").exists()


def wide_agency_file(tmp: Path, rows: int = 60) -> Path:
    """A 388-variable file shaped like an Afrobarometer round: labelled codes with undeclared
    8/9, a LO THRU -1 range on some items, a labelled string variable, dates, a duration, weights."""
    rng = np.random.default_rng(18)
    items = [f"Q{i}" for i in range(1, 378)]
    data: dict[str, object] = {"RESPNO": [f"GB{i:05d}" for i in range(rows)]}
    labels: dict[str, dict[object, str]] = {}
    ranges: dict[str, list[object]] = {}
    for j, name in enumerate(items):
        data[name] = rng.choice([1.0, 2, 3, 4, 8, 9, -1], size=rows)
        labels[name] = {1: "Strongly agree", 2: "Agree", 3: "Disagree", 4: "Strongly disagree",
                        8: "Refused", 9: "Don't know", -1: "Missing"}
        if j % 3 == 0:
            ranges[name] = [{"lo": -math.inf, "hi": -1.0}]
    data["URBRUR"] = rng.choice(["U", "R"], size=rows)
    labels["URBRUR"] = {"U": "Urban", "R": "Rural"}
    data["AGE"] = rng.choice([25.0, 40, 61, 998, 999], size=rows)
    labels["AGE"] = {998: "Refused", 999: "Don't know"}
    data["withinwt"] = rng.uniform(0.5, 2, size=rows)
    data["DATEINTR"] = [13834711445.0 - 86400 * i for i in range(rows)]
    data["STARTIME"] = [13834711445.0 + 60 * i for i in range(rows)]
    data["ENDTIME"] = [13834711445.0 + 60 * i + 2400 for i in range(rows)]
    data["LENGTH"] = [100000.0] * rows
    data["RESPEMAIL"] = [f"r{i}@example.org" for i in range(rows)]
    data["NOCALL_1Other"] = [""] * rows
    data["THANKS"] = rng.choice(["Thank you", "Thanks"], size=rows)
    df = pd.DataFrame(data)
    assert df.shape[1] == 388
    path = tmp / "wide.sav"
    pyreadstat.write_sav(df, str(path), variable_value_labels=labels, missing_ranges=ranges,
                         variable_format={"DATEINTR": "DATE11", "STARTIME": "DATETIME20",
                                          "ENDTIME": "DATETIME20", "LENGTH": "TIME8", "withinwt": "F13.8"})
    return path


def test_starter_on_a_388_variable_agency_file(tmp_path: Path) -> None:
    raw = wide_agency_file(tmp_path)
    out = tmp_path / "plan.yaml"
    assert starter.main([str(raw), "--out", str(out)]) == 0
    plan = load_plan(out)
    assert plan["id"] == "RESPNO" and plan["design_weight"] == "withinwt"
    assert plan["timestamps"] == {"start": "STARTIME", "end": "ENDTIME",
                                  "duration": "interview_seconds", "date": "interview_date"}
    assert {"RESPEMAIL", "DATEINTR", "LENGTH", "NOCALL_1Other"} <= set(plan["drop"])
    assert "THANKS" in plan["text"] and "URBRUR" not in plan["text"]
    assert plan["codes_from_labels"] == ["URBRUR"]  # every value labelled: a coded variable
    meta = run_plan(out, raw)
    assert len(plan["rename"]) == 379  # 377 items, AGE and URBRUR
    assert meta["variables"]["q1"]["missing"] == {"-1": "not_asked", "8": "refused", "9": "dont_know"}
    # -1 "Missing" is declared by the file for Q1 (a range), and by the plan for Q2 (its label)
    assert meta["variables"]["q2"]["missing"] == {"-1": "not_asked", "8": "refused", "9": "dont_know"}
    assert meta["variables"]["age"]["missing"] == {"998": "refused", "999": "dont_know"}
    assert meta["variables"]["urbrur"]["value_labels"] == {"1": "Urban", "2": "Rural"}


def test_starter_on_a_file_written_by_pspp(tmp_path: Path) -> None:
    """A real tool's file: string labels with a string user-missing value, ranges, dates."""
    raw = Path(__file__).parent / "fixtures" / "pspp" / "delivery.sav"
    out = tmp_path / "plan.yaml"
    assert starter.main([str(raw), "--out", str(out)]) == 0
    plan = load_plan(out)
    assert plan["id"] == "rid" and plan["codes_from_labels"] == ["Sex"]
    assert plan["timestamps"]["start"] == "start" and plan["timestamps"]["end"] == "ended"
    meta = run_plan(out, raw)
    assert meta["variables"]["sex"]["value_labels"] == {"1": "Female", "2": "Male", "3": "No answer"}
    assert set(meta["variables"]["sex"]["missing"]) == {"3"}  # the file's string user-missing 'x'
    assert meta["variables"]["inc"]["missing"] == {"-95": "refused", "99": "dont_know"}


@pytest.mark.parametrize("suffix", [".dta", ".por", ".zsav"])
def test_starter_on_stata_portable_and_compressed_files(tmp_path: Path, suffix: str) -> None:
    df = pd.DataFrame({"caseid": [1.0, 2, 3, 4], "q": [1.0, 2, 1, 2], "hhsize": [2.0, 3, 4, 5]})
    raw = tmp_path / f"d{suffix}"
    if suffix == ".dta":
        pyreadstat.write_dta(df, str(raw), variable_value_labels={"q": {1: "Yes", 2: "No"}})
    elif suffix == ".por":
        pyreadstat.write_por(df, str(raw))
    else:
        pyreadstat.write_sav(df, str(raw), compress=True, variable_value_labels={"q": {1: "Yes", 2: "No"}})
    out = tmp_path / "plan.yaml"
    assert starter.main([str(raw), "--out", str(out)]) == 0
    plan = load_plan(out)
    assert plan["id"].lower() == "caseid"
    meta = run_plan(out, raw)
    assert meta["variables"]["hhsize"]["type"] == "numeric"
