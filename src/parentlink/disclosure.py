"""Statistical disclosure control for the estimates table.

Rules (config ``disclosure``):

1. Quality rule — a percentage is not shown where the unweighted base of its item x group is
   below ``min_base`` (default 50). All categories of that item x group are suppressed.
2. Primary disclosure rule — an estimate whose category count (respondents in the group giving
   that answer) is from 1 to ``min_cell`` - 1 (default 10) is suppressed. Zero counts are shown
   unless ``suppress_zeros`` is set: a 0% in a sample survey identifies nobody (no respondent
   is in the cell), and suppressing zeros triggers cascades of secondary suppression that
   remove most of a small survey's tables. Set ``disclosure.suppress_zeros: true`` where a 0%
   itself would disclose an attribute of a known group.
3. Secondary suppression, repeated until nothing changes. Every suppression is *protected*:
   one from rule 2, one from this rule, and one from rule 1 too — a group hidden for its small
   base would otherwise be recovered by subtraction (the whole sample minus the other groups'
   shares x published weighted bases), and with it any small cell inside it.

   * Within an item x group the reported shares sum to 100% (don't-know is outside the base), so
     if exactly one protected value is suppressed there, the unsuppressed category with the
     smallest count is also suppressed.
   * Across the groups of one breakdown, for one item x category: the weighted count of the
     whole sample is (about) the sum of the groups' weighted counts (shares x published weighted
     bases). If exactly one group has a protected suppression there, the unsuppressed group with
     the smallest base is also suppressed. (The whole-sample row is never suppressed by this.)

What this protects: no suppressed value can be recovered exactly by subtraction from a single
published total (100% within a group; the whole-sample figure across the groups of one
breakdown). What it does NOT protect against: narrowing by combining several published figures.
:func:`audit` measures that: it solves, for every hidden share, the linear programmes an attacker
would (minimum and maximum consistent with all published shares and weighted bases of the item x
breakdown) and reports the interval. On the embedded study (``python -m parentlink.disclosure
audit results/tables/main_estimates.csv``) 348 of 1,104 hidden shares of the main survey can be
narrowed to an interval narrower than min_cell / base — typically a two-group breakdown, where the
complement in the other group is pinned by the whole-sample figure. Closing that needs an optimal
(linear-programming) cell suppression, which this module does not do; the build does not fail on
the audit. Also not protected: combinations with tables published elsewhere (e.g. a two-way table
of the same variables), differencing between overlapping groups of different breakdowns, and
counts derived from weighted bases and shares (weighted counts are not unweighted counts, but with
near-constant weights they are close). Bases themselves are shown (they are group totals, not cell
counts).

Suppressed rows keep their bases; ``estimate``, ``se``, ``ci_lower``, ``ci_upper`` (and
``deff_kish``) become empty and ``suppressed`` is True. A ``suppression`` column says why:
``base`` (rule 1), ``cell`` (rule 2), ``secondary`` (rule 3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from parentlink.errors import fail

VALUE_COLUMNS = ["estimate", "se", "ci_lower", "ci_upper", "deff_kish"]
ITEM_GROUP = ["survey", "variable", "group_variable", "group_code"]
ITEM_CAT_BREAKDOWN = ["survey", "variable", "category_code", "group_variable"]


def suppress(table: pd.DataFrame, min_base: int = 50, min_cell: int = 10,
             count_column: str = "cell_count", suppress_zeros: bool = False) -> pd.DataFrame:
    """Apply the rules above; returns a copy with ``suppressed`` and ``suppression`` set.

    `table` is an estimates table with the unpublished per-row respondent count in
    `count_column` (drop it before writing the table).
    """
    if count_column not in table.columns:
        fail(f"The estimates table has no {count_column} column; disclosure needs cell counts.")
    if min_base < 1 or min_cell < 1:
        fail("disclosure.min_base and disclosure.min_cell must be positive integers.")
    out = table.reset_index(drop=True).copy()
    reason = np.full(len(out), "", dtype=object)
    reason[(out["base_unweighted"] < min_base).to_numpy()] = "base"
    counts = out[count_column].to_numpy()
    cell = (counts < min_cell) & ((counts > 0) | suppress_zeros)
    reason[cell] = "cell"
    suppressed = reason != ""
    # A group hidden for its small base needs protection too: its share would otherwise follow
    # from the whole-sample figure and the other groups' published shares and weighted bases.
    protected = suppressed.copy()
    # One complement at a time, within groups first: adding within- and across-group complements
    # in the same pass over-suppresses (both rows of a 2-group breakdown lose every category).
    while True:
        column_hit = _column_has_suppression(out, suppressed)
        added = _complement(out, suppressed, protected, ITEM_GROUP, count_column, prefer=column_hit)
        added &= ~suppressed
        if not added.any():
            added = _complement(out, suppressed, protected, ITEM_CAT_BREAKDOWN, "base_unweighted",
                                skip_all=True)
            added &= ~suppressed
        if not added.any():
            break
        suppressed |= added
        protected |= added
        reason[added] = "secondary"
    out["suppressed"] = suppressed
    out["suppression"] = reason
    for col in VALUE_COLUMNS:
        if col in out.columns:
            out[col] = out[col].astype(float).where(~suppressed)
    return out


def _column_has_suppression(table: pd.DataFrame, suppressed: np.ndarray) -> np.ndarray:
    """Rows whose item x category already has a suppressed cell in another group of the breakdown."""
    groups = (table["group_variable"] != "all").to_numpy()
    hits = pd.Series(suppressed & groups).groupby([table[k] for k in ITEM_CAT_BREAKDOWN]).transform("sum")
    return ((hits.to_numpy() - (suppressed & groups)) > 0) & groups


def _complement(table: pd.DataFrame, suppressed: np.ndarray, protected: np.ndarray,
                keys: list[str], size_column: str, skip_all: bool = False,
                prefer: np.ndarray | None = None) -> np.ndarray:
    """Within each group of rows (`keys`), if exactly one suppressed value is protected and it
    is the only suppressed one, flag one unsuppressed row: a `prefer`-red row first (one that
    completes a rectangle with suppressions already made elsewhere), then the smallest
    `size_column`."""
    add = np.zeros(len(table), dtype=bool)
    eligible = np.ones(len(table), dtype=bool)
    if skip_all:
        eligible = (table["group_variable"] != "all").to_numpy()
    frame = pd.DataFrame({
        "s": suppressed & eligible, "p": protected & eligible, "size": table[size_column],
        "pos": np.arange(len(table)), "ok": eligible,
        "rank": np.zeros(len(table)) if prefer is None else (~prefer).astype(float),
    })
    for _, grp in frame[eligible].groupby([table.loc[eligible, k] for k in keys], sort=False):
        if grp["s"].sum() == 1 and grp["p"].sum() == 1:
            free = grp[~grp["s"]]
            if len(free):
                add[int(free.sort_values(["rank", "size", "pos"]).iloc[0]["pos"])] = True
    return add


# --------------------------------------------------------------------------- audit

AUDIT_COLUMNS = ["survey", "variable", "group_variable", "group_code", "category_code",
                 "suppression", "base_unweighted", "share_low", "share_high", "width",
                 "required", "protected"]


def required_width(base_unweighted: float, min_cell: int) -> float:
    """The narrowest interval a reader may derive for a hidden share: min_cell / base (a reader
    cannot tell a count of 1 from one of min_cell - 1), at most 1."""
    return min(1.0, min_cell / base_unweighted) if base_unweighted > 0 else 1.0


class _Program:
    """Variables (with bounds) of one item x breakdown's linear programme."""

    def __init__(self) -> None:
        self.var: dict[tuple[str, object, object], int] = {}
        self.bounds: list[tuple[float, float]] = []

    def add(self, key: tuple[str, object, object], lo: float, hi: float) -> int:
        self.var[key] = len(self.bounds)
        self.bounds.append((lo, hi))
        return self.var[key]

    def row(self) -> list[float]:
        return [0.0] * len(self.bounds)


def audit(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """What an attacker can derive about every hidden share from everything published.

    For each item x breakdown the published table is: the whole-sample share of each category and
    its weighted base, each group's weighted base, and every unsuppressed group share. A hidden
    group share times the group's weighted base is a weighted count x[g, k]; a reader knows that
    each group's counts sum to its base, that each category's counts over the groups plus those of
    respondents without a group (r[k] >= 0, summing to the whole base minus the groups' bases)
    equal the whole-sample count, and that every count lies between 0 and its group's base. For
    each hidden cell the smallest and largest share consistent with all of that (two linear
    programmes, as an attacker with tau-ARGUS or sdcTable's audit would solve) give the interval.
    ``protected`` is False where that interval is narrower than :func:`required_width`.
    """
    from scipy.optimize import linprog

    rows: list[dict[str, object]] = []
    whole = table[table["group_variable"] == "all"]
    for (survey, variable, gvar), block in table[table["group_variable"] != "all"].groupby(
            ["survey", "variable", "group_variable"], sort=False):
        if not block["suppressed"].any():
            continue
        overall = whole[(whole["survey"] == survey) & (whole["variable"] == variable)]
        cats = sorted(set(block["category_code"]) | set(overall["category_code"]))
        groups = list(dict.fromkeys(block["group_code"]))
        base_g = block.groupby("group_code")["base_weighted"].first().to_dict()
        base_all = float(overall["base_weighted"].iloc[0]) if len(overall) else float("nan")
        # variables: hidden x[g,k]; unknown whole-sample counts X[k]; residuals r[k]
        lp = _Program()
        var, bounds, add, row = lp.var, lp.bounds, lp.add, lp.row
        cell = {(r.group_code, r.category_code): r for r in block.itertuples()}
        known: dict[tuple[object, object], float] = {}
        for (g, k), r in cell.items():
            if r.suppressed or pd.isna(r.estimate):
                add(("x", g, k), 0.0, float(base_g[g]))
            else:
                known[(g, k)] = float(r.estimate) * float(base_g[g])
        over = {r.category_code: r for r in overall.itertuples()}
        total_known = len(overall) and not overall["suppressed"].any()
        for k in cats:
            if not total_known or k not in over or pd.isna(over[k].estimate):
                add(("X", k, None), 0.0, base_all)
            add(("r", k, None), 0.0, base_all)
        a_eq: list[list[float]] = []
        b_eq: list[float] = []
        for g in groups:  # a group's counts sum to its base
            coef, rhs = row(), float(base_g[g])
            for k in cats:
                if ("x", g, k) in var:
                    coef[var[("x", g, k)]] = 1.0
                else:
                    rhs -= known.get((g, k), 0.0)
            a_eq.append(coef)
            b_eq.append(rhs)
        for k in cats:  # groups + no group = whole sample, per category
            coef, rhs = row(), 0.0
            for g in groups:
                if ("x", g, k) in var:
                    coef[var[("x", g, k)]] = 1.0
                else:
                    rhs -= known.get((g, k), 0.0)
            coef[var[("r", k, None)]] = 1.0
            if ("X", k, None) in var:
                coef[var[("X", k, None)]] = -1.0
            else:
                rhs += float(over[k].estimate) * base_all
            a_eq.append(coef)
            b_eq.append(rhs)
        residual = max(0.0, base_all - sum(float(b) for b in base_g.values()))
        coef = row()
        for k in cats:
            coef[var[("r", k, None)]] = 1.0
        a_eq.append(coef)
        b_eq.append(residual)
        if any(("X", k, None) in var for k in cats):
            coef = row()
            for k in cats:
                if ("X", k, None) in var:
                    coef[var[("X", k, None)]] = 1.0
            a_eq.append(coef)
            b_eq.append(base_all - sum(float(over[k].estimate) * base_all for k in cats
                                       if ("X", k, None) not in var))
        for (g, k), r in cell.items():
            if ("x", g, k) not in var:
                continue
            i = var[("x", g, k)]
            ends = []
            for sign in (1.0, -1.0):
                c = row()
                c[i] = sign
                res = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
                if res.status != 0:  # infeasible (rounding): treat as no information
                    ends.append(0.0 if sign > 0 else float(base_g[g]))
                else:
                    ends.append(float(res.x[i]))
            lo, hi = ends[0] / float(base_g[g]), ends[1] / float(base_g[g])
            need = required_width(float(r.base_unweighted), min_cell)
            rows.append({"survey": survey, "variable": variable, "group_variable": gvar,
                         "group_code": g, "category_code": k, "suppression": getattr(r, "suppression", ""),
                         "base_unweighted": int(r.base_unweighted), "share_low": max(0.0, lo),
                         "share_high": min(1.0, hi), "width": hi - lo, "required": need,
                         "protected": bool(hi - lo >= need - 1e-9)})
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def main(argv: list[str] | None = None) -> int:
    """``python -m parentlink.disclosure audit <estimates.csv> [--min-cell N]``: print, for a
    published estimates table, how many hidden shares an attacker can narrow below the required
    width, and the worst ones."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m parentlink.disclosure")
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("audit", help="attack a published estimates table (linear programmes)")
    a.add_argument("estimates")
    a.add_argument("--min-cell", type=int, default=10)
    args = ap.parse_args(argv)
    result = audit(pd.read_csv(args.estimates), args.min_cell)
    weak = result[~result["protected"]]
    print(f"{args.estimates}: {len(result)} hidden shares; {len(weak)} can be narrowed below "
          f"min_cell / base ({args.min_cell} / unweighted base)")
    if len(weak):
        cols = ["variable", "group_variable", "group_code", "category_code", "base_unweighted",
                "share_low", "share_high", "required"]
        print(weak.sort_values("width")[cols].head(20).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
