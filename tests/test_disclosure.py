"""Disclosure control: base rule, cell rule, secondary suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from parentlink.disclosure import audit, protect, required_width, suppress
from parentlink.errors import UserError


def table(counts: dict[tuple[str, int], list[int]]) -> pd.DataFrame:
    """Rows for one item: {(group_variable, group_code): counts per category 1..K}."""
    rows = []
    for (gv, gc), cnts in counts.items():
        base = sum(cnts)
        for k, c in enumerate(cnts, start=1):
            rows.append({"survey": "main", "variable": "q", "category_code": k,
                         "group_variable": gv, "group_code": gc, "base_unweighted": base,
                         "base_weighted": float(base), "estimate": c / base, "se": 0.01,
                         "ci_lower": 0.0, "ci_upper": 1.0, "deff_kish": 1.2,
                         "suppressed": False, "cell_count": c})
    return pd.DataFrame(rows)


def flags(out: pd.DataFrame, gv: str, gc: int) -> list[str]:
    sel = out[(out["group_variable"] == gv) & (out["group_code"] == gc)]
    return sel["suppression"].tolist()


def test_nothing_suppressed_when_large() -> None:
    out = suppress(table({("all", 0): [100, 200, 300]}))
    assert not out["suppressed"].any()
    assert out["estimate"].notna().all()


def test_small_base_suppresses_whole_group_but_keeps_bases() -> None:
    t = table({("all", 0): [200, 200, 200], ("sex", 1): [15, 15, 15], ("sex", 2): [185, 185, 185]})
    out = suppress(t)
    assert flags(out, "sex", 1) == ["base"] * 3
    # sex 1's shares would follow from the whole sample minus sex 2 (shares x weighted bases):
    # with two groups, the other one must go too.
    assert flags(out, "sex", 2) == ["secondary"] * 3
    sup = out[out["suppressed"]]
    assert sup[["estimate", "se", "ci_lower", "ci_upper", "deff_kish"]].isna().all().all()
    assert sup["base_unweighted"].isin([45, 555]).all() and sup["base_weighted"].notna().all()


def test_single_small_cell_gets_complement_within_group() -> None:
    out = suppress(table({("all", 0): [5, 300, 60, 200]}))
    assert flags(out, "all", 0) == ["cell", "", "secondary", ""]


def test_complement_across_groups() -> None:
    t = table({("all", 0): [300, 300, 300], ("region", 1): [4, 100, 100],
               ("region", 2): [100, 80, 120], ("region", 3): [196, 120, 80]})
    out = suppress(t)
    assert flags(out, "region", 1) == ["cell", "secondary", ""]
    # category 1 and 2 were suppressed in region 1 only: complement in the smallest other group
    assert flags(out, "region", 2)[:2] == ["secondary", "secondary"]
    # within region 2 now two suppressed -> fine; every line has 0 or >= 2 protected suppressions
    sup = out[out["suppressed"] & (out["group_variable"] != "all")]
    assert (sup.groupby(["group_code"]).size() != 1).all()
    assert (sup.groupby(["category_code"]).size() != 1).all()
    assert not out[out["group_variable"] == "all"]["suppressed"].any()


def test_zero_count_is_shown_by_default_and_suppressed_on_request() -> None:
    out = suppress(table({("all", 0): [0, 300, 60]}))
    assert flags(out, "all", 0) == ["", "", ""]
    out = suppress(table({("all", 0): [0, 300, 60]}), suppress_zeros=True)
    assert flags(out, "all", 0) == ["cell", "", "secondary"]


def test_two_group_breakdown_keeps_a_rectangle_not_everything() -> None:
    """One small cell in a 2-group breakdown costs 4 cells (a rectangle), not the whole table."""
    out = suppress(table({("all", 0): [400, 500, 25], ("g", 1): [380, 400, 21], ("g", 2): [20, 100, 4]}))
    assert out["suppressed"].sum() == 4
    assert flags(out, "g", 2).count("") == 1 and flags(out, "g", 1).count("") == 1


def test_requires_counts() -> None:
    with pytest.raises(UserError, match="cell_count"):
        suppress(table({("all", 0): [1, 2]}).drop(columns="cell_count"))


def test_thresholds_from_config() -> None:
    out = suppress(table({("all", 0): [30, 30, 30]}), min_base=100, min_cell=5)
    assert out["suppressed"].all() and set(out["suppression"]) == {"base"}
    assert np.isnan(out["estimate"]).all()


def test_group_hidden_for_its_base_is_protected_by_the_smallest_other_group() -> None:
    """The shipped-output attack: a group hidden for its base (12 parents) had a category whose
    column held no other suppression, so its share followed by subtraction (whole sample minus the
    other groups' shares x weighted bases), and with the group's 100% the one-person cell."""
    t = table({("all", 0): [600, 300, 400], ("age", 1): [11, 0, 1], ("age", 2): [60, 20, 30],
               ("age", 3): [200, 100, 150], ("age", 4): [329, 180, 219]})
    out = suppress(t)
    # all "base": which shares of a small group are small cells is not published
    assert flags(out, "age", 1) == ["base", "base", "base"]
    assert flags(out, "age", 2) == ["secondary"] * 3  # the smallest other group, every column
    assert flags(out, "age", 3) == [""] * 3 and flags(out, "age", 4) == [""] * 3
    for k in (1, 2, 3):  # no column of the breakdown holds a single suppression
        col = out[(out["group_variable"] == "age") & (out["category_code"] == k)]
        assert col["suppressed"].sum() != 1


def published(out: pd.DataFrame) -> pd.DataFrame:
    """What a reader sees: suppressed shares are gone, bases stay."""
    return out.drop(columns=["cell_count"])


def test_audit_finds_a_cell_recovered_by_subtraction() -> None:
    """A table hidden without complements (one hidden group in a column) is attackable: the LP
    pins the hidden share exactly."""
    t = table({("all", 0): [600, 300, 400], ("age", 1): [11, 0, 1], ("age", 2): [60, 20, 30],
               ("age", 3): [200, 100, 150], ("age", 4): [329, 180, 219]})
    naive = t.assign(suppressed=(t["group_code"] == 1) & (t["group_variable"] == "age"))
    naive.loc[naive["suppressed"], "estimate"] = np.nan
    naive["suppression"] = np.where(naive["suppressed"], "base", "")
    res = audit(published(naive), min_cell=10)
    assert len(res) == 3 and not res["protected"].any()
    one = res[res["category_code"] == 3].iloc[0]  # the one-person cell: 1/12
    assert one["share_low"] == pytest.approx(1 / 12) and one["share_high"] == pytest.approx(1 / 12)


def test_audit_intervals_after_complementary_suppression() -> None:
    t = table({("all", 0): [600, 300, 400], ("age", 1): [11, 0, 1], ("age", 2): [60, 20, 30],
               ("age", 3): [200, 100, 150], ("age", 4): [329, 180, 219]})
    res = audit(published(suppress(t)), min_cell=10)
    assert set(res["group_code"]) == {1, 2}
    # every hidden share now has a real interval containing its true value
    truth = {(1, 1): 11 / 12, (1, 2): 0.0, (1, 3): 1 / 12, (2, 1): 60 / 110, (2, 2): 20 / 110,
             (2, 3): 30 / 110}
    for r in res.itertuples():
        assert r.share_low - 1e-9 <= truth[(r.group_code, r.category_code)] <= r.share_high + 1e-9
        assert r.width > 0.05


def test_required_width_at_the_boundary() -> None:
    assert required_width(10, 10) == pytest.approx(0.9)
    assert required_width(100, 10) == pytest.approx(0.09)
    assert required_width(5, 10) == 1.0


# The shipped-data pattern the rules leave open: a large group and the whole sample pin the
# small groups' total of a rare category ("don't know", 14 parents), so a one-person cell in a
# group of 25 is narrowed to [0, 2] respondents although no line holds a single suppression.
PINNED = {("all", 0): [341, 382, 198, 14], ("eth", 1): [290, 320, 168, 12],
          ("eth", 2): [9, 8, 7, 1], ("eth", 3): [26, 32, 14, 1], ("eth", 4): [10, 13, 8, 0],
          ("eth", 5): [6, 9, 1, 0]}


def test_rules_alone_leave_a_cell_the_audit_can_narrow() -> None:
    res = audit(suppress(table(PINNED)), min_cell=10)
    weak = res[~res["protected"]]
    assert {(r.group_code, r.category_code) for r in weak.itertuples()} == {(2, 4), (3, 4)}
    one = weak[weak["group_code"] == 2].iloc[0]
    assert one["share_high"] * 25 == pytest.approx(2.0)  # at most 2 of the 25 said don't know


def test_protect_passes_the_audit_hiding_cells_not_the_large_group() -> None:
    out = protect(table(PINNED))
    assert audit(out, min_cell=10)["protected"].all()
    # the same from the reader's side (no reasons: every hidden share held to the requirement)
    seen = audit(published(out).drop(columns="suppression"), min_cell=10)
    assert seen["protected"].all()
    big = out[(out["group_variable"] == "eth") & (out["group_code"] == 1)]
    assert big["suppressed"].sum() == 2  # two cells of the 790, not its row
    assert not out[out["group_variable"] == "all"]["suppressed"].any()  # the headline stays
    assert out["suppressed"].sum() == suppress(table(PINNED))["suppressed"].sum() + 2
    # the rules' suppressions are all kept, with their reasons
    before = suppress(table(PINNED))
    assert (out.loc[before["suppressed"], "suppression"] == before.loc[before["suppressed"],
                                                                       "suppression"]).all()


def test_protect_changes_nothing_when_the_rules_suffice() -> None:
    t = table({("all", 0): [400, 500, 25], ("g", 1): [380, 400, 21], ("g", 2): [20, 100, 4]})
    pd.testing.assert_frame_equal(protect(t), suppress(t))


def rectangle(b: int) -> pd.DataFrame:
    """A 2 x 2 hidden rectangle: x11 = 1 with complement b in its group, and large cells in the
    other group; a reader can move x11 between 0 and 1 + b (the LP's interval)."""
    t = table({("all", 0): [101, 100 + b, 50], ("g", 1): [1, b, 50],
               ("g", 2): [100, 100, 0]})
    hide = (t["group_variable"] == "g") & t["category_code"].isin([1, 2])
    t.loc[hide, "estimate"] = np.nan
    t["suppressed"] = hide
    t["suppression"] = np.where(hide & (t["cell_count"] < 10), "cell",
                                np.where(hide, "secondary", ""))
    return t


def test_audit_boundary_interval_of_exactly_min_cell_minus_one() -> None:
    """The cell of 1 can be anything from 0 to 1 + b respondents: with b = 8 the interval spans 9
    (= min_cell - 1) respondents, just enough; with b = 7 it is one short."""
    ok = audit(rectangle(8), min_cell=10)
    cell = ok[(ok["group_code"] == 1) & (ok["category_code"] == 1)].iloc[0]
    assert cell["width"] * 59 == pytest.approx(9.0) and cell["protected"]
    bad = audit(rectangle(7), min_cell=10)
    cell = bad[(bad["group_code"] == 1) & (bad["category_code"] == 1)].iloc[0]
    assert cell["width"] * 58 == pytest.approx(8.0) and not cell["protected"]


def test_a_count_of_exactly_min_cell_is_shown() -> None:
    out = protect(table({("all", 0): [10, 300, 9, 200]}))
    # 9 is a small cell; 10 is not (it is only the complement that stops the 9 following from 100%)
    assert flags(out, "all", 0) == ["secondary", "", "cell", ""]
    assert audit(out, min_cell=10)["protected"].all()


def rao_scott_rows() -> pd.DataFrame:
    return pd.DataFrame({"survey": "main", "variable": ["q", "q", "r"],
                         "group_variable": ["eth", "sex", "eth"], "chisq": [5.0, 6.0, 7.0],
                         "f": [1.1, 1.2, 1.3], "ndf": [2.0, 1.0, 2.0], "ddf": [90.0, 90.0, 90.0],
                         "p_value": [0.3, 0.04, 0.2], "n": [100, 100, 100]})


def test_tests_with_a_hidden_share_are_withheld() -> None:
    from parentlink.disclosure import WITHHELD, withhold_tests
    est = table(PINNED)  # item q: hidden shares only in breakdown eth once protected
    est = pd.concat([protect(est), protect(table({("all", 0): [300, 400], ("eth", 1): [150, 200],
                                                 ("eth", 2): [150, 200]})).assign(variable="r")])
    out = withhold_tests(rao_scott_rows(), est)
    assert out["withheld"].tolist() == [WITHHELD, "", ""]
    assert out.loc[0, ["chisq", "f", "ndf", "ddf", "p_value"]].isna().all()
    assert out.loc[0, "n"] == 100 and out.loc[1, "p_value"] == 0.04
    # a hidden whole-sample share withholds every test of the item
    whole = est.copy()
    whole.loc[(whole["variable"] == "r") & (whole["group_variable"] == "all"), "suppressed"] = True
    assert withhold_tests(rao_scott_rows(), whole)["withheld"].tolist() == [WITHHELD, "", WITHHELD]


def test_exposed_names_the_table_and_the_cell() -> None:
    from parentlink.disclosure import exposed
    res = audit(suppress(table(PINNED)), min_cell=10)
    with pytest.raises(UserError, match=r"main_estimates.csv: the hidden share of q category 4 in "
                                        r"eth = 2 can be worked out to between 0.0000 and 0.0800"):
        exposed(res, "results/tables/main_estimates.csv")
    exposed(audit(protect(table(PINNED)), min_cell=10), "x.csv")  # passes: no error


def test_audit_summary_counts() -> None:
    from parentlink.disclosure import AUDIT_SUMMARY_COLUMNS, audit_summary, withhold_tests
    out = protect(table(PINNED))
    res = audit(out, 10, required_only=True)
    tests = withhold_tests(rao_scott_rows(), out)
    s = audit_summary(out, res, tests, "main", 50, 10)
    assert list(s.columns) == AUDIT_SUMMARY_COLUMNS and len(s) == 1
    r = s.iloc[0]
    assert r["shares"] == 24 and r["hidden"] == 16 and r["exposed"] == 0
    assert r["hidden"] == r["hidden_base"] + r["hidden_cell"] + r["hidden_secondary"]
    # every primary share is held to a width (a small group's shares to one respondent's worth
    # unless small cells); secondary ones to none
    assert r["audited"] == len(res) == r["hidden_cell"] + r["hidden_base"]
    assert r["narrowest_ratio"] >= 1.0 and r["tests_withheld"] == 1


def test_cli_audit_exit_status(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from parentlink.csvio import write_csv
    from parentlink.disclosure import main
    bad = tmp_path / "bad.csv"
    write_csv(published(suppress(table(PINNED))).drop(columns="suppression"), bad)
    assert main(["audit", str(bad)]) == 1
    assert "can be narrowed" in capsys.readouterr().out
    good = tmp_path / "good.csv"
    write_csv(published(protect(table(PINNED))).drop(columns="suppression"), good)
    assert main(["audit", str(good)]) == 0


def test_an_exposed_cell_stops_the_stage_with_one_error_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """What workflow/scripts/estimate.py does: audit, then `exposed` inside run_stage; the partial
    outputs are removed and one ERROR: line names the table and the cell."""
    from parentlink.disclosure import exposed
    from parentlink.errors import run_stage
    out = tmp_path / "main_estimates.csv"
    out.write_text("partial")

    def stage() -> None:
        exposed(audit(suppress(table(PINNED)), min_cell=10, required_only=True), str(out))

    with pytest.raises(SystemExit) as stop:
        run_stage(stage, outputs=[out])
    assert stop.value.code == 1 and not out.exists()
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert len(err) == 1 and "main_estimates.csv" in err[0] and "q category 4 in eth = 2" in err[0]


# --------------------------------------------------------------------------- minimal suppression

def test_complements_go_to_a_small_group_and_the_large_group_keeps_its_row() -> None:
    t = table({("all", 0): [225, 350, 335], ("eth", 1): [5, 30, 25], ("eth", 2): [20, 20, 20],
               ("eth", 3): [200, 300, 290]})
    out = protect(t)
    assert flags(out, "eth", 3) == ["", "", ""]
    assert flags(out, "eth", 1) == ["cell", "", "secondary"]
    assert int(out["suppressed"].sum()) == 4
    assert audit(out, min_cell=10)["protected"].all()


def test_respondents_outside_the_groups_can_protect_a_cell_without_hiding_the_other_group() -> None:
    # 40 respondents gave no answer to the breakdown question: their unknown answers keep the
    # hidden cell of sex 1 in an interval 0.38 wide, so sex 2 (795 parents) stays shown
    t = table({("all", 0): [60, 840], ("sex", 1): [5, 60], ("sex", 2): [35, 760]})
    assert flags(suppress(t), "sex", 2) == ["secondary", "secondary"]  # the rule cascade hid it
    out = protect(t)
    assert flags(out, "sex", 1) == ["cell", "secondary"] and flags(out, "sex", 2) == ["", ""]
    assert audit(out, min_cell=10)["protected"].all()


def test_cost_counts_a_wholly_hidden_row_again() -> None:
    from parentlink.disclosure import _cost

    t = table({("all", 0): [50, 50], ("g", 1): [30, 30], ("g", 2): [100, 100]})
    gid = np.array([0, 0, 1, 1, 2, 2])
    none = np.zeros(6, bool)
    one = none.copy()
    one[2] = True
    row = one.copy()
    row[3] = True
    base = t["base_unweighted"].to_numpy(float)
    assert _cost(base, gid, none, one) == 60
    assert _cost(base, gid, none, row) == 60 * 3  # two shares of a group of 60, and its whole row
    assert _cost(base, gid, one, row) == 60 * 2


def test_the_cheapest_sufficient_complement_is_kept_and_needless_ones_taken_back() -> None:
    # the closure hides the smallest group (eth 2) beside eth 1's cell of 5, but eth 2 has no
    # parent in category 1, so the cell is pinned within 5 of 100; eth 3 (90 parents) protects it
    # where eth 4 (800) would too, and eth 2 is then not needed
    t = table({("all", 0): [335, 715], ("eth", 1): [5, 95], ("eth", 2): [0, 60],
               ("eth", 3): [30, 60], ("eth", 4): [300, 500]})
    out = protect(t)
    assert [flags(out, "eth", g) for g in (2, 3, 4)] == [["", ""], ["secondary"] * 2, ["", ""]]
    assert audit(out, min_cell=10)["protected"].all()


def test_cli_audit_reads_the_published_reasons(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A share labelled complementary protects others and needs no width of its own; the same
    narrow share labelled small_cell (or with no reasons published) fails the attack."""
    from parentlink.csvio import write_csv
    from parentlink.disclosure import main
    t = table({("all", 0): [600, 300, 400], ("age", 1): [11, 0, 1], ("age", 2): [60, 20, 30],
               ("age", 3): [200, 100, 150], ("age", 4): [329, 180, 219]})
    hidden = (t["group_variable"] == "age") & (t["group_code"] == 1) & (t["category_code"] != 2)
    t.loc[hidden, ["suppressed", "estimate"]] = [True, np.nan]
    path = tmp_path / "est.csv"
    for label, status in (("complementary", 0), ("small_cell", 1), ("small_base", 1)):
        t["suppressed_reason"] = np.where(hidden, label, "")
        write_csv(published(t), path)
        assert main(["audit", str(path)]) == status, label
    write_csv(published(t).drop(columns="suppressed_reason"), path)
    assert main(["audit", str(path)]) == 1
    assert "can be narrowed" in capsys.readouterr().out


# --------------------------------------------------------------------------- codebook together

def codebook(counts: dict[int, object], outside: dict[int, object], n: int) -> pd.DataFrame:
    rows = [{"variable": "respondent_id", "code": np.nan, "in_base": "", "n": n}]
    rows += [{"variable": "q", "code": c, "in_base": "yes", "n": k} for c, k in counts.items()]
    rows += [{"variable": "q", "code": c, "in_base": "no", "n": k} for c, k in outside.items()]
    return pd.DataFrame(rows)


def test_a_codebook_count_with_the_shown_shares_gives_back_a_hidden_small_cell() -> None:
    from parentlink.disclosure import codebook_exposure
    # the estimates hide 5 and its complement 12; the codebook hides 5 and 83 instead
    est = suppress(table({("all", 0): [5, 12, 83]}))
    assert est["suppressed"].tolist() == [True, True, False]
    book = codebook({1: "[c]", 2: 12, 3: "[c]"}, {8: 20}, 120)
    # unweighted: 83 = the shown share x base, so 100 - 12 - 83 = 5
    problems = codebook_exposure(est, book, 10, weighted=False)
    assert len(problems) == 1 and problems[0].startswith("q code 1:")
    # weighted: the share does not give the count; 5 and 83 share 88 respondents
    assert codebook_exposure(est, book, 10, weighted=True) == []
    # a lone unknown is pinned, even at 9 (a width of 9 would pass were it an interval)
    nine = suppress(table({("all", 0): [9, 12, 83]}))
    assert len(codebook_exposure(nine, book, 10, weighted=False)) == 1
    # the same hidden counts in both: nothing follows
    same = codebook({1: "[c]", 2: "[c]", 3: 83}, {8: 20}, 120)
    assert codebook_exposure(est, same, 10, weighted=False) == []


def test_hidden_counts_outside_the_base_are_reported() -> None:
    from parentlink.disclosure import outside_base_exposure
    est = suppress(table({("all", 0): [40, 60]}))
    assert outside_base_exposure(est, codebook({1: 40, 2: 60}, {8: "[c]", 9: 30}, 136), 10) == [
        "q: 1 hidden count(s) outside the base share 6 respondents (n minus the published base)"]
    assert outside_base_exposure(est, codebook({1: 40, 2: 60}, {8: "[c]", 9: "[c]"}, 136),
                                 10) == []


def test_a_labelled_small_cell_must_keep_its_whole_small_range(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """g1's cell of 8 (of 100) can be worked out to 3 to 13: wide enough (9 / 100), but with the
    label small_cell a reader knows it is 3 to 9 — more than "fewer than 10"."""
    from parentlink.csvio import write_csv
    from parentlink.disclosure import main
    t = table({("all", 0): [20, 180], ("g", 1): [8, 92], ("g", 2): [5, 5], ("g", 3): [7, 83]})
    hidden = (t["group_variable"] == "g") & t["group_code"].isin([1, 2])
    t.loc[hidden, ["suppressed", "estimate"]] = [True, np.nan]
    cell = (t["group_code"] == 1) & (t["category_code"] == 1) & hidden
    res = audit(published(t), min_cell=10)  # no reasons: held to the width only
    got = res[(res["group_code"] == 1) & (res["category_code"] == 1)].iloc[0]
    assert got["share_low"] == pytest.approx(0.03) and got["protected"]
    path = tmp_path / "est.csv"
    for label, status in (("small_cell", 1), ("complementary", 0)):
        t["suppressed_reason"] = np.where(cell, label, np.where(
            hidden & (t["group_code"] == 2), "small_base", np.where(hidden, "complementary", "")))
        write_csv(published(t), path)
        assert main(["audit", str(path)]) == status, label
    assert "can be narrowed" in capsys.readouterr().out


def test_every_hidden_share_says_why_and_a_shown_one_says_nothing() -> None:
    out = protect(table(PINNED))
    reason = out["suppressed_reason"]
    assert ((reason == "") == ~out["suppressed"]).all()
    assert set(reason) == {"", "small_base", "small_cell", "complementary"}
    # eth 4 (31 parents) has a cell of 8 and an empty one: all its shares say small_base
    assert set(reason[(out["group_variable"] == "eth") & (out["group_code"] == 4)]) == {"small_base"}
    assert (reason[out["cell_count"].between(1, 9) & (out["base_unweighted"] >= 50)]
            == "small_cell").all()


def _means(groups: list[tuple[str, int, bool]], whole: int) -> pd.DataFrame:
    rows = [{"variable": "age", "group_variable": "all", "group": "All", "base_unweighted": whole,
             "mean": 40.0, "se": 0.1, "ci_lower": 39.8, "ci_upper": 40.2, "total": 4e4,
             "total_se": 90.0, "suppressed": False}]
    rows += [{"variable": "age", "group_variable": "age_band", "group": g, "base_unweighted": n,
              "mean": None if hide else 30.0 + n / 100, "se": None if hide else 0.5,
              "ci_lower": None if hide else 29.0, "ci_upper": None if hide else 31.0,
              "total": None if hide else 1e3, "total_se": None if hide else 9.0,
              "suppressed": hide} for g, n, hide in groups]
    return pd.DataFrame(rows)


def test_a_mean_hidden_alone_gets_a_complement_so_subtraction_cannot_give_it() -> None:
    from parentlink.disclosure import protect_means

    # 12 + 400 + 60 + 300 = 772 of 772: nobody outside the groups.
    out = protect_means(_means([("young", 12, True), ("a", 400, False), ("b", 60, False),
                                ("c", 300, False)], 772), 50)
    assert list(out["suppressed"]) == [False, True, False, True, False]
    assert list(out["suppressed_reason"]) == ["", "small_base", "", "complementary", ""]
    assert out.loc[3, ["mean", "se", "ci_lower", "ci_upper", "total", "total_se"]].isna().all()
    assert out.loc[0, "mean"] == 40.0  # the whole sample is never hidden


def test_respondents_outside_the_groups_protect_a_hidden_mean_at_the_boundary() -> None:
    from parentlink.disclosure import protect_means

    groups = [("young", 12, True), ("a", 400, False), ("b", 60, False)]
    # 38 respondents in no group: 12 + 38 = exactly 50, enough.
    assert protect_means(_means(groups, 510), 50)["suppressed"].sum() == 1
    # 37 outside: 49 < 50, the smallest shown group (60) is hidden too.
    out = protect_means(_means(groups, 509), 50)
    assert list(out["suppressed_reason"]) == ["", "small_base", "", "complementary"]


def test_programme_matrix_is_scipys_csc() -> None:
    """The attacker's programme reaches HiGHS column by column exactly as scipy.sparse's CSC
    form would hand it over (same starts, row indices and values), empty rows and columns too."""
    from scipy import sparse

    from parentlink.disclosure import _columnwise

    rng = np.random.default_rng(3)
    shapes = [(0, 4), (1, 1), (5, 3), (12, 30), (40, 9)]
    for rows, cols in shapes:
        a = rng.choice([0.0, 0.0, 0.0, 1.0, -1.0], size=(rows, cols))
        if cols > 2:
            a[:, 1] = 0.0  # an empty column
        start, index, value = _columnwise(a)
        want = sparse.csc_matrix(a)
        assert np.array_equal(start, want.indptr) and start.dtype == want.indptr.dtype
        assert np.array_equal(index, want.indices) and index.dtype == want.indices.dtype
        assert np.array_equal(value, want.data) and value.dtype == want.data.dtype
