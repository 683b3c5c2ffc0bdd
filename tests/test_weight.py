"""Raking: margins met, R's rake() reproduced, user errors, trimming, speed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from parentlink.errors import UserError
from parentlink.weight import (
    Margin,
    diagnostics,
    kish,
    margin_index,
    rake,
    read_margin_files,
    read_margins,
)

ORACLE = Path(__file__).parent / "oracle"
ROOT = Path(__file__).resolve().parents[1]


def fixture_margins() -> list[Margin]:
    return read_margin_files(sorted(ORACLE.glob("targets_*.csv")))


def fixture_data() -> pd.DataFrame:
    return pd.read_csv(ORACLE / "fixture_survey.csv", dtype={"respondent_id": str})


def margin(var: str, shares: dict[int, float], source: str = "t.csv") -> Margin:
    cats = tuple((k,) for k in shares)
    return Margin((var,), cats, tuple(str(k) for k in shares),
                  np.array(list(shares.values())), source)


def test_fixture_raking_matches_r_rake() -> None:
    d = fixture_data()
    res = rake(d, fixture_margins(), "design_weight", tolerance=1e-12, max_iterations=5000)
    r = pd.read_csv(ORACLE / "r_fixture_weights.csv")
    assert (r["respondent_id"] == d["respondent_id"]).all()
    rel = np.max(np.abs(res.weights / r["final_weight"].to_numpy() - 1))
    assert rel < 1e-8
    assert res.converged and res.max_margin_error < 1e-11


def test_interlocked_margin_is_met() -> None:
    d = fixture_data()
    ms = fixture_margins()
    res = rake(d, ms, "design_weight")
    joint = next(m for m in ms if m.name == "sex:age_band")
    idx = margin_index(d, joint)
    got = np.bincount(idx, weights=res.weights) / res.weights.sum()
    np.testing.assert_allclose(got, joint.shares, atol=1e-9)
    assert joint.categories[2] == (1, 3)


def test_kalton_flores_cervantes_raking() -> None:
    r = pd.read_csv(ORACLE / "r_kalton.csv")
    rows = r.loc[r.index.repeat(r["sample"])]
    data = pd.DataFrame({"a": rows["a"].to_numpy(), "b": rows["b"].to_numpy()})
    pop_a = np.array([80 + 40 + 55, 60 + 150 + 340, 170 + 60 + 200, 55 + 165 + 125], float)
    pop_b = np.array([80 + 60 + 170 + 55, 40 + 150 + 60 + 165, 55 + 340 + 200 + 125], float)
    ms = [margin("a", dict(zip(range(1, 5), pop_a / pop_a.sum(), strict=True))),
          margin("b", dict(zip(range(1, 4), pop_b / pop_b.sum(), strict=True)))]
    res = rake(data, ms, np.ones(len(data)), total=pop_a.sum(), tolerance=1e-13)
    got = pd.Series(res.weights).groupby([data["b"], data["a"]]).first().to_numpy()
    np.testing.assert_allclose(got, r["weight"].to_numpy(), rtol=1e-8)
    # Kalton & Flores-Cervantes (2003) Table B, as printed in survey's tests/kalton.Rout.save
    table_b = [1.81, 1.08, 2.20, 1.83, 1.45, 0.87, 1.76, 1.47, 2.02, 1.21, 2.45, 2.04]
    np.testing.assert_allclose(np.round(got, 2), table_b)


def test_api_raking_matches_r() -> None:
    api = pd.read_csv(ORACLE / "api_srs.csv")
    ms = [margin("stype", {1: 4421 / 6194, 2: 755 / 6194, 3: 1018 / 6194}),
          margin("sch_wide", {1: 1072 / 6194, 2: 5122 / 6194})]
    res = rake(api, ms, "pw", total=6194, tolerance=1e-13)
    r = pd.read_csv(ORACLE / "r_api_weights.csv")
    np.testing.assert_allclose(res.weights, r["weight"], rtol=1e-8)


def test_read_margins_config_files() -> None:
    files = sorted((ROOT / "config" / "targets").glob("*.csv"))
    ms = read_margin_files(files)
    assert {m.name for m in ms} >= {"sex", "region"}
    for m in ms:
        assert abs(m.shares.sum() - 1) < 1e-12 and m.note


def write(tmp: Path, text: str) -> Path:
    p = tmp / "m.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_shares_must_sum_to_one(tmp_path: Path) -> None:
    p = write(tmp_path, "# source: x\nvariable,category,label,share\nsex,1,M,0.5\nsex,2,F,0.49\n")
    with pytest.raises(UserError, match=r"m\.csv.*sex.*sum to 0\.99"):
        read_margins(p)


def test_bad_header(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="header"):
        read_margins(write(tmp_path, "var,cat,share\nsex,1,1\n"))


def small() -> pd.DataFrame:
    return pd.DataFrame({"sex": pd.array([1, 2, 1, 2, 1, 2], dtype="Int64"),
                         "age": pd.array([1, 1, 2, 2, 3, 3], dtype="Int64"),
                         "design_weight": [1.0, 1, 1, 1, 1, 2]})


def test_empty_cell_error() -> None:
    with pytest.raises(UserError, match=r"age=4.*no respondents.*t\.csv"):
        rake(small(), [margin("age", {1: 0.3, 2: 0.3, 3: 0.3, 4: 0.1})])


def test_category_missing_from_targets() -> None:
    with pytest.raises(UserError, match=r"Category 3 of age.*not in t\.csv"):
        rake(small(), [margin("age", {1: 0.5, 2: 0.5})])


def test_missing_value_in_raking_variable() -> None:
    d = small()
    d.loc[0, "sex"] = pd.NA
    with pytest.raises(UserError, match="sex has 1 missing"):
        rake(d, [margin("sex", {1: 0.5, 2: 0.5})])


def test_non_convergence_is_an_error() -> None:
    d = fixture_data()
    with pytest.raises(UserError, match="did not meet the margins after 2 iterations"):
        rake(d, fixture_margins(), "design_weight", max_iterations=2)


def test_inconsistent_nested_margins(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("variable,category,label,share\nsex,1,M,0.4\nsex,2,F,0.6\n")
    (tmp_path / "b.csv").write_text(
        "variable,category,label,share\nsex:age,1:1,a,0.25\nsex:age,1:2,b,0.25\n"
        "sex:age,2:1,c,0.25\nsex:age,2:2,d,0.25\n")
    with pytest.raises(UserError, match="disagree"):
        read_margin_files([tmp_path / "a.csv", tmp_path / "b.csv"])


def test_trimming_bounds_and_margins() -> None:
    d = fixture_data()
    ms = fixture_margins()
    plain = rake(d, ms, "design_weight")
    ratio = plain.weights / plain.weights.mean()
    lo, hi = 0.2, float(np.quantile(ratio, 0.98))
    res = rake(d, ms, "design_weight", trim=(lo, hi))
    r = res.weights / res.weights.mean()
    assert r.min() >= lo - 1e-8 and r.max() <= hi + 1e-8
    assert res.trimmed > 0 and res.max_margin_error < 1e-9


def test_trimming_impossible() -> None:
    d = fixture_data()
    with pytest.raises(UserError, match="trim bounds"):
        rake(d, fixture_margins(), "design_weight", trim=(0.9, 1.1), max_trim_rounds=50)


def test_diagnostics_and_kish() -> None:
    d = fixture_data()
    ms = fixture_margins()
    res = rake(d, ms, "design_weight")
    diag = diagnostics(d, ms, res)
    w = res.weights
    assert diag["effective_n"] == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert diag["design_effect"] == pytest.approx(1 + (w.std() / w.mean()) ** 2)
    assert diag["efficiency"] == pytest.approx(diag["effective_n"] / len(w))
    row = diag["margins"][0]
    assert set(row) == {"variable", "category", "label", "target", "unweighted", "weighted"}
    assert all(abs(m["weighted"] - m["target"]) < 1e-9 for m in diag["margins"])
    assert kish(np.ones(10))["design_effect"] == pytest.approx(1.0)


def test_rake_speed_one_million_rows() -> None:
    rng = np.random.default_rng(5)
    n = 1_000_000
    d = pd.DataFrame({"a": rng.integers(1, 3, n), "b": rng.integers(1, 6, n),
                      "c": rng.integers(1, 13, n), "d": rng.integers(1, 6, n),
                      "e": rng.integers(1, 5, n)})
    ms = [margin(v, {k: 1 / s for k in range(1, s + 1)})
          for v, s in zip("abcde", [2, 5, 12, 5, 4], strict=True)]
    t0 = time.perf_counter()
    res = rake(d, ms, rng.lognormal(0, 0.5, n))
    assert time.perf_counter() - t0 < 1.0  # typically ~0.1 s; loose bound for slow CI machines
    assert res.max_margin_error < 1e-10


def test_calibrate_raking_equals_ipf_raking() -> None:
    """R's calibrate(calfun = "raking") without bounds and IPF reach the same weights."""
    from parentlink.weight import calibrate

    d = pd.read_csv(ORACLE / "fixture_survey.csv", dtype={"respondent_id": str})
    margins = read_margin_files(sorted(ORACLE.glob("targets_*.csv")))
    ipf = rake(d, margins, "design_weight", tolerance=1e-13, max_iterations=5000).weights
    res = calibrate(d, margins, "design_weight", calfun="raking", tolerance=1e-13)
    np.testing.assert_allclose(res.weights, ipf, rtol=1e-9)
    assert res.method == "calibrate (raking)" and res.calibrated is not None


def test_calibrate_bounds_hold_and_errors() -> None:
    from parentlink.weight import calibrate, trim_weights_r

    d = pd.read_csv(ORACLE / "fixture_survey.csv", dtype={"respondent_id": str})
    margins = read_margin_files(sorted(ORACLE.glob("targets_*.csv")))
    # unbounded raking needs g from 0.13 to 4.8 here
    res = calibrate(d, margins, "design_weight", calfun="logit", bounds=(0.3, 3.0))
    g = res.weights / d["design_weight"].to_numpy()
    assert g.min() >= 0.3 and g.max() <= 3.0 and g.min() < 0.31
    # bounded raking's Newton steps cycle here; R's calibrate() fails the same way
    # ("Failed to converge" after 500 iterations), and so must we, loudly
    with pytest.raises(UserError, match="raking, bounds"):
        calibrate(d, margins, "design_weight", calfun="raking", bounds=(0.2, 4.0),
                  max_iterations=500)
    with pytest.raises(UserError, match="lower < 1 < upper"):
        calibrate(d, margins, "design_weight", bounds=(1.2, 2.0))
    with pytest.raises(UserError, match="logit needs finite"):
        calibrate(d, margins, "design_weight", calfun="logit")
    with pytest.raises(UserError, match="did not meet the margins"):
        calibrate(d, margins, "design_weight", calfun="linear", bounds=(0.99, 1.01))
    w, first, passes = trim_weights_r(np.array([1.0, 2.0, 3.0, 10.0]), 0.0, 5.0)
    assert first == 1 and passes == 1
    np.testing.assert_allclose(w, [1 + 5 / 3, 2 + 5 / 3, 3 + 5 / 3, 5.0])  # R: equal shares
