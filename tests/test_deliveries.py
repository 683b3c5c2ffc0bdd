"""Deliveries as SPSS and Stata write them, read faithfully (issue 18).

Every fixture is written here with pyreadstat (byte-patched where pyreadstat cannot write a case,
e.g. Stata's .a-.z), so each test builds exactly the case it checks.
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from parentlink import codebook
from parentlink.clean import clean, write_cleaned
from parentlink.errors import UserError, run_stage
from parentlink.ingest import apply_privacy, canonical_ids, read_metadata, read_raw, write_ingested
from parentlink.plan import load_plan
from parentlink.privacy import pseudonymise_series
from parentlink.spss import write_labelled

SPSS_EPOCH = pd.Timestamp("1582-10-14")
YES_NO = {1: "Yes", 2: "No"}


def spss_seconds(stamp: str) -> float:
    return (pd.Timestamp(stamp) - SPSS_EPOCH).total_seconds()


def make_plan(tmp: Path, **keys: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"survey": "t", "id": "rid", "rename": {"q": "q"}, "missing": {},
                            "exclusions": []}
    base.update(keys)
    path = tmp / "plan.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False), "utf-8")
    return load_plan(path)


def sav(tmp: Path, df: pd.DataFrame, name: str = "delivery.sav", **kw: Any) -> Path:
    path = tmp / name
    pyreadstat.write_sav(df, str(path), **kw)
    return path


def ingest_and_clean(raw: Path, plan: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    df, meta = read_raw(raw, plan)
    df = apply_privacy(df, meta, plan, "test-key", 500)
    c = clean(df, meta, plan, weighted=False)
    return c.data, c.meta


def survey(rows: int = 6, **cols: list[Any]) -> pd.DataFrame:
    return pd.DataFrame({"rid": [f"R{i:03d}" for i in range(rows)], **cols})


# --- (1) user-missing ranges ------------------------------------------------------------------


def ranged(tmp: Path) -> Path:
    df = survey(q=[1.0, 2, -2, -3, 1, np.nan])
    return sav(tmp, df, variable_value_labels={"q": {1: "Yes", 2: "No", -2: "Refused", -3: "Not asked"}},
               missing_ranges={"q": [{"lo": -math.inf, "hi": -1.0}]})


def test_missing_range_is_read_as_json_null_and_applied(tmp_path: Path) -> None:
    raw = ranged(tmp_path)
    _, meta = read_raw(raw)
    assert meta["variables"]["q"]["missing_ranges"] == [[None, -1.0]]
    json.dumps(meta, allow_nan=False)  # no -Infinity token
    plan = make_plan(tmp_path, missing={-2: "refused", -3: "not_asked"},
                     exclude_from_base=["refused", "not_asked"])
    data, cmeta = ingest_and_clean(raw, plan)
    assert cmeta["variables"]["q"]["missing"] == {"-3": "not_asked", "-2": "refused"}
    assert cmeta["variables"]["q"]["exclude_from_base"] == [-3, -2]
    assert sorted(data["q"].dropna().tolist()) == [-3, -2, 1, 1, 2]  # codes kept, meaning in meta


def test_missing_range_is_written_back_to_the_clean_sav(tmp_path: Path) -> None:
    raw = ranged(tmp_path)
    plan = make_plan(tmp_path, missing={-2: "refused", -3: "not_asked"})
    data, cmeta = ingest_and_clean(raw, plan)
    write_labelled(data, cmeta, tmp_path / "clean.sav")
    _, back = pyreadstat.read_sav(str(tmp_path / "clean.sav"), user_missing=True)
    assert back.missing_ranges["q"] == [{"lo": -math.inf, "hi": -1.0}]


def test_code_in_range_without_a_meaning_is_named(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, missing={-2: "refused"})
    with pytest.raises(UserError, match=r"variable q has a code in its user-missing range LO THRU -1: -3, "
                                        r"which the plan's 'missing' does not define: add '-3: "):
        ingest_and_clean(ranged(tmp_path), plan)


# --- (2) the plan declares missing codes the file does not ------------------------------------


def agency_style(tmp: Path) -> Path:
    """Like an Afrobarometer round: 8 Refused and 9 Don't know are labelled but not user-missing,
    and an age of 999 means don't know."""
    df = survey(q=[1.0, 2, 8, 9, 1, 2], r=[1.0, 9, 2, 1, 2, 1], age=[30.0, 999, 41, 25, 8, 60])
    return sav(tmp, df, variable_value_labels={
        "q": {1: "Yes", 2: "No", 8: "Refused", 9: "Don't know"},
        "r": {1: "North", 2: "South", 9: "Region nine"},  # 9 is a real answer here
    })


def test_declare_missing_study_wide_with_exception_and_per_variable(tmp_path: Path) -> None:
    plan = make_plan(
        tmp_path, rename={"q": "q", "r": "region", "age": "age"}, numeric=["age"],
        missing={8: "refused", 9: "dont_know"}, exclude_from_base=["refused"],
        declare_missing=[{"variables": "all", "except": ["r", "age"], "codes": [8, 9]},
                         {"variables": ["age"], "codes": {999: "dont_know"}}],
        derive=[{"into": "age_band", "from": "age", "breaks": [0, 40], "labels": ["<40", "40+"]}],
    )
    data, meta = ingest_and_clean(agency_style(tmp_path), plan)
    assert meta["variables"]["q"]["missing"] == {"8": "refused", "9": "dont_know"}
    assert meta["variables"]["q"]["exclude_from_base"] == [8]
    assert meta["variables"]["region"]["missing"] == {}
    assert meta["variables"]["age"]["missing"] == {"999": "dont_know"}
    banded = data.set_index("age")["age_band"]
    assert pd.isna(banded[999.0]) and banded[60.0] == 2  # 999 is no age


def test_declare_missing_for_a_group_of_variables(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, rename={"q": "q", "r": "region", "age": "age"}, numeric=["age"],
                     missing={9: "dont_know"}, declare_missing=[{"variables": ["Q", "R"], "codes": [9]}])
    _, meta = ingest_and_clean(agency_style(tmp_path), plan)
    assert meta["variables"]["q"]["missing"] == {"9": "dont_know"}
    assert meta["variables"]["region"]["missing"] == {"9": "dont_know"}
    assert meta["variables"]["age"]["missing"] == {}


def test_unknown_code_advice_works_when_followed(tmp_path: Path) -> None:
    df = survey(q=[1.0, 2, 7, 7, 1, 2])
    raw = sav(tmp_path, df, variable_value_labels={"q": YES_NO})
    plan = make_plan(tmp_path)
    with pytest.raises(UserError) as err:
        ingest_and_clean(raw, plan)
    message = str(err.value)
    assert "variable q (q) has unknown code(s) 7 in 2 row(s)" in message
    advice = re.search(r"'(declare_missing: .*?)'", message)
    assert advice is not None
    keys = yaml.safe_load(advice.group(1).replace("dont_know|refused|not_asked", "not_asked"))
    data, meta = ingest_and_clean(raw, make_plan(tmp_path, **keys))
    assert meta["variables"]["q"]["missing"] == {"7": "not_asked"}


def test_declare_missing_code_without_meaning_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"declare_missing/0': code\(s\) 7 have no meaning under 'missing'"):
        make_plan(tmp_path, declare_missing=[{"variables": ["q"], "codes": [7]}])


# --- (3) non-integer codes --------------------------------------------------------------------


def test_non_integer_codes_are_kept_exact_and_export(tmp_path: Path) -> None:
    labels = {1: "Low", 1.5: "Middle", 2: "High"}
    raw = sav(tmp_path, survey(q=[1.0, 1.5, 2, 1.5, 1, 2]), variable_value_labels={"q": labels},
              variable_format={"q": "F4.1"})
    data, meta = ingest_and_clean(raw, make_plan(tmp_path))
    assert sorted(data["q"].tolist()) == [1, 1, 1.5, 1.5, 2, 2]
    assert meta["variables"]["q"]["value_labels"]["1.5"] == "Middle"
    write_labelled(data, meta, tmp_path / "clean.sav")
    back, bmeta = pyreadstat.read_sav(str(tmp_path / "clean.sav"))
    assert sorted(back["q"].tolist()) == [1, 1, 1.5, 1.5, 2, 2]
    assert bmeta.variable_value_labels["q"][1.5] == "Middle"
    book = codebook.build(data, meta)
    row = book[(book["variable"] == "q") & (book["code"] == "1.5")].iloc[0]
    assert (row["value_label"], int(row["n"])) == ("Middle", 2)


def test_whole_codes_stay_nullable_integers(tmp_path: Path) -> None:
    raw = sav(tmp_path, survey(q=[1.0, 2, 2, 1, np.nan, 1]), variable_value_labels={"q": YES_NO})
    data, _ = ingest_and_clean(raw, make_plan(tmp_path))
    assert str(data["q"].dtype) == "Int64"


# --- (4) dates, times, durations --------------------------------------------------------------


def test_spss_date_time_and_duration_formats(tmp_path: Path) -> None:
    df = survey(
        4,
        dur=[29 * 3600 + 14 * 60.0, 59.0, 0.0, np.nan],
        dtime=[2 * 86400 + 3600.0, 0, 0, 0],
        qyr=[spss_seconds("2021-04-01")] * 4,
        moyr=[spss_seconds("2021-03-01")] * 4,
        wkyr=[spss_seconds("2021-01-08")] * 4,
        adate=[spss_seconds("2021-02-28")] * 4,
        stamp=[spss_seconds("2021-02-28 13:45:10.25")] * 4,
        wkday=[1.0, 2, 3, 7],
    )
    raw = sav(tmp_path, df, variable_format={"dur": "TIME8", "dtime": "DTIME12", "qyr": "QYR6",
                                             "moyr": "MOYR6", "wkyr": "WKYR8", "adate": "ADATE10",
                                             "stamp": "DATETIME23.2", "wkday": "WKDAY3"})
    got, meta = read_raw(raw)
    assert got["dur"][0] == pd.Timedelta(hours=29, minutes=14)  # not wrapped to 05:14
    assert got["dtime"][0] == pd.Timedelta(days=2, hours=1)
    assert got["qyr"][0] == pd.Timestamp("2021-04-01") and got["moyr"][0] == pd.Timestamp("2021-03-01")
    assert got["wkyr"][0] == pd.Timestamp("2021-01-08") and got["adate"][0] == pd.Timestamp("2021-02-28")
    assert got["stamp"][0] == pd.Timestamp("2021-02-28 13:45:10.25")
    assert got["wkday"].tolist() == [1, 2, 3, 7]
    kinds = {c: meta["variables"][c]["type"] for c in ("dur", "qyr", "wkday")}
    assert kinds == {"dur": "duration", "qyr": "datetime", "wkday": "numeric"}


def test_stata_calendar_formats(tmp_path: Path) -> None:
    df = pd.DataFrame({"rid": [1.0, 2.0], "tq": [244.0, 245], "tm": [735.0, 0], "tw": [3172.0, 3173],
                       "td": [22281.0, 0], "tc": [22281 * 86400000.0 + 1500, 0], "ty": [2021.0, 1960]})
    path = tmp_path / "d.dta"
    pyreadstat.write_dta(df, str(path), variable_format={"tq": "%tq", "tm": "%tm", "tw": "%tw",
                                                         "td": "%td", "tc": "%tc", "ty": "%ty"})
    got, _ = read_raw(path)
    first = got.iloc[0]
    assert first["tq"] == pd.Timestamp("2021-01-01") and got["tq"][1] == pd.Timestamp("2021-04-01")
    assert first["tm"] == pd.Timestamp("2021-04-01") and got["tm"][1] == pd.Timestamp("1960-01-01")
    assert first["tw"] == pd.Timestamp("2021-01-01") and got["tw"][1] == pd.Timestamp("2021-01-08")
    assert first["td"] == pd.Timestamp("2021-01-01")
    assert first["tc"] == pd.Timestamp("2021-01-01 00:00:01.5")
    assert first["ty"] == pd.Timestamp("2021-01-01")


def beyond_range(tmp: Path) -> Path:
    far = spss_seconds("2021-01-01") + 1e13  # some 300,000 years on
    return sav(tmp, survey(3, q=[1.0, 2, 1], born=[far, spss_seconds("1990-05-01"), np.nan]),
               variable_value_labels={"q": YES_NO}, variable_format={"born": "DATE11"})


def test_date_beyond_python_range_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"variable born \(DATE11\): 1 value\(s\) such as .* are not dates "
                                        r"between the years 1 and 9999: ask the agency"):
        read_raw(beyond_range(tmp_path))


def test_dropped_date_variable_is_not_converted(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, drop=["BORN"])  # SPSS names: any case
    data, _ = ingest_and_clean(beyond_range(tmp_path), plan)
    assert "born" not in data.columns


def test_string_timestamps_are_parsed(tmp_path: Path) -> None:
    df = survey(3, q=[1.0, 2, 1], s=["2021-03-06 21:04:33", "2021-03-06T22:00:00+01:00", "2021-03-07"],
                e=["2021-03-06 21:30:00", "2021-03-06 21:40:00", "2021-03-07 00:20:00"])
    raw = sav(tmp_path, df, variable_value_labels={"q": YES_NO})
    data, meta = ingest_and_clean(raw, make_plan(tmp_path, timestamps={"start": "s", "end": "e",
                                                                       "duration": "duration_sec"},
                                                 drop=[]))
    assert sorted(data["duration_sec"].tolist()) == [1200, 1527, 2400]


def test_unparseable_string_timestamp_is_named(tmp_path: Path) -> None:
    df = survey(3, q=[1.0, 2, 1], s=["2021-03-06 21:04:33", "06/03/2021 9pm", ""], e=["2021-03-07"] * 3)
    raw = sav(tmp_path, df, variable_value_labels={"q": YES_NO})
    with pytest.raises(UserError, match=r"timestamps/start variable s is text, and 1 value\(s\) such as "
                                        r"'06/03/2021 9pm' are not ISO 8601"):
        read_raw(raw, make_plan(tmp_path, timestamps={"start": "s", "end": "e"}))


def test_time_of_day_as_timestamp_is_named(tmp_path: Path) -> None:
    df = survey(3, q=[1.0, 2, 1], s=[3600.0, 7200, 60], e=[spss_seconds("2021-01-01")] * 3)
    raw = sav(tmp_path, df, variable_value_labels={"q": YES_NO},
              variable_format={"s": "TIME8", "e": "DATETIME20"})
    with pytest.raises(UserError, match=r"timestamps/start variable s is a time of day or duration, not a "
                                        r"date-time \(format TIME8\)"):
        ingest_and_clean(raw, make_plan(tmp_path, timestamps={"start": "s", "end": "e"}))


# --- (5) ids ----------------------------------------------------------------------------------


def test_canonical_ids() -> None:
    plan = {"id": "rid"}
    assert canonical_ids(pd.Series([1.0, 20.0]), plan, "f").tolist() == ["1", "20"]
    assert canonical_ids(pd.Series([" 1", "00123", "0123"]), plan, "f").tolist() == ["1", "00123", "0123"]
    strip = {"id": "rid", "id_leading_zeros": "strip"}
    assert canonical_ids(pd.Series(["0000000001", "000", "A01"]), strip, "f").tolist() == ["1", "0", "A01"]
    with pytest.raises(UserError, match="id variable 'rid' has 1 value"):
        canonical_ids(pd.Series([1.0, 1.5]), plan, "f")


def test_same_id_same_pseudonym_whatever_the_storage(tmp_path: Path) -> None:
    numeric = sav(tmp_path, pd.DataFrame({"rid": [1.0, 2.0], "q": [1.0, 2]}), "n.sav",
                  variable_value_labels={"q": YES_NO})
    padded = sav(tmp_path, pd.DataFrame({"rid": ["0000000001", "0000000002"], "q": [1.0, 2]}), "p.sav",
                 variable_value_labels={"q": YES_NO})
    a, _ = ingest_and_clean(numeric, make_plan(tmp_path))
    b, _ = ingest_and_clean(padded, make_plan(tmp_path, id_leading_zeros="strip"))
    assert a["respondent_id"].tolist() == b["respondent_id"].tolist()
    assert a["respondent_id"].tolist() == sorted(pseudonymise_series(pd.Series(["1", "2"]), "test-key"))


def test_csv_sidecar_text_type_keeps_leading_zeros(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("rid,q\n00123,1\n0123,2\n", "utf-8")
    side = {"variables": {"rid": {"label": "id", "type": "text", "value_labels": {}, "missing_codes": [],
                                  "missing_ranges": []},
                          "q": {"label": "q", "type": "numeric", "value_labels": {"1": "Yes", "2": "No"},
                                "missing_codes": [], "missing_ranges": []}}}
    (tmp_path / "d.csv.meta.json").write_text(json.dumps(side), "utf-8")
    df, _ = read_raw(tmp_path / "d.csv")
    assert df["rid"].tolist() == ["00123", "0123"]
    data, _ = ingest_and_clean(tmp_path / "d.csv", make_plan(tmp_path))
    assert data["respondent_id"].nunique() == 2


# --- (6) export fidelity ----------------------------------------------------------------------


def test_export_keeps_formats_widths_measures_and_the_weight_label(tmp_path: Path) -> None:
    df = survey(q=[1.0, 2, 1, 2, 1, 2], wt=[0.5, 1.25, 1.0, 2.0, 0.75, 1.5], n=[1.0, 2, 3, 4, 5, 6])
    raw = sav(tmp_path, df, variable_value_labels={"q": YES_NO},
              column_labels={"q": "Question", "wt": "Agency weight (rim, trimmed)", "n": "Children"},
              variable_format={"q": "F1.0", "wt": "F13.8", "n": "F3.0"},
              variable_display_width={"q": 5, "wt": 13, "n": 4},
              variable_measure={"q": "ordinal", "wt": "scale", "n": "scale"})
    plan = make_plan(tmp_path, rename={"q": "q", "n": "n_children"}, numeric=["n_children"],
                     design_weight="wt")
    data, meta = ingest_and_clean(raw, plan)
    write_labelled(data, meta, tmp_path / "clean.sav")
    _, back = pyreadstat.read_sav(str(tmp_path / "clean.sav"))
    fmt = back.original_variable_types
    assert (fmt["q"], fmt["design_weight"], fmt["n_children"]) == ("F1.0", "F13.8", "F3.0")
    assert back.column_names_to_labels["design_weight"] == "Agency weight (rim, trimmed)"
    assert back.variable_display_width["design_weight"] == 13 and back.variable_display_width["q"] == 5
    assert back.variable_measure["q"] == "ordinal"


def test_export_declares_more_than_three_codes_as_a_range(tmp_path: Path) -> None:
    codes = {-1: "not_asked", -2: "refused", -3: "dont_know", -4: "not_asked"}
    raw = sav(tmp_path, survey(q=[1.0, 2, -1, -2, -3, -4]), variable_value_labels={"q": YES_NO},
              missing_ranges={"q": [-1.0, -2.0, -3.0]})
    plan = make_plan(tmp_path, missing=codes, declare_missing=[{"variables": ["q"], "codes": [-4]}])
    data, meta = ingest_and_clean(raw, plan)
    write_labelled(data, meta, tmp_path / "clean.sav")
    _, back = pyreadstat.read_sav(str(tmp_path / "clean.sav"), user_missing=True)
    assert back.missing_ranges["q"] == [{"lo": -4.0, "hi": -1.0}]


def test_export_refuses_missing_codes_spss_cannot_declare(tmp_path: Path) -> None:
    codes = {-1: "not_asked", 3: "refused", 5: "dont_know", 7: "not_asked"}
    raw = sav(tmp_path, survey(q=[1.0, 2, 4, 6, 3, 5]),
              variable_value_labels={"q": {1: "a", 2: "b", 4: "c", 6: "d"}})
    plan = make_plan(tmp_path, missing=codes, declare_missing=[{"variables": ["q"], "codes": [-1, 3, 5, 7]}])
    data, meta = ingest_and_clean(raw, plan)
    with pytest.raises(UserError, match="variable q has missing codes -1, 3, 5, 7, more than an SPSS file"):
        write_labelled(data, meta, tmp_path / "clean.sav")


# --- (7) .por, encoding, names in any case, Stata extended missing ----------------------------


def test_portable_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "d.por"
    pyreadstat.write_por(survey(q=[1.0, 2, 1, 2, 1, 2]), str(path), column_labels=[None, "Question"])
    df, meta = read_raw(path)
    # A portable file stores names in capitals; the plan's lower-case names still match.
    assert df["Q"].tolist() == [1, 2, 1, 2, 1, 2] and meta["variables"]["Q"]["label"] == "Question"
    data, cmeta = ingest_and_clean(path, make_plan(tmp_path, numeric=["q"]))
    assert cmeta["variables"]["q"]["source"] == "Q" and len(data) == 6


def wrong_code_page(tmp: Path) -> Path:
    """Windows-1252 text in a file whose header says UTF-8."""
    path = sav(tmp, survey(3, q=[1.0, 2, 1], t=["cafX", "tea", "ok"]), variable_value_labels={"q": YES_NO})
    data = path.read_bytes()
    path.write_bytes(data.replace(b"cafX", b"caf\xe9"))
    return path


def test_encoding_override(tmp_path: Path) -> None:
    df, _ = read_raw(wrong_code_page(tmp_path), make_plan(tmp_path, encoding="cp1252", drop=["t"]))
    assert df["t"].tolist() == ["café", "tea", "ok"]


def test_unknown_encoding_names_the_plan_key(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="set the plan's 'encoding'"):
        read_raw(wrong_code_page(tmp_path), make_plan(tmp_path, encoding="no-such-code-page"))


def test_plan_names_match_spss_names_in_any_case(tmp_path: Path) -> None:
    raw = sav(tmp_path, pd.DataFrame({"RID": ["a", "b"], "NOCALL_1Other": [1.0, 2]}),
              variable_value_labels={"NOCALL_1Other": YES_NO})
    data, meta = ingest_and_clean(raw, make_plan(tmp_path, rename={"NOCALL_1OTHER": "nocall"}))
    assert meta["variables"]["nocall"]["source"] == "NOCALL_1Other" and len(data) == 2


def test_names_differing_only_in_case_are_ambiguous(tmp_path: Path) -> None:
    raw = sav(tmp_path, pd.DataFrame({"rid": ["a", "b"], "NOCALL_1Other": [1.0, 2],
                                      "NOCALL_1OTHER": [1.0, 1]}))
    with pytest.raises(UserError, match="'nocall_1other' matches NOCALL_1OTHER and NOCALL_1Other"):
        ingest_and_clean(raw, make_plan(tmp_path, rename={"nocall_1other": "nocall"}))


def stata_extended(tmp: Path, labelled: bool) -> Path:
    """A .dta with .a and .b in a numeric variable (patched in: pyreadstat cannot write them)."""
    sentinel = 123456.0
    df = pd.DataFrame({"rid": [1.0, 2, 3, 4], "q": [1.0, sentinel, 2.0, sentinel + 1]})
    labels = {1: "Yes", 2: "No", **({2147483622: "Refused"} if labelled else {})}  # 2147483622 is .a
    path = tmp / "d.dta"
    pyreadstat.write_dta(df, str(path), variable_value_labels={"q": labels})
    data = path.read_bytes()
    for value, bits in ((sentinel, 0x7FE0010000000000), (sentinel + 1, 0x7FE0020000000000)):
        data = data.replace(struct.pack("<d", value), struct.pack("<Q", bits))
    path.write_bytes(data)
    return path


def test_stata_extended_missing_mapped_to_codes(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, stata_missing={"a": 9}, missing={9: "refused"})
    data, meta = ingest_and_clean(stata_extended(tmp_path, labelled=True), plan)
    assert sorted(data["q"].dropna().tolist()) == [1, 2, 9] and data["q"].isna().sum() == 1  # .b unlabelled
    assert meta["variables"]["q"]["missing"] == {"9": "refused"}
    assert meta["variables"]["q"]["value_labels"]["9"] == "Refused"


def test_labelled_stata_missing_without_a_mapping_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"variable q has Stata missing value .a \('Refused'\) in 1 row\(s\): "
                                        r"map it to a code with the plan's 'stata_missing"):
        read_raw(stata_extended(tmp_path, labelled=True))


def test_unlabelled_stata_missing_keeps_the_variable_numeric(tmp_path: Path) -> None:
    df, meta = read_raw(stata_extended(tmp_path, labelled=False))
    assert meta["variables"]["q"]["type"] == "numeric" and df["q"].isna().sum() == 2


# --- labelled string variables analysed as codes ---------------------------------------------


def string_coded(tmp: Path, values: list[str] | None = None) -> Path:
    """Like IBM's sample file: a string variable with value labels ("m" Male before "f" Female)
    and a string user-missing value "x"."""
    df = survey(sex=values or ["f", "m", "x", "f", "", "m"], q=[1.0, 2, 1, 2, 1, 2])
    return sav(tmp, df, variable_value_labels={"sex": {"m": "Male", "f": "Female", "x": "No answer"},
                                               "q": YES_NO},
               missing_ranges={"sex": ["x"]})


def test_labelled_string_variable_becomes_codes_in_label_order(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, rename={"q": "q", "SEX": "sex"}, codes_from_labels=["SEX"],
                     missing={3: "refused"}, exclude_from_base=["refused"])
    data, meta = ingest_and_clean(string_coded(tmp_path), plan)
    sex = meta["variables"]["sex"]
    assert sex["type"] == "categorical"
    assert sex["value_labels"] == {"1": "Male", "2": "Female", "3": "No answer"}
    assert sex["string_codes"] == {"m": 1, "f": 2, "x": 3}
    assert sex["format"] == "F1.0" and "display_width" not in sex
    assert sex["missing"] == {"3": "refused"} and sex["exclude_from_base"] == [3]
    assert str(data["sex"].dtype) == "Int64"
    assert sorted(data["sex"].dropna().tolist()) == [1, 1, 2, 2, 3]  # "" is system-missing
    write_labelled(data, meta, tmp_path / "clean.sav")
    _, back = pyreadstat.read_sav(str(tmp_path / "clean.sav"), user_missing=True)
    assert back.variable_value_labels["sex"] == {1: "Male", 2: "Female", 3: "No answer"}
    assert back.missing_ranges["sex"] == [{"lo": 3.0, "hi": 3.0}]


def test_unlabelled_string_missing_value_comes_after_the_labelled_ones(tmp_path: Path) -> None:
    df = survey(sex=["f  ", "m", "x", "f", "", "m"], q=[1.0, 2, 1, 2, 1, 2])
    raw = sav(tmp_path, df, variable_value_labels={"sex": {"m": "Male", "f": "Female"}, "q": YES_NO},
              missing_ranges={"sex": ["x"]})
    data, meta = read_raw(raw, {"codes_from_labels": ["sex"]})
    sex = meta["variables"]["sex"]
    assert sex["string_codes"] == {"m": 1, "f": 2, "x": 3} and sex["missing_codes"] == [3.0]
    assert sex["value_labels"] == {"1": "Male", "2": "Female", "3": "x"}
    assert data["sex"].tolist()[:4] == [2, 1, 3, 2]  # "f  " is "f"


def test_string_missing_value_needs_a_meaning(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, rename={"q": "q", "sex": "sex"}, codes_from_labels=["sex"])
    with pytest.raises(UserError, match=r"variable sex has SPSS user-missing code 3, which the plan's "):
        ingest_and_clean(string_coded(tmp_path), plan)


def test_unlabelled_string_value_is_named_not_guessed(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, rename={"q": "q", "sex": "sex"}, codes_from_labels=["sex"],
                     missing={3: "refused"})
    with pytest.raises(UserError, match=r"string variable sex .* has value\(s\) 'q' without a value "
                                        r"label in 1 row\(s\): ask the agency"):
        ingest_and_clean(string_coded(tmp_path, ["f", "m", "q", "f", "m", "m"]), plan)


def test_codes_from_labels_refuses_a_numeric_variable(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, codes_from_labels=["q"])
    with pytest.raises(UserError, match=r"variable q is numeric, not a string variable: take it out"):
        read_raw(sav(tmp_path, survey(q=[1.0] * 6), variable_value_labels={"q": YES_NO}), plan)


# --- a declared valid range -------------------------------------------------------------------


def test_value_outside_valid_range_is_named_and_the_advice_works(tmp_path: Path) -> None:
    raw = sav(tmp_path, survey(age=[30.0, 120, 41, 15, 120, 999]))
    keys: dict[str, Any] = {"rename": {"AGE": "age"}, "numeric": ["age"], "missing": {999: "dont_know"},
                            "declare_missing": [{"variables": ["age"], "codes": [999]}],
                            "valid_range": {"age": [16, 99]}}
    with pytest.raises(UserError) as err:
        ingest_and_clean(raw, make_plan(tmp_path, **keys))
    message = str(err.value)
    assert ("variable age has value(s) 15, 120 outside its valid range 16-99 in 3 row(s)" in message
            and "'valid_range'" in message), message
    advice = re.search(r"'(declare_missing: .*?)'", message)
    assert advice is not None
    fix = yaml.safe_load(advice.group(1).replace("dont_know|refused|not_asked", "not_asked"))
    keys["declare_missing"] += fix["declare_missing"]
    data, meta = ingest_and_clean(raw, make_plan(tmp_path, **keys))
    assert meta["variables"]["age"]["missing"] == {"15": "not_asked", "120": "not_asked", "999": "dont_know"}
    assert sorted(data["age"].tolist()) == [15, 30, 41, 120, 120, 999]  # codes kept, meaning in meta


def test_valid_range_must_not_be_empty(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"key 'valid_range/q': \[9, 1\] is empty"):
        make_plan(tmp_path, valid_range={"q": [9, 1]})
    with pytest.raises(UserError, match=r"key 'valid_range/q': \[16\] is too short"):
        make_plan(tmp_path, valid_range={"q": [16]})


# --- metadata only ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".sav", ".zsav", ".por", ".dta"])
def test_metadata_only_read_gives_what_a_full_read_gives(tmp_path: Path, suffix: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    df = survey(q=[1.0, 2, -2, 1, 1, 2], born=[spss_seconds("1980-05-17")] * 6,
                note=["a", "", "b", "", "", "c"])
    path = tmp_path / f"d{suffix}"
    labels = {"q": {1: "Yes", 2: "No", -2: "Refused"}}
    if suffix == ".dta":
        df["born"] = 7442.0
        pyreadstat.write_dta(df, str(path), variable_value_labels=labels, variable_format={"born": "%td"})
    elif suffix == ".por":
        pyreadstat.write_por(df, str(path), variable_format={"born": "DATE11"})
    else:
        pyreadstat.write_sav(df, str(path), variable_value_labels=labels, compress=suffix == ".zsav",
                             missing_ranges={"q": [-2.0]}, variable_format={"born": "DATE11"})
    _, full = read_raw(path)
    calls: list[dict[str, Any]] = []
    for name in ("read_sav", "read_por", "read_dta"):
        real = getattr(pyreadstat, name)
        monkeypatch.setattr(pyreadstat, name,
                            lambda *a, _real=real, **kw: calls.append(kw) or _real(*a, **kw))
    meta = read_metadata(path)
    assert calls and all(kw.get("metadataonly") for kw in calls)  # the data are never read
    assert meta["variables"] == full["variables"]
    assert meta["n_rows"] in (6, None) and meta["file"] == path.name
    born = "numeric" if suffix == ".por" else "datetime"  # pyreadstat writes no date format to .por
    assert {n.lower(): v["type"] for n, v in meta["variables"].items()} == {
        "rid": "text", "q": "numeric", "born": born, "note": "text"}


# --- every bad input: one ERROR line naming file, variable and fix; no partial outputs ---------


def _ranged_without_meaning(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return ranged(tmp), {"missing": {-2: "refused"}}


def _unknown_code(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return sav(tmp, survey(q=[1.0, 2, 7, 1, 2, 1]), variable_value_labels={"q": YES_NO}), {}


def _far_date(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return beyond_range(tmp), {}


def _clock_time(tmp: Path) -> tuple[Path, dict[str, Any]]:
    df = survey(3, q=[1.0, 2, 1], s=[3600.0, 7200, 60], e=[spss_seconds("2021-01-01")] * 3)
    raw = sav(tmp, df, variable_value_labels={"q": YES_NO},
              variable_format={"s": "TIME8", "e": "DATETIME20"})
    return raw, {"timestamps": {"start": "s", "end": "e"}}


def _fractional_id(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return sav(tmp, pd.DataFrame({"rid": [1.0, 2.5], "q": [1.0, 2]}), variable_value_labels={"q": YES_NO}), {}


def _stata_labelled(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return stata_extended(tmp, labelled=True), {}


def _too_many_codes(tmp: Path) -> tuple[Path, dict[str, Any]]:
    raw = sav(tmp, survey(q=[1.0, 2, 4, 6, 3, 5]),
              variable_value_labels={"q": {1: "a", 2: "b", 4: "c", 6: "d"}})
    return raw, {"missing": {-1: "not_asked", 3: "refused", 5: "dont_know", 7: "not_asked"},
                 "declare_missing": [{"variables": ["q"], "codes": [-1, 3, 5, 7]}]}


def _out_of_range(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return sav(tmp, survey(q=[1.0, 2, 150, 1, 2, 1])), {"numeric": ["q"], "valid_range": {"q": [0, 100]}}


def _unlabelled_string(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return (string_coded(tmp, ["f", "m", "q", "f", "m", "m"]),
            {"rename": {"q": "q", "sex": "sex"}, "codes_from_labels": ["sex"], "missing": {3: "refused"}})


def _text_timestamp(tmp: Path) -> tuple[Path, dict[str, Any]]:
    df = survey(3, q=[1.0, 2, 1], s=["2021-03-06 21:04:33", "6/3/2021 9pm", ""],
                e=["2021-03-06 21:34:33"] * 3)
    return (sav(tmp, df, variable_value_labels={"q": YES_NO}),
            {"timestamps": {"start": "s", "end": "e"}})


BAD = [
    (_ranged_without_meaning, "variable q", "under 'missing'"),
    (_unknown_code, "variable q", "declare_missing"),
    (_far_date, "variable born", "ask the agency"),
    (_clock_time, "variable s", "name date-time variables under 'timestamps'"),
    (_fractional_id, "id variable 'rid'", "ask the agency"),
    (_stata_labelled, "variable q", "stata_missing"),
    (_too_many_codes, "variable q", "declare fewer codes missing"),
    (_out_of_range, "variable q", "declare_missing"),
    (_unlabelled_string, "string variable sex", "declare the variable under 'text'"),
    (_text_timestamp, "variable s", "ISO 8601"),
]


def _all_stages(raw: Path, plan_path: Path, out: dict[str, Path]) -> None:
    """ingest -> clean -> export as the rule scripts chain them (workflow/scripts/)."""
    plan = load_plan(plan_path)
    df, meta = read_raw(raw, plan)
    df = apply_privacy(df, meta, plan, "k", 500)
    write_ingested(df, meta, out["ingest"], out["ingest_meta"])
    c = clean(pd.read_parquet(out["ingest"]), json.loads(out["ingest_meta"].read_text("utf-8")), plan, False)
    write_cleaned(c, out["clean"], out["clean_meta"], out["flow"])
    write_labelled(c.data, json.loads(out["clean_meta"].read_text("utf-8")), out["sav"])


@pytest.mark.parametrize(("case", "variable", "fix"), BAD, ids=[b[0].__name__.strip("_") for b in BAD])
def test_bad_delivery_is_one_error_line_and_no_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       case: Any, variable: str, fix: str) -> None:
    raw, keys = case(tmp_path)
    make_plan(tmp_path, **keys)
    results = tmp_path / "results"
    results.mkdir()
    out = {k: results / f"{k}.out" for k in ("ingest", "ingest_meta", "clean", "clean_meta", "flow", "sav")}
    with pytest.raises(SystemExit) as stop:
        run_stage(lambda: _all_stages(raw, tmp_path / "plan.yaml", out), outputs=out.values())
    assert stop.value.code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("ERROR: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert raw.name in lines[0] or "export" in lines[0], lines[0]
    assert variable in lines[0] and fix in lines[0], lines[0]
    assert list(results.iterdir()) == []


# --- logs of failed jobs ----------------------------------------------------------------------


def test_log_of_a_failed_stage_holds_the_error(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from parentlink.errors import logged_stage

    log = tmp_path / "logs" / "ingest.log"

    def user_error() -> None:
        raise UserError("delivery.sav: variable q is wrong: fix it.")

    with pytest.raises(SystemExit):
        logged_stage(user_error, [], log)
    assert log.read_text("utf-8") == "ERROR: delivery.sav: variable q is wrong: fix it.\n"
    assert capfd.readouterr().err.count("ERROR: ") == 1  # and once on the console

    def bug() -> None:
        raise KeyError("oops")

    with pytest.raises(KeyError):
        logged_stage(bug, [], log)
    assert "Traceback" in log.read_text("utf-8") and "KeyError: 'oops'" in log.read_text("utf-8")
