"""Declared designs (strata, clusters, fpc, multistage, replicate weights) and R's calibration
path, against R's survey package on its own api data.

Expected values: tests/oracle/design_r_values.csv, written by tests/oracle/oracle_design.R (R 4.1,
survey 4.1); the last test re-runs that script when Rscript is available and checks the committed
files are current. Estimates agree to 1e-8 relative, SEs, intervals and p-values to 1e-6.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from parentlink.design import (
    DesignSpec,
    ReplicateSpec,
    build_replicates,
    build_structure,
    spec_from_config,
    structure_vcov,
)
from parentlink.errors import UserError
from parentlink.estimate import (
    Coding,
    Design,
    crosstab,
    design_from_margins,
    domain_means,
    domain_proportions,
    glm_table,
    logit_ci,
    make_design,
    means_table,
    rao_scott,
    survey_mean,
    survey_total,
    svyglm_logit,
    with_all_group,
)
from parentlink.weight import Margin, calibrate, calibrate_replicates

ORACLE = Path(__file__).parent / "oracle"
POP = {"stype_c": [4421, 755, 1018], "schwide_c": [1072, 5122]}
TOTAL = 6194.0
EST_RTOL, SE_RTOL = 1e-8, 1e-6


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(ORACLE / f"api_{name}.csv")


def _margins() -> list[Margin]:
    return [Margin((v,), tuple((i + 1,) for i in range(len(c))), tuple(str(i) for i in c),
                   np.asarray(c, float) / TOTAL) for v, c in POP.items()]


SPECS = {
    "strat": ("strat", DesignSpec(strata="stype_c", fpc=("fpc",))),
    "clus1": ("clus1", DesignSpec(ids=("dnum",), fpc=("fpc",))),
    "clus1_nofpc": ("clus1", DesignSpec(ids=("dnum",))),
    "clus2": ("clus2", DesignSpec(ids=("dnum", "snum"), fpc=("fpc1", "fpc2n"))),
}
CALS = {  # name: (base design, calfun, bounds, trimWeights lower/upper absolute)
    "strat_cal_raking": ("strat", "raking", None, None),
    "clus1_cal_linear": ("clus1", "linear", None, None),
    "clus1_cal_raking_bounds": ("clus1", "raking", (0.8, 1.7), None),
    "clus1_cal_logit": ("clus1", "logit", (0.7, 2.5), None),
    "clus1_cal_trim": ("clus1", "raking", None, (25.0, 40.0)),
    "clus2_cal_raking": ("clus2", "raking", None, None),
}
REPS = {
    "jk1": ("clus1", ReplicateSpec(pattern="^jk_", type="JK1", scale=14 / 15), None),
    "boot": ("strat", ReplicateSpec(pattern="^bs_", type="bootstrap", mse=True), None),
    "jk1_cal_raking": ("clus1", ReplicateSpec(pattern="^jk_", type="JK1", scale=14 / 15),
                       "raking"),
}
ALL_DESIGNS = [*SPECS, *CALS, *REPS]


def build(name: str) -> tuple[pd.DataFrame, Design]:
    if name in SPECS:
        data_name, spec = SPECS[name]
        data = _data(data_name)
        return data, make_design(data["pw"].to_numpy(float),
                                 structure=build_structure(data, spec))
    if name in CALS:
        base, calfun, bounds, trim = CALS[name]
        data_name, spec = SPECS[base]
        data = _data(data_name)
        kw = {}
        if trim is not None:
            mean = TOTAL / len(data)
            kw["trim_weights"] = (trim[0] / mean, trim[1] / mean, True)
        res = calibrate(data, _margins(), "pw", calfun=calfun,
                        bounds=bounds or (-math.inf, math.inf), total=TOTAL, tolerance=1e-13,
                        max_iterations=200, **kw)
        return data, design_from_margins(
            data, res.weights, _margins(), structure=build_structure(data, spec),
            projection_weights=data["pw"].to_numpy(float), calibration_weights=res.calibrated)
    data_name, rspec, calfun = REPS[name]
    data = _data(data_name)
    reps = build_replicates(data, rspec)
    if calfun is None:
        return data, make_design(data["pw"].to_numpy(float), replicates=reps,
                                 rep_weights=reps.weights)
    res = calibrate(data, _margins(), "pw", calfun=calfun, total=TOTAL, tolerance=1e-13)
    repw = calibrate_replicates(data, _margins(), reps.weights, calfun=calfun, total=TOTAL,
                                tolerance=1e-13)
    return data, design_from_margins(data, res.weights, _margins(),
                                     projection_weights=data["pw"].to_numpy(float),
                                     replicates=reps, rep_weights=repw)


def python_quantities(name: str) -> dict[str, float]:
    data, design = build(name)
    out: dict[str, float] = {"degf": design.degf()}
    y = data["api00"].to_numpy(float)
    comp = data["compimp_c"].to_numpy() == 2
    out["mean_api00"], out["mean_api00_se"] = survey_mean(design, y)
    out["total_api00"], out["total_api00_se"] = survey_total(design, y)
    out["mean_api00_compimp"], out["mean_api00_compimp_se"] = survey_mean(design, y, comp)
    out["total_api00_compimp"], out["total_api00_compimp_se"] = survey_total(design, y, comp)
    item = Coding("awards", "awards", data["awards_c"].to_numpy() - 1, [1, 2], ["No", "Yes"],
                  [0, 1])
    grp = Coding("stype", "stype", data["stype_c"].to_numpy() - 1, [1, 2, 3], ["E", "H", "M"],
                 [0, 1, 2])
    tab = with_all_group(crosstab(design, item.index, 2, grp.index, 3))
    res = domain_proportions(design, tab, [4, 0, 1, 2])
    assert res.df is not None
    lo, hi = logit_ci(res.p, res.se, res.df[None, :])
    for j, s in enumerate(["all", "E", "H", "M"]):
        q = f"prop_awards_{s}"
        out[q], out[q + "_se"], out[q + "_df"] = res.p[1, j], res.se[1, j], res.df[j]
        out[q + "_lo"], out[q + "_hi"] = lo[1, j], hi[1, j]
    meta = {"variables": {"api00": {"label": "API 2000"},
                          "stype_c": {"label": "type", "value_labels": {"1": "E", "2": "H",
                                                                        "3": "M"}}}}
    means = means_table(data, meta, design, ["api00"], ["stype_c"], name)
    for r in means[means["group_variable"] == "stype_c"].itertuples():
        q = f"bymean_api00_{r.group}"
        out[q], out[q + "_se"], out[q + "_lo"], out[q + "_hi"] = r.mean, r.se, r.ci_lower, \
            r.ci_upper
        out[q + "_df"] = domain_means(design, y, (grp.index == grp.codes.index(r.group_code)
                                                  )[:, None]).df[0]
        out[f"bytotal_api00_{r.group}"] = r.total
        out[f"bytotal_api00_{r.group}_se"] = r.total_se
    ch = rao_scott(design, item, grp)
    out["chisq_F"], out["chisq_ndf"] = ch["f"], ch["ndf"]
    out["chisq_ddf"], out["chisq_p"] = ch["ddf"], ch["p_value"]
    st = data["stype_c"].to_numpy()
    x = np.column_stack([np.ones(len(data)), st == 2, st == 3, y]).astype(float)
    fit = svyglm_logit(design, (data["awards_c"].to_numpy() == 2).astype(float), x,
                       np.ones(len(data), bool), ["a", "b", "c", "d"], ["a", "b", "c", "d"])
    tab_glm = glm_table(fit)
    for i in range(4):
        out[f"glm_coef_{i + 1}"] = tab_glm["estimate"][i]
        out[f"glm_se_{i + 1}"] = tab_glm["se"][i]
        out[f"glm_p_{i + 1}"] = tab_glm["p_value"][i]
    out["glm_df"] = fit.df
    return out


def _tolerance(quantity: str) -> float:
    if quantity.endswith(("_se", "_p", "_lo", "_hi")) or "_se_" in quantity \
            or "_p_" in quantity or quantity.startswith("chisq"):
        return SE_RTOL
    return EST_RTOL


def _r_values() -> pd.DataFrame:
    return pd.read_csv(ORACLE / "design_r_values.csv")


@pytest.mark.parametrize("name", ALL_DESIGNS)
def test_every_estimator_matches_r(name: str) -> None:
    r = _r_values()
    r = r[r["design"] == name]
    assert len(r) > 40
    got = python_quantities(name)
    worst = []
    for q, val in zip(r["quantity"], r["value"], strict=True):
        rel = abs(got[q] - val) / max(abs(val), 1e-300)
        worst.append((rel, q))
        assert rel <= _tolerance(q), f"{name} {q}: python {got[q]!r} R {val!r} (rel {rel:.3g})"


@pytest.mark.parametrize("name", list(CALS) + ["jk1_cal_raking"])
def test_calibrated_weights_match_r(name: str) -> None:
    r = pd.read_csv(ORACLE / "design_r_weights.csv")
    r = r[r["design"] == name]
    data, design = build(name)
    for rep, rr in r.groupby("replicate"):
        col = design.weights if rep == 0 else design.rep_weights[:, int(rep) - 1]
        w = pd.Series(col, index=data["snum"]).loc[rr["snum"]].to_numpy()
        np.testing.assert_allclose(w, rr["weight"].to_numpy(float), rtol=1e-10)
    assert r["replicate"].nunique() == (1 if design.rep_weights is None
                                        else 1 + design.rep_weights.shape[1])


def test_published_values() -> None:
    """survey's saved test output: dclus1 644.17 (23.542), dstrat 662.29 (9.4089)."""
    _, d = build("clus1")
    m, se = survey_mean(d, _data("clus1")["api00"].to_numpy(float))
    assert round(m, 2) == 644.17 and round(se, 3) == 23.542
    _, d = build("strat")
    m, se = survey_mean(d, _data("strat")["api00"].to_numpy(float))
    assert round(m, 2) == 662.29 and round(se, 4) == 9.4089


def _toy(**cols: list) -> pd.DataFrame:
    return pd.DataFrame(cols)


def test_psu_in_two_strata_without_nest_names_the_variable() -> None:
    d = _toy(h=[1, 1, 2, 2], psu=[1, 2, 1, 2])
    with pytest.raises(UserError, match="psu.*more than one stratum of h.*nest"):
        build_structure(d, DesignSpec(ids=("psu",), strata="h"))
    s = build_structure(d, DesignSpec(ids=("psu",), strata="h", nest=True))
    assert s.degf() == 2


def test_missing_stratum_code() -> None:
    d = _toy(h=[1, None, 2, 2], psu=[1, 2, 3, 4])
    with pytest.raises(UserError, match="h \\(stratum\\) has 1 missing"):
        build_structure(d, DesignSpec(ids=("psu",), strata="h"))


def test_fpc_smaller_than_sample() -> None:
    d = _toy(h=[1, 1, 1, 2, 2], psu=[1, 2, 3, 4, 5], N=[2, 2, 2, 10, 10])
    with pytest.raises(UserError, match="N \\(fpc\\).*smaller than the sample"):
        build_structure(d, DesignSpec(ids=("psu",), strata="h", fpc=("N",)))
    d["f"] = [0.5, 0.5, 0.5, 2.0, 2.0]
    with pytest.raises(UserError, match="mixes population counts"):
        build_structure(d, DesignSpec(ids=("psu",), strata="h", fpc=("f",)))


def test_lonely_psu_options() -> None:
    d = _toy(h=[1, 1, 2, 2, 3], psu=[1, 2, 3, 4, 5])
    x = np.array([[1.0], [3.0], [2.0], [6.0], [4.0]])
    with pytest.raises(UserError, match="only one PSU"):
        structure_vcov(build_structure(d, DesignSpec(ids=("psu",), strata="h")), x)
    v = {o: float(structure_vcov(build_structure(
        d, DesignSpec(ids=("psu",), strata="h", lonely_psu=o)), x)[0, 0])
        for o in ("remove", "certainty", "adjust", "average")}
    base = 2 * ((1 - 2) ** 2 + (3 - 2) ** 2) + 2 * ((2 - 4) ** 2 + (6 - 4) ** 2)
    assert v["remove"] == pytest.approx(base) and v["certainty"] == pytest.approx(base)
    assert v["adjust"] == pytest.approx(base + 16.0)
    assert v["average"] == pytest.approx(base * 3 / 2)


def test_spec_from_config() -> None:
    spec = spec_from_config({"ids": ["psu"], "strata": "h", "fpc": "N", "nest": True,
                             "lonely_psu": "adjust"})
    assert spec == DesignSpec(("psu",), "h", ("N",), True, "adjust")
    with pytest.raises(UserError, match="lonely_psu"):
        spec_from_config({"lonely_psu": "drop"})
    with pytest.raises(UserError, match="JKn needs rscales"):
        build_replicates(_toy(r1=[1.0, 2.0], r2=[2.0, 1.0]),
                         spec_from_config({"replicates": {"pattern": "^r", "type": "JKn"}}
                                          ).replicates)  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R (Rscript) not installed")
def test_design_oracle_csvs_are_current(tmp_path: Path) -> None:
    subprocess.run(["Rscript", str(ORACLE / "oracle_design.R"), str(tmp_path)], check=True,
                   capture_output=True, timeout=600)
    for name in ("design_r_values.csv", "design_r_weights.csv", "api_strat.csv", "api_clus1.csv",
                 "api_clus2.csv", "design_fixture_psu.csv", "design_fixture_estimates.csv",
                 "design_fixture_tests.csv", "design_fixture_glm.csv"):
        fresh = pd.read_csv(tmp_path / name)
        committed = pd.read_csv(ORACLE / name)
        pd.testing.assert_frame_equal(fresh, committed, check_exact=False, rtol=1e-12)


# --------------------------------------------------------------------------- the study's tables


FIX_ITEMS = ["heard", "acc_plan_net", "trust_council_net", "consent", "social_licence_high"]
FIX_BREAKS = ["family_type", "income", "ethnicity"]
FIX_PREDICTORS = ["ethnicity", "family_type", "age_band", "qualification", "income",
                  "hh_size_group"]


def _fixture() -> tuple[pd.DataFrame, dict, Design]:
    import json

    from parentlink.weight import read_margin_files

    d = pd.read_csv(ORACLE / "fixture_survey.csv", dtype={"respondent_id": str})
    for c in d.columns.drop(["respondent_id", "design_weight"]):
        d[c] = d[c].astype("Int64")
    psu = pd.read_csv(ORACLE / "design_fixture_psu.csv", dtype={"respondent_id": str})
    d = d.merge(psu, on="respondent_id", validate="one_to_one")
    meta = json.loads((ORACLE / "fixture_meta.json").read_text())
    margins = read_margin_files(sorted(ORACLE.glob("targets_*.csv")))
    res = calibrate(d, margins, "design_weight", calfun="raking", tolerance=1e-13)
    spec = spec_from_config({"ids": "psu", "strata": "stratum", "nest": True})
    return d, meta, design_from_margins(
        d, res.weights, margins, structure=build_structure(d, spec),
        projection_weights=d["design_weight"].to_numpy(float),
        calibration_weights=res.calibrated)


def test_study_tables_on_a_declared_design_match_r() -> None:
    """estimate_table, tests_table and fit_model (the stage functions) on the study's fixture
    with strata, nested PSUs and calibrate(calfun = "raking") from the design weights."""
    from parentlink.estimate import estimate_table, fit_model, tests_table

    d, meta, design = _fixture()
    table = estimate_table(d, meta, design, FIX_ITEMS, FIX_BREAKS, "fixture")
    r = pd.read_csv(ORACLE / "design_fixture_estimates.csv")
    m = r.merge(table, on=["variable", "category_code", "group_variable", "group_code"],
                suffixes=("_r", ""), validate="one_to_one")
    assert len(m) == len(r) == len(table)
    for col, tol in [("estimate", EST_RTOL), ("se", SE_RTOL), ("ci_lower", SE_RTOL),
                     ("ci_upper", SE_RTOL)]:
        rel = np.abs(m[col] - m[col + "_r"]) / np.abs(m[col + "_r"])
        assert rel.max() <= tol, (col, rel.max())
    tests = tests_table(d, meta, design, FIX_ITEMS, FIX_BREAKS, "fixture")
    rt = pd.read_csv(ORACLE / "design_fixture_tests.csv").merge(
        tests, on=["variable", "group_variable"], suffixes=("_r", ""))
    assert len(rt) == len(tests)
    for col in ("f", "ndf", "ddf", "p_value"):
        rel = np.abs(rt[col] - rt[col + "_r"]) / np.abs(rt[col + "_r"])
        assert rel.max() <= SE_RTOL, (col, rel.max())
    fit = fit_model(d, meta, design, "social_licence_high", FIX_PREDICTORS)
    g = glm_table(fit)
    rg = pd.read_csv(ORACLE / "design_fixture_glm.csv")
    assert list(g["term"]) == list(rg["term"])
    np.testing.assert_allclose(g["estimate"], rg["estimate"], rtol=EST_RTOL)
    np.testing.assert_allclose(g["se"], rg["se"], rtol=SE_RTOL)
    np.testing.assert_allclose(g["p_value"], rg["p_value"], rtol=SE_RTOL)
    assert fit.df == rg["df"].iloc[0]


def test_psu_level_path_equals_row_level() -> None:
    """The PSU-crosstab path (one-stage clustered designs) and the row-level path agree."""
    import dataclasses

    from parentlink.estimate import code_variable

    d, meta, design = _fixture()
    assert design.psu_agg is not None
    rows = dataclasses.replace(design, psu_agg=None)
    item = code_variable(d, meta, "acc_plan_net")
    grp = code_variable(d, meta, "income", groups_only=True)
    tab = with_all_group(crosstab(design, item.index, item.k, grp.index, grp.k))
    groups = [*range(grp.k), tab.a1.shape[2] - 1]
    fast, slow = domain_proportions(design, tab, groups), domain_proportions(rows, tab, groups)
    np.testing.assert_allclose(fast.p, slow.p, rtol=1e-13)
    np.testing.assert_allclose(fast.se, slow.se, rtol=1e-11)
    np.testing.assert_array_equal(fast.df, slow.df)
    a, b = rao_scott(design, item, grp), rao_scott(rows, item, grp)
    assert a["f"] == pytest.approx(b["f"], rel=1e-11)
    assert a["ndf"] == pytest.approx(b["ndf"], rel=1e-11)


def test_domain_replicate_degf_shortcut_equals_full_rank() -> None:
    """The probe shortcut gives replicate_degf's answer: full rank (bootstrap) and a JK1 domain
    that misses PSUs (rank deficient, so the probe cannot prove full rank)."""
    from parentlink.design import replicate_degf, replicate_degf_rows

    rng = np.random.default_rng(3)
    psu = rng.integers(0, 30, 3000)
    boot = rng.lognormal(size=3000)[:, None] * rng.poisson(1.0, (30, 20))[psu]
    jk = np.where(psu[:, None] == np.arange(30)[None, :], 0.0, 30 / 29)
    for w in (boot, jk):
        norm2 = (w * w).sum(axis=1)
        for rows in (np.arange(3000), np.flatnonzero(psu < 12), np.flatnonzero(psu % 3 == 0),
                     np.arange(50)):
            assert replicate_degf_rows(w, rows, norm2) == replicate_degf(w[rows])
    assert replicate_degf_rows(jk, np.flatnonzero(psu < 12)) == 11


@pytest.mark.parametrize("breaks", [FIX_BREAKS, []])
def test_both_tables_at_once_equal_the_separate_functions(breaks: list[str]) -> None:
    """estimates_and_tests (every breakdown's crosstabs per item in one pass) gives the same
    numbers as estimate_table and tests_table, to the bit but for deff_kish (its sum of w^2 adds
    in another order)."""
    from parentlink.estimate import estimate_table, estimates_and_tests, tests_table

    d, meta, design = _fixture()
    table, tests = estimates_and_tests(d, meta, design, FIX_ITEMS, breaks, "f")
    pd.testing.assert_frame_equal(table.drop(columns="deff_kish"), estimate_table(
        d, meta, design, FIX_ITEMS, breaks, "f").drop(columns="deff_kish"), check_exact=True)
    np.testing.assert_allclose(table["deff_kish"], estimate_table(
        d, meta, design, FIX_ITEMS, breaks, "f")["deff_kish"], rtol=1e-14)
    pd.testing.assert_frame_equal(tests, tests_table(d, meta, design, FIX_ITEMS, breaks, "f"),
                                  check_exact=True)


API_META = {"variables": {
    "awards_c": {"label": "awards", "value_labels": {"1": "No", "2": "Yes"}},
    "compimp_c": {"label": "comp.imp", "value_labels": {"1": "No", "2": "Yes"}},
    "stype_c": {"label": "type", "value_labels": {"1": "E", "2": "H", "3": "M"}},
    "schwide_c": {"label": "sch.wide", "value_labels": {"1": "No", "2": "Yes"}}}}


@pytest.mark.parametrize("name", list(REPS))
@pytest.mark.parametrize("breaks", [["stype_c", "schwide_c"], []])
def test_both_tables_at_once_on_replicate_designs(name: str, breaks: list[str]) -> None:
    """The replicate batch (one sparse product per item, degf from a row sample) equals the
    separate functions, including JK1 domains that miss PSUs (rank-deficient: full fallback)."""
    from parentlink.estimate import estimate_table, estimates_and_tests, tests_table

    data, design = build(name)
    items = ["awards_c", "compimp_c"]
    table, tests = estimates_and_tests(data, API_META, design, items, breaks, name)
    pd.testing.assert_frame_equal(table, estimate_table(data, API_META, design, items, breaks,
                                                        name), check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(tests, tests_table(data, API_META, design, items, breaks, name),
                                  check_exact=False, rtol=1e-12)


def test_replicate_sums_over_row_chunks_equal_the_sparse_product() -> None:
    """_RepBatch.prepare (dense products per group over chunks of rows) against the per-item
    sparse product, with chunks of 50 rows so the accumulation across chunks counts."""
    from parentlink.estimate import _RepBatch, code_variable

    data, design = build("boot")
    groupings = [code_variable(data, API_META, b, groups_only=True)
                 for b in ("stype_c", "schwide_c")]
    items = [code_variable(data, API_META, v) for v in ("awards_c", "compimp_c")]
    batch = _RepBatch(design, groupings)
    for rows in (50, 37):  # 37: the last chunk is shorter than the buffers
        batch.prepare(items, chunk_values=rows * 6)
        for pos, item in enumerate(items):
            chunked = batch.tabs(item.index, item.k, pos).qa
            sparse_sum = batch.tabs(item.index, item.k).qa
            assert chunked is not None and sparse_sum is not None
            np.testing.assert_allclose(chunked, sparse_sum[:item.k], rtol=1e-12, atol=1e-9)


def test_replicate_calibration_is_the_same_in_either_memory_layout() -> None:
    """calibrate_replicates reads contiguous columns (row_major, copied in blocks of rows) and
    writes batches of replicates: one calibrate() per column, whatever the input's layout."""
    from parentlink.weight import row_major

    x = np.asfortranarray(np.arange(2 * 2500, dtype=float).reshape(2500, 2))
    y = row_major(x, block=1000)  # 2500 rows: the last block is shorter
    assert y.flags.c_contiguous and np.array_equal(x, y) and row_major(y) is y
    data = _data("clus1")
    reps = np.asarray(data[[c for c in data.columns if c.startswith("jk_")]], dtype=float)
    one = np.column_stack([calibrate(data, _margins(), reps[:, r], calfun="raking",
                                     total=TOTAL, replicate=True).weights
                           for r in range(reps.shape[1])])
    for layout in (np.ascontiguousarray(reps), np.asfortranarray(reps)):
        for batch in (16, 4):  # 15 replicates: one batch; four, the last of 3
            got = calibrate_replicates(data, _margins(), layout, batch=batch, calfun="raking",
                                       total=TOTAL)
            assert np.array_equal(got, one) and got.flags.c_contiguous


def test_replicate_weights_delivered_as_text_are_parsed_and_checked() -> None:
    """Only text columns go through to_numeric; numbers are read as they are."""
    spec = ReplicateSpec(pattern="^r", type="bootstrap")
    reps = build_replicates(_toy(r1=[1.0, 2.0], r2=["2.5", "1"], r3=[1, 0]), spec)
    assert np.array_equal(reps.weights, [[1.0, 2.5, 1.0], [2.0, 1.0, 0.0]])
    with pytest.raises(UserError, match="Replicate weight r2 has missing"):
        build_replicates(_toy(r1=[1.0, 2.0], r2=["2.5", "x"]), spec)


@pytest.mark.parametrize("name", ["boot", "jk1"])
def test_shared_probe_degf_equals_each_domains_rank(name: str) -> None:
    """Degrees of freedom proved from one probe per breakdown slot (rows valid on every item)
    equal replicate_degf of each item's domain, full rank or not (JK1 domains missing PSUs)."""
    from parentlink.design import replicate_degf
    from parentlink.estimate import _RepBatch, code_variable

    data, design = build(name)
    groupings = [code_variable(data, API_META, b, groups_only=True) for b in ("stype_c",)]
    items = [code_variable(data, API_META, v) for v in ("awards_c", "compimp_c")]
    batch = _RepBatch(design, groupings)
    batch.prepare(items)
    assert batch._shared  # the shared probes are in use on these designs
    rw = np.asarray(design.rep_weights)
    for pos, item in enumerate(items):
        t = batch.tabs(item.index, item.k, pos)
        got = batch.domains(t, item.k, 0).df
        want = [replicate_degf(rw[(item.index < item.k) & (groupings[0].index == g)])
                for g in range(groupings[0].k)]
        assert list(got) == want


def test_shared_probe_cannot_prove_a_rank_deficient_domain() -> None:
    """A JK1 design whose breakdown group holds only 12 of 30 PSUs: the group's shared probe
    has many rows but rank 12, so the domains get rank - 1 = 11, not R - 1."""
    from parentlink.design import Replicates, replicate_degf
    from parentlink.estimate import Coding, _RepBatch, make_design

    rng = np.random.default_rng(5)
    psu = rng.integers(0, 30, 3000)
    jk = np.where(psu[:, None] == np.arange(30)[None, :], 0.0, 30 / 29)
    reps = Replicates(jk, 29 / 30, np.ones(30), False, "JK1", replicate_degf(jk))
    design = make_design(np.ones(3000), replicates=reps, rep_weights=jk)
    grp = Coding("g", "g", (psu >= 12).astype(np.int64), [1, 2], ["a", "b"], [0, 1])
    item = Coding("q", "q", rng.integers(0, 3, 3000), [1, 2, 3], ["x", "y", "z"], [0, 1, 2])
    batch = _RepBatch(design, [grp])
    batch.prepare([item])
    assert len(batch._shared) == 3  # everyone and both groups
    df = batch.domains(batch.tabs(item.index, item.k, 0), item.k, 0).df
    assert list(df) == [11, 17]
