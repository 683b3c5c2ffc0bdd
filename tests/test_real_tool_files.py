"""Files written by IBM SPSS Statistics and Stata themselves, read faithfully or refused with
one line naming the fix (issue 18).

The files are haven's own test files (tidyverse/haven, MIT licence; tests/fixtures/haven/LICENSE.md,
sources in tests/fixtures/README.md): SPSS 19, 22 and 24 for Windows, and Stata 14 (format 118)
and older (%d dates). What each must give is taken from the file as the writing tool shows it
(haven's own tests state the same values).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from parentlink.errors import UserError
from parentlink.ingest import read_metadata, read_raw

HERE = Path(__file__).parent / "fixtures" / "haven"


def test_spss24_string_labels_become_codes_when_the_plan_says_so() -> None:
    df, meta = read_raw(HERE / "labelled-str.sav")
    assert meta["variables"]["gender"]["type"] == "text"  # by default: text, for the plan to declare
    df, meta = read_raw(HERE / "labelled-str.sav", {"codes_from_labels": ["GENDER"]})
    gender = meta["variables"]["gender"]
    assert gender["string_codes"] == {"F": 1, "M": 2}  # the file's label order
    assert gender["value_labels"] == {"1": "Female", "2": "Male"}
    assert df["gender"].tolist() == [2.0, 1.0]  # M, F


def test_spss22_user_missing_code_is_kept_as_its_code() -> None:
    df, meta = read_raw(HERE / "labelled-num-na.sav")
    v = meta["variables"]["VAR00002"]
    assert v["missing_codes"] == [9.0] and v["value_labels"] == {"1": "This is one"}
    assert df["VAR00002"].tolist() == [1.0, 9.0]


def test_spss22_utf8_labels() -> None:
    _, meta = read_raw(HERE / "umlauts.sav")
    assert meta["variables"]["var1"]["value_labels"]["1"] == "the ä umlaut"


def test_spss19_far_date_is_refused_and_dropping_it_reads_the_rest() -> None:
    with pytest.raises(UserError, match=r"datetime.sav: variable date.posix \(DATETIME20\): 1 value\(s\) .* "
                                        r"not dates between the years 1 and 9999: .*'drop'"):
        read_raw(HERE / "datetime.sav")
    df, meta = read_raw(HERE / "datetime.sav", {"drop": ["date.posix"]})
    assert df["date"].iloc[0] == pd.Timestamp("2014-09-22")  # ADATE10
    assert df["time"].iloc[0] == pd.Timedelta(seconds=43870.09)  # TIME11.2, hundredths kept
    assert meta["variables"]["time"]["type"] == "duration"


def test_stata14_extended_missing_is_refused_until_the_plan_maps_it() -> None:
    for name in ("tagged-na-double.dta", "tagged-na-int.dta"):
        plan: dict[str, dict[str, int]] = {"stata_missing": {}}
        for _ in range(3):  # follow each error's advice: .a 'apple', then .z '.zebra'
            try:
                df, meta = read_raw(HERE / name, plan)
                break
            except UserError as err:
                letter = re.search(r"'stata_missing: \{(\w): CODE\}'", str(err))
                assert letter is not None, err
                plan["stata_missing"][letter.group(1)] = 90 + len(plan["stata_missing"])
        assert plan["stata_missing"] == {"a": 90, "z": 91}
        v = meta["variables"]["x"]
        assert v["missing_codes"] == [90.0, 91.0] and v["value_labels"] == {"90": "apple", "91": ".zebra"}
        # .h has no label: system-missing (logged); everything else as stored
        assert df["x"].tolist()[:6] == [1, 2, 3, 4, 5, 90] and pd.isna(df["x"].iloc[6])


def test_stata_old_d_format_is_a_date() -> None:
    df, meta = read_raw(HERE / "datetime-d.dta")
    assert df["date"].iloc[0] == pd.Timestamp("2015-11-02")
    assert meta["variables"]["date"]["type"] == "datetime"


def test_stata13_types() -> None:
    df, meta = read_raw(HERE / "types.dta")
    assert {n: v["type"] for n, v in meta["variables"].items()} == {
        "vfloat": "numeric", "vdouble": "numeric", "vlong": "numeric", "vint": "numeric",
        "vbyte": "numeric", "vstr": "text", "vdate": "datetime", "vdatetime": "datetime"}
    assert df["vstr"].tolist()[1] == "Hello, World!"
    assert df["vdatetime"].iloc[0] == pd.Timestamp("2015-12-01 03:14:15")


@pytest.mark.parametrize("name", ["labelled-str.sav", "labelled-num-na.sav", "umlauts.sav", "types.dta",
                                  "datetime-d.dta"])
def test_metadata_only_read_agrees_on_real_files(name: str) -> None:
    assert read_metadata(HERE / name)["variables"] == read_raw(HERE / name)[1]["variables"]
