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
breakdown). What it does NOT protect against: intervals (a suppressed share is still bounded by
0 and the sum of the other suppressed shares), combinations of several breakdowns or of tables
published elsewhere (e.g. a two-way table of the same variables), differencing between
overlapping groups of different breakdowns, and counts derived from weighted bases and shares
(weighted counts are not unweighted counts, but with near-constant weights they are close). Bases
themselves are shown (they are group totals, not cell counts). Treat it as the standard
threshold-plus-complementary-suppression heuristic, not as an optimal (linear-programming)
cell suppression.

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
