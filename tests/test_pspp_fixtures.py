"""Files written by a real tool, GNU PSPP, read faithfully (issue 18).

The fixtures in tests/fixtures/pspp/ are made by `pspp delivery.sps` (committed, so these tests
run without PSPP); the tests that run PSPP itself — regenerating the fixtures, converting a
portable file as the error advises, reading the clean .sav back — skip when it is not installed.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest
import yaml

from parentlink.clean import clean
from parentlink.errors import UserError
from parentlink.ingest import apply_privacy, read_metadata, read_raw
from parentlink.plan import load_plan
from parentlink.spss import write_labelled

HERE = Path(__file__).parent / "fixtures" / "pspp"
PSPP = shutil.which("pspp")
PSPP_CONVERT = shutil.which("pspp-convert")
needs_pspp = pytest.mark.skipif(PSPP is None, reason="GNU PSPP is not installed (apt-get install pspp)")

PLAN: dict[str, Any] = {
    "survey": "t", "id": "RID", "drop": ["born", "seen", "took", "qtr", "mon", "wk"],
    "text": {"note": "note"}, "timestamps": {"start": "start", "end": "ended", "duration": "secs"},
    "missing": {-1: "not_asked", -2: "refused", 999: "dont_know", -95: "refused", 99: "dont_know"},
    "declare_missing": [{"variables": ["sex"], "codes": {3: "refused"}}],
    "codes_from_labels": ["sex"], "valid_range": {"age": [16, 99]},
    "rename": {"Sex": "sex", "q": "agree", "lvl": "level", "age": "age", "inc": "income"},
    "numeric": ["age"], "exclusions": [],
}


def run(path: Path, tmp: Path, **keys: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    (tmp / "plan.yaml").write_text(yaml.safe_dump({**PLAN, **keys}, sort_keys=False), "utf-8")
    plan = load_plan(tmp / "plan.yaml")
    df, meta = read_raw(path, plan)
    c = clean(apply_privacy(df, meta, plan, "k", 500), meta, plan, weighted=False)
    return c.data, c.meta


@pytest.mark.parametrize("name", ["delivery.sav", "delivery.zsav"])
def test_pspp_file_reads_faithfully(name: str) -> None:
    df, meta = read_raw(HERE / name)
    v = meta["variables"]
    assert df["rid"].tolist() == ["00123", "00124", "00125", "00126", "00127"]  # leading zeros kept
    assert v["Sex"]["value_labels"] == {"f": "Female", "m": "Male", "x": "No answer"}
    assert v["Sex"]["missing_strings"] == ["x"] and v["Sex"]["measure"] == "nominal"
    assert v["q"]["missing_ranges"] == [[None, -1.0]] and v["q"]["measure"] == "ordinal"
    assert v["inc"]["missing_ranges"] == [[-99.0, -90.0]] and v["inc"]["missing_codes"] == [99.0]
    assert v["lvl"]["value_labels"] == {"1": "Low", "1.5": "Middle", "2": "High"}
    assert df["lvl"].tolist() == [1.0, 1.5, 2.0, 1.0, 2.0]
    assert v["age"]["missing_codes"] == [999.0] and df["age"].tolist()[1] == 999  # kept as its code
    assert df["born"].astype(str).tolist() == ["1980-05-17", "1900-01-01", "2099-12-31", "2000-02-29",
                                                "1970-01-01"]
    assert df["seen"].iloc[0] == pd.Timestamp("2021-03-06")
    assert df["start"].iloc[0] == pd.Timestamp("2021-03-06 21:04:33")
    assert df["took"].iloc[0] == pd.Timedelta(hours=29, minutes=14)  # over 24 h, not wrapped
    assert df["qtr"].iloc[2] == pd.Timestamp("1999-10-01") and df["mon"].iloc[2] == pd.Timestamp("1999-12-01")
    assert df["wk"].iloc[0] == pd.Timestamp("2021-03-05")  # SPSS week 10: weeks count from 1 January
    assert {n: x["format"] for n, x in v.items() if n in ("born", "took", "qtr", "wk")} == {
        "born": "DATE11", "took": "TIME8", "qtr": "QYR8", "wk": "WKYR10"}
    assert read_metadata(HERE / name)["variables"] == v


def test_pspp_delivery_runs_through_a_plan_and_exports(tmp_path: Path) -> None:
    data, meta = run(HERE / "delivery.sav", tmp_path)
    sex = meta["variables"]["sex"]
    # pspp stores value labels sorted by value, so "f" is first in the file and becomes 1
    assert sex["string_codes"] == {"f": 1, "m": 2, "x": 3}
    assert sex["value_labels"] == {"1": "Female", "2": "Male", "3": "No answer"}
    assert sex["missing"] == {"3": "refused"}
    assert meta["variables"]["agree"]["missing"] == {"-2": "refused", "-1": "not_asked"}
    assert meta["variables"]["income"]["missing"] == {"-95": "refused", "99": "dont_know"}
    assert meta["variables"]["age"]["missing"] == {"999": "dont_know"}
    assert sorted(data["secs"].tolist()) == [1200, 1800, 1800, 2400, 3600]
    write_labelled(data, meta, tmp_path / "clean.sav")
    _, back = pyreadstat.read_sav(str(tmp_path / "clean.sav"), user_missing=True)
    assert back.missing_ranges["income"] == [{"lo": -99.0, "hi": -90.0}, {"lo": 99.0, "hi": 99.0}]
    assert back.missing_ranges["agree"] == [{"lo": -math.inf, "hi": -1.0}]
    assert back.variable_value_labels["level"] == {1: "Low", 1.5: "Middle", 2: "High"}


def test_pspp_age_outside_its_valid_range_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"variable age has value\(s\) 72 outside its valid range 16-70"):
        run(HERE / "delivery.sav", tmp_path, valid_range={"age": [16, 70]})


@needs_pspp
def test_pspp_reads_the_clean_sav_back(tmp_path: Path) -> None:
    """A real tool opens the export and sees the delivery's missing declarations and labels."""
    data, meta = run(HERE / "delivery.sav", tmp_path)
    write_labelled(data, meta, tmp_path / "clean.sav")
    (tmp_path / "show.sps").write_text("GET FILE='clean.sav'.\nDISPLAY DICTIONARY.\n", "utf-8")
    out = subprocess.run([str(PSPP), "-O", "format=txt", "-O", "width=200", "show.sps"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\|(\w+)\s*\|.*$", out, re.M)}
    assert "-99 THRU -90; 99" in rows["income"], out
    assert "LOWEST THRU -1" in rows["agree"], out
    assert re.search(r"1\.50?\s*\|Middle", out), out
    assert "No answer" in out and "Ordinal" in rows["income"]


def test_pspp_portable_file_with_missing_values_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        read_raw(HERE / "delivery.por")
    message = str(err.value)
    assert message.startswith("delivery.por: variable(s) AGE, INC, Q, SEX declare user-missing values")
    assert "'pspp-convert delivery.por delivery.sav'" in message
    with pytest.raises(UserError, match="declare user-missing values"):
        read_metadata(HERE / "delivery.por")  # the pre-flight refuses it too
    if PSPP_CONVERT is None:
        pytest.skip("pspp-convert is not installed: the advice is not followed here")
    shutil.copy(HERE / "delivery.por", tmp_path)
    command = re.search(r"'(pspp-convert .*?)'", message)
    assert command is not None
    subprocess.run(command.group(1).split(), cwd=tmp_path, check=True, capture_output=True)
    df, meta = read_raw(tmp_path / "delivery.sav")
    assert meta["variables"]["INC"]["missing_ranges"] == [[-99.0, -90.0]]
    assert meta["variables"]["SEX"]["missing_strings"] == ["x"] and df["AGE"].tolist()[1] == 999


def test_truncated_portable_file_is_named(tmp_path: Path) -> None:
    cut = tmp_path / "cut.por"
    cut.write_bytes((HERE / "delivery.por").read_bytes()[:600])
    with pytest.raises(UserError, match=r"cut.por: its portable-file dictionary could not be read "
                                        r"\(unexpected record tag .*ask the agency for the .sav"):
        read_raw(cut)


def test_pspp_portable_file_without_missing_values_reads() -> None:
    df, meta = read_raw(HERE / "plain.por")
    assert df["RID"].tolist()[0] == "00123" and df["LVL"].tolist()[1] == 1.5
    assert df["BORN"].iloc[2] == pd.Timestamp("2099-12-31")
    assert meta["variables"]["Q"]["value_labels"]["-2"] == "Refused"


def test_pspp_portable_text_it_cannot_carry_is_named() -> None:
    with pytest.raises(UserError, match=r"accent.por: variable WORD holds characters a portable file "
                                        r"cannot carry .*ask the agency for the .sav"):
        read_raw(HERE / "accent.por")


@needs_pspp
def test_committed_fixtures_are_what_pspp_makes(tmp_path: Path) -> None:
    shutil.copy(HERE / "delivery.sps", tmp_path)
    subprocess.run([str(PSPP), "delivery.sps"], cwd=tmp_path, check=True, capture_output=True)
    for name in ("delivery.sav", "delivery.zsav", "plain.por"):
        fresh, committed = read_raw(tmp_path / name), read_raw(HERE / name)
        pd.testing.assert_frame_equal(fresh[0], committed[0])
        assert fresh[1]["variables"] == committed[1]["variables"]
