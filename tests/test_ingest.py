from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from parentlink.errors import UserError
from parentlink.ingest import apply_privacy, read_raw
from parentlink.plan import load_plan


def test_reads_labels_and_distinct_missing_codes(root: Path) -> None:
    df, meta = read_raw(root / "raw/main_survey.sav")
    q = meta["variables"]["Q2_1"]
    assert q["missing_codes"] == [-1.0, 8.0, 9.0]
    assert q["value_labels"]["8"] == "Don't know" and q["value_labels"]["9"] == "Prefer not to say"
    assert q["value_labels"]["-1"].startswith("Not asked")
    assert q["measure"] == "ordinal"
    # user-missing codes are kept as values, not turned into NaN
    assert {8.0, 9.0} <= set(df["Q2_1"].dropna().unique())
    assert -1.0 in set(df["Q3_7"].dropna().unique())
    assert str(df["start_time"].dtype).startswith("datetime64")
    assert meta["variables"]["start_time"]["type"] == "datetime"


def test_privacy_drops_identifiers_and_redacts(root: Path) -> None:
    df, meta = read_raw(root / "raw/main_survey.sav")
    plan = load_plan(root / "config/plans/main.yaml")
    out = apply_privacy(df, meta, plan, "k", 600)
    assert "panel_id" not in out and "email" not in out
    assert "panel_id" not in meta["variables"] and "email" not in meta["variables"]
    text = " ".join(out["Q8"])
    assert "@" not in text and "07700" not in text and "passwd" not in text
    assert out["respondent_id"].str.match(r"^R[0-9a-f]{16}$").all()


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        (b"", ".sav", "is empty"),
        (b"this is not spss at all", ".sav", "not an SPSS data file"),
        (b"a,b\n1,2\n", ".xlsx", "cannot read"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, content: bytes, suffix: str, message: str) -> None:
    p = tmp_path / f"delivery{suffix}"
    p.write_bytes(content)
    with pytest.raises(UserError, match=message) as err:
        read_raw(p)
    assert str(p) in str(err.value)


def test_truncated_file_is_reported(tmp_path: Path, root: Path) -> None:
    data = (root / "raw/main_survey.sav").read_bytes()
    p = tmp_path / "main_survey.sav"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(UserError, match="truncated or corrupt"):
        read_raw(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_raw(tmp_path / "nope.sav")


def test_zsav_reads_the_same(tmp_path: Path, root: Path) -> None:
    import pyreadstat

    df, meta = pyreadstat.read_sav(str(root / "raw/pilot_survey.sav"), user_missing=True)
    z = tmp_path / "pilot.zsav"
    pyreadstat.write_sav(
        df,
        str(z),
        compress=True,
        column_labels=meta.column_names_to_labels,
        variable_value_labels=meta.variable_value_labels,
        missing_ranges=meta.missing_ranges,
    )
    df2, meta2 = read_raw(z)
    assert df2.equals(df)
    assert meta2["variables"]["P4_1"]["missing_codes"] == [8.0]


def test_plan_naming_absent_identifier(root: Path) -> None:
    df, meta = read_raw(root / "raw/pilot_survey.sav")
    plan = load_plan(root / "config/plans/pilot.yaml")
    plan["drop"] = ["email_address"]
    with pytest.raises(UserError, match="'drop' names email_address"):
        apply_privacy(df, meta, plan, "k", 600)


def test_stata_delivery_keeps_value_labels(tmp_path: Path, root: Path) -> None:
    import pyreadstat

    df, meta = pyreadstat.read_sav(str(root / "raw/pilot_survey.sav"), user_missing=True)
    small = df[["resp_id", "channel", "P4_1"]].copy()
    dta = tmp_path / "pilot.dta"
    pyreadstat.write_dta(
        small,
        str(dta),
        column_labels=["id", "Recruitment channel", "Trust private"],
        variable_value_labels={"channel": {1: "Mumsnet", 2: "Twitter"}},
    )
    out, m = read_raw(dta)
    assert out["P4_1"].tolist() == small["P4_1"].tolist()
    assert m["variables"]["channel"]["value_labels"] == {"1": "Mumsnet", "2": "Twitter"}
    assert m["variables"]["channel"]["label"] == "Recruitment channel"


def test_csv_delivery_with_metadata_sidecar(tmp_path: Path, root: Path) -> None:
    import json

    df, meta = read_raw(root / "raw/pilot_survey.sav")
    csv = tmp_path / "pilot.csv"
    df.to_csv(csv, index=False)
    (tmp_path / "pilot.csv.meta.json").write_text(
        json.dumps({"file_label": "pilot", "variables": meta["variables"]})
    )
    out, m = read_raw(csv)
    assert out.shape == df.shape
    assert m["variables"]["P4_1"]["missing_codes"] == [8.0]
    assert (out["P4_1"] == 1).sum() == 4


def test_csv_delivery_without_sidecar_is_named(tmp_path: Path) -> None:
    csv = tmp_path / "pilot.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match=r"needs its metadata sidecar .*pilot\.csv\.meta\.json"):
        read_raw(csv)


def test_labels_lose_control_characters_and_are_capped(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """A delivery's labels reach documents, charts and workbooks: no control or invisible
    character survives ingest, and a runaway label is cut to MAX_LABEL_CHARS (each logged)."""
    import pyreadstat

    from parentlink.ingest import MAX_LABEL_CHARS, clean_label

    df = pd.DataFrame({"q1": [1.0, 2.0], "q2": [1.0, 1.0]})
    path = tmp_path / "hostile.sav"
    pyreadstat.write_sav(df, str(path), column_labels={"q1": "Trust\x07 the\x1b council?\u200b",
                                                       "q2": "x" * 100_000},
                         variable_value_labels={"q1": {1.0: "Yes\x0b", 2.0: "No\u2028way\tat all"}})
    with caplog.at_level("WARNING"):
        _, meta = read_raw(path)
        long = clean_label("x" * 100_000, "sidecar: variable q2")
    v = meta["variables"]
    assert v["q1"]["label"] == "Trust the council?"
    assert v["q1"]["value_labels"] == {"1": "Yes", "2": "No way at all"}  # line separator, tab: spaces
    assert len(v["q2"]["label"]) <= MAX_LABEL_CHARS  # SPSS itself keeps 256 bytes
    assert "hostile.sav: variable q1: control or invisible characters removed" in caplog.text
    # A CSV sidecar has no such limit: the cap applies.
    assert len(long) == MAX_LABEL_CHARS and long.endswith("…")
    assert "sidecar: variable q2: label of 100000 characters cut to 300" in caplog.text
    assert clean_label("a\x00b\x9fc\ufeff", "x") == "abc"
    assert clean_label("  Plain  label ", "x") == "  Plain  label "  # spaces kept as delivered
    assert clean_label(None, "x") == ""


def test_undeclared_free_text_never_leaves_ingest(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An "Other, please specify" column the plan does not list stops ingest (default deny), or
    is dropped and logged when the plan says undeclared_text: drop."""
    df, meta = read_raw(root / "raw/pilot_survey.sav")
    df["P7_other"] = ["my son jack at st mary's"] + [""] * (len(df) - 1)
    meta["variables"]["P7_other"] = {"label": "Other", "value_labels": {}, "missing_codes": [],
                                     "missing_ranges": [], "type": "text"}
    df["P9_sneaky"] = ["call me on the landline"] + [""] * (len(df) - 1)
    meta["variables"]["P9_sneaky"] = {"label": "x", "value_labels": {}, "missing_codes": [],
                                      "missing_ranges": [], "type": "categorical"}  # a sidecar's claim
    df["P8_blank"] = ""  # a text column with nothing in it holds nothing to leak
    meta["variables"]["P8_blank"] = dict(meta["variables"]["P7_other"])
    plan = load_plan(root / "config/plans/pilot.yaml")
    with pytest.raises(UserError, match=r"variable\(s\) P7_other, P9_sneaky hold free text that the cleaning "
                                        r"plan does not declare: list each under 'text'"):
        apply_privacy(df.copy(), dict(meta, variables=dict(meta["variables"])), plan, "k", 600)
    plan["undeclared_text"] = "drop"
    with caplog.at_level("WARNING"):
        out = apply_privacy(df.copy(), dict(meta, variables=dict(meta["variables"])), plan, "k", 600)
    assert "P7_other" not in out.columns and "P9_sneaky" not in out.columns
    assert "P8_blank" in out.columns
    assert "free-text variable P7_other is not declared in the plan: dropped" in caplog.text
    assert not out.astype(str).apply(lambda c: c.str.contains("jack")).any().any()


def test_string_variables_with_value_labels_and_missing_values_read(tmp_path: Path) -> None:
    """SPSS string variables with value labels or string user-missing values (9 of 29 real SPSS
    files, IBM's sample among them) crashed the reader; they read, and the plan decides."""
    import pyreadstat

    df = pd.DataFrame({"id": [1.0, 2.0, 3.0], "sex": ["m", "f", "x"], "q": [1.0, 2.0, 9.0]})
    path = tmp_path / "strings.sav"
    pyreadstat.write_sav(df, str(path),
                         variable_value_labels={"sex": {"m": "Male", "f": "Female", "x": "Prefer not"},
                                                "q": {1.0: "Yes", 2.0: "No", 9.0: "Refused"}},
                         missing_ranges={"sex": ["x"], "q": [9.0]})
    raw, meta = read_raw(path)
    sex = meta["variables"]["sex"]
    assert sex["value_labels"] == {"m": "Male", "f": "Female", "x": "Prefer not"}
    assert sex["missing_strings"] == ["x"] and sex["type"] == "text"
    assert meta["variables"]["q"]["missing_codes"] == [9.0]
    plan = {"survey": "t", "id": "id", "rename": {"q": "q"}, "missing": {9: "refused"},
            "exclusions": []}
    with pytest.raises(UserError, match="sex is a string variable.s. with value labels"):
        apply_privacy(raw.copy(), dict(meta, variables=dict(meta["variables"])), plan, "k", 100)
    out = apply_privacy(raw.copy(), dict(meta, variables=dict(meta["variables"])),
                        dict(plan, drop=["sex"]), "k", 100)
    assert "sex" not in out.columns


def test_open_text_is_set_apart_from_the_ingest_parquet_and_rejoined_for_cleaning() -> None:
    import pandas as pd

    from parentlink.errors import UserError
    from parentlink.ingest import rejoin_text, text_apart

    df = pd.DataFrame({"respondent_id": ["a", "b"], "Q1": [1, 2], "Q8": ["[name] said", "ok"]})
    meta = {"variables": {"Q1": {"type": "numeric"}, "Q8": {"type": "text"},
                          "respondent_id": {"type": "text"}}}
    data, text = text_apart(df, meta)
    assert list(data.columns) == ["respondent_id", "Q1"]
    assert list(text.columns) == ["respondent_id", "Q8"]
    pd.testing.assert_frame_equal(rejoin_text(data, text), df)
    kept, _ = text_apart(df, meta, keep=True)  # the plan's text_in_clean: true
    assert "Q8" in kept.columns and rejoin_text(kept, text) is kept
    with pytest.raises(UserError, match="different ingest runs"):
        rejoin_text(data, text.iloc[::-1])
