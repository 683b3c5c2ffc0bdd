from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from parentlink.clean import cronbach_alpha
from parentlink.errors import UserError
from parentlink.plan import load_plan
from tests.conftest import run_clean


def test_flow_counts_every_planted_problem(cleaned_main) -> None:  # type: ignore[no-untyped-def]
    flow = cleaned_main.flow.set_index("step")
    assert list(flow.index) == [
        "delivered",
        "no_consent",
        "screened_out",
        "duplicate",
        "speeder",
        "straight_liner",
        "failed_attention_check",
        "too_incomplete",
    ]
    # the generator plants 15 non-consents, 19 screen-outs, 8 duplicates, 12 straight-liners
    assert flow.loc["no_consent", "n_excluded"] == 15
    assert flow.loc["screened_out", "n_excluded"] == 19
    assert flow.loc["duplicate", "n_excluded"] == 8
    assert flow.loc["straight_liner", "n_excluded"] == 12
    assert (flow["n_before"] - flow["n_excluded"] == flow["n_after"]).all()
    assert (flow["n_after"].iloc[:-1].to_numpy() == flow["n_before"].iloc[1:].to_numpy()).all()
    assert 900 <= flow["n_after"].iloc[-1] <= 950
    assert len(cleaned_main.data) == flow["n_after"].iloc[-1]


def test_missing_codes_stay_distinct(cleaned_main) -> None:  # type: ignore[no-untyped-def]
    d, m = cleaned_main.data, cleaned_main.meta["variables"]
    assert m["acc_plan"]["missing"] == {"-1": "not_asked", "8": "dont_know", "9": "refused"}
    assert m["acc_plan"]["exclude_from_base"] == [-1, 9]
    assert m["acc_plan_net"]["missing"] == m["acc_plan"]["missing"]
    # routed-out phone respondents keep -1, not DK
    assert (d.loc[d["mode"] == 2, "src_supermarket"] == -1).all()
    assert set(d["acc_plan_net"].dropna().unique()) <= {1, 2, 3, 8, 9}


def test_recode_and_derived(cleaned_main) -> None:  # type: ignore[no-untyped-def]
    d = cleaned_main.data
    sub = d[d["acc_plan"].isin([1, 2, 3, 4, 5])]
    expect = sub["acc_plan"].map({1: 1, 2: 1, 3: 2, 4: 3, 5: 3})
    assert (sub["acc_plan_net"] == expect).all()
    assert d["age_band"].notna().all()
    assert ((d["age"] < 25) == (d["age_band"] == 1)).all()
    assert ((d["household_size"] >= 5) == (d["hh_size_group"] == 3)).all()
    sl = d["social_licence"].dropna()
    assert sl.between(0, 1).all()
    assert ((d["social_licence"] >= 0.5) == (d["social_licence_high"] == 1))[
        d["social_licence"].notna()
    ].all()
    assert 0.7 < cleaned_main.scales["social_licence"]["cronbach_alpha"] < 1


def test_cronbach_alpha_known_value() -> None:
    # 3 items, perfectly parallel -> alpha 1; textbook example -> 0.8 (computed by hand)
    parallel = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 2, 3, 4], "c": [1, 2, 3, 4]})
    assert cronbach_alpha(parallel) == pytest.approx(1.0)
    x = pd.DataFrame({"a": [2, 4, 3, 5, 1], "b": [3, 5, 3, 4, 2], "c": [2, 4, 4, 5, 1]})
    k, iv, tv = 3, x.var().sum(), x.sum(axis=1).var()
    assert cronbach_alpha(x) == pytest.approx(k / (k - 1) * (1 - iv / tv))


def test_no_identifiers_or_raw_text(cleaned_main) -> None:  # type: ignore[no-untyped-def]
    d = cleaned_main.data
    assert not {"panel_id", "email", "start_time", "end_time"} & set(d.columns)
    text = " ".join(d["comment"])
    assert "@" not in text and "07700" not in text and "SO17" not in text


def test_pilot_reproduces_published_counts(cleaned_pilot) -> None:  # type: ignore[no-untyped-def]
    d = cleaned_pilot.data
    assert len(d) == 365
    assert (d["trust_private"] == 1).sum() == 4
    assert (d["trust_private"] == 3).sum() == 309


def _with_unknown_code(tmp_path: Path, root: Path) -> Path:
    df, meta = pyreadstat.read_sav(str(root / "raw/pilot_survey.sav"), user_missing=True)
    df.loc[df.index[:3], "P4_1"] = 7
    out = tmp_path / "pilot.sav"
    pyreadstat.write_sav(
        df,
        str(out),
        column_labels=meta.column_names_to_labels,
        variable_value_labels=meta.variable_value_labels,
        missing_ranges=meta.missing_ranges,
    )
    return out


def test_unknown_code_is_named_with_row_count(tmp_path: Path, root: Path) -> None:
    with pytest.raises(UserError, match=r"P4_1 \(trust_private\) has unknown code\(s\) 7 in 3 row\(s\)"):
        run_clean("pilot", raw=_with_unknown_code(tmp_path, root))


def test_plan_naming_absent_variable(root: Path) -> None:
    plan = copy.deepcopy(load_plan(root / "config/plans/pilot.yaml"))
    plan["rename"]["P9"] = "nonexistent"
    with pytest.raises(UserError, match="'rename' names P9"):
        run_clean("pilot", plan=plan)


def test_plan_with_bad_key_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "plan.yaml"
    p.write_text("survey: x\nid: a\nrename: {}\nmissing: {}\nexclusions: [{step: s, rule: teleport}]\n")
    with pytest.raises(UserError, match="exclusions/0/rule"):
        load_plan(p)


def test_multi_response_sets(cleaned_main) -> None:  # type: ignore[no-untyped-def]
    d, m = cleaned_main.data, cleaned_main.meta["variables"]
    items = ["src_bank", "src_supermarket", "src_socialmedia"]
    sel = d[items].isin([1, 2]).sum(axis=1)
    answered = d[items].isin([1, 2, 3, 4, 5]).any(axis=1)
    got = d["commercial_sources_acceptable_count"]
    assert (got[answered] == sel[answered]).all() and got[~answered].isna().all()
    assert ((d["commercial_sources_acceptable_any"] == 1) == (got > 0))[answered].all()
    assert m["public_sources_acceptable_any"]["derived_from"][0] == "src_health"
    # commercial data are accepted far less often than public-service records (built into the study)
    assert d["commercial_sources_acceptable_any"].mean() < d["public_sources_acceptable_any"].mean()


def test_multi_response_naming_unknown_item(root: Path) -> None:
    plan = copy.deepcopy(load_plan(root / "config/plans/main.yaml"))
    plan["multi_response"][0]["items"].append("src_tarot")
    with pytest.raises(UserError, match="multi_response 'commercial_sources_acceptable' names src_tarot"):
        run_clean("main", plan=plan)


def test_open_text_is_kept_apart_from_the_clean_data(cleaned_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Default deny: the redacted comments go to <survey>_text.parquet, not into the clean parquet
    (nor, therefore, the .sav made from it); the plan's text_in_clean opts in."""
    from parentlink.clean import write_cleaned

    out = {k: tmp_path / f"main{k}" for k in (".parquet", "_meta.json", "_flow.csv", "_text.parquet")}
    write_cleaned(cleaned_main, out[".parquet"], out["_meta.json"], out["_flow.csv"],
                  text=out["_text.parquet"])
    data, text = pd.read_parquet(out[".parquet"]), pd.read_parquet(out["_text.parquet"])
    assert "comment" not in data.columns and list(text.columns) == ["respondent_id", "comment"]
    assert text["respondent_id"].tolist() == data["respondent_id"].tolist()
    meta = __import__("json").loads(out["_meta.json"].read_text())
    assert "kept apart" in meta["variables"]["comment"]["note"]
    write_cleaned(cleaned_main, out[".parquet"], out["_meta.json"], out["_flow.csv"],
                  text=out["_text.parquet"], keep_text=True)
    assert "comment" in pd.read_parquet(out[".parquet"]).columns
