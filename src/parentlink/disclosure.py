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
3. Complementary suppression, checked by an attacker's linear programme (:func:`protect`, what
   the build uses). :func:`audit` solves, for every hidden share, the smallest and largest value
   consistent with everything published about its item (every shown share and every weighted
   base, whole sample and all breakdowns at once: :class:`_ItemProgramme`), as tau-ARGUS or
   sdcTable's audit would. A hidden small cell must keep an interval at least
   :func:`required_width` wide, (min_cell - 1) / unweighted base (a reader cannot tell an empty
   cell from one of min_cell - 1), capped at what the published whole-sample share of its category
   already bounds it by, and one published as ``small_cell`` must also cover 1 to min_cell - 1
   respondents (:func:`_requirement_rows`); any other share of a small group at least 1 / base.
   :func:`protect`
   starts from rules 1 and 2, closes every line that would pin a single hidden share
   (:func:`_close`), adds the cheapest complements (:func:`_cost`) until every interval is wide
   enough, and takes back those no longer needed (:func:`_prune`); never a whole-sample share.
   The build fails (one ``ERROR:`` line) if any hidden share is still exposed
   (workflow/scripts/estimate.py), or if the codebook's counts give one back
   (:func:`codebook_exposure`).

   :func:`suppress` is the earlier rule cascade, kept as a reference and for its tests: within an
   item x group a single protected suppression gets the smallest unsuppressed count as complement;
   across the groups of a breakdown, the smallest group; every suppression, complements included,
   is protected in turn, repeated until nothing changes. It hides more than :func:`protect`
   (docs/privacy.md has the figures) and does not stop narrowing by several totals.

Not protected: combinations with tables published elsewhere (e.g. a two-way table of the same
variables), differencing between overlapping groups of different breakdowns (the programme treats
breakdowns as separate partitions tied only by the whole sample), and counts derived from weighted
bases and shares (weighted counts are not unweighted counts, but with near-constant weights they
are close). Secondary shares need no width of their own. A large group can still lose its row
where an item has two categories (hiding one share hides its complement). Bases themselves are
shown (group totals, not cell counts); with the survey's n they give the number outside an item's
base (:func:`outside_base_exposure`).

Suppressed rows keep their bases; ``estimate``, ``se``, ``ci_lower``, ``ci_upper`` (and
``deff_kish``) become empty and ``suppressed`` is True. A ``suppression`` column says why:
``base`` (rule 1; every share of a small group, small cells included), ``cell`` (rule 2),
``secondary`` (rule 3); the published column ``suppressed_reason`` says the same as
``small_base``, ``small_cell``, ``complementary`` (:data:`REASONS`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from parentlink.errors import fail

VALUE_COLUMNS = ["estimate", "se", "ci_lower", "ci_upper", "deff_kish"]
ITEM_GROUP = ["survey", "variable", "group_variable", "group_code"]
ITEM_CAT_BREAKDOWN = ["survey", "variable", "category_code", "group_variable"]
# The published reason of a hidden share (estimates column ``suppressed_reason``; empty when
# shown), from the internal ``suppression`` code.
REASONS = {"base": "small_base", "cell": "small_cell", "secondary": "complementary"}


def _label(out: pd.DataFrame) -> pd.DataFrame:
    """Set ``suppressed_reason`` from ``suppression``."""
    out["suppressed_reason"] = out["suppression"].map(REASONS).fillna("").astype(str)
    return out


def suppress(table: pd.DataFrame, min_base: int = 50, min_cell: int = 10,
             count_column: str = "cell_count", suppress_zeros: bool = False) -> pd.DataFrame:
    """Apply the rules above; returns a copy with ``suppressed`` and ``suppression`` set.

    `table` is an estimates table with the unpublished per-row respondent count in
    `count_column` (drop it before writing the table).
    """
    out = primary(table, min_base, min_cell, count_column, suppress_zeros)
    reason = out["suppression"].to_numpy(dtype=object, copy=True)
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
    return _label(out)


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


# --------------------------------------------------------------------------- protection

def protect(table: pd.DataFrame, min_base: int = 50, min_cell: int = 10,
            count_column: str = "cell_count", suppress_zeros: bool = False,
            max_steps: int = 200) -> pd.DataFrame:
    """Primary suppression, then the cheapest complementary suppression :func:`audit` accepts.

    Primary shares are those of rules 1 and 2 (:func:`primary`); the rule cascade of
    :func:`suppress` is not used (it protects complements too, which the attacker's programme
    shows is not needed, and hid 1,283 shares where this hides fewer: docs/privacy.md). Item by
    item: the closure (:func:`_close`: no line left with a single hidden share, which would pin
    it); then, while a hidden share is narrower than its requirement (:func:`_requirements`),
    each published share of its breakdown (for a whole-sample share, of the item) is tried with
    the closure it brings, in order of :func:`_cost` (what the trial newly hides, weighted by
    group size, a group's whole row counted again), and the cheapest that widens the interval
    enough is kept, else the one that widens it most. Last, complements are taken back one at a
    time, the most costly first, wherever the audit still passes without them
    (:func:`_prune`). Added shares are ``secondary``. What remains exposed (if anything) is
    reported by :func:`audit`, and the build fails on it.
    """
    out = primary(table, min_base, min_cell, count_column, suppress_zeros)
    req = _requirement_rows(out, min_cell, suppress_zeros, count_column)
    hidden = out["suppressed"].to_numpy().copy()
    for _, item in out.groupby(["survey", "variable"], sort=False):
        pos = item.index.to_numpy()
        if not hidden[pos].any():
            continue
        hidden[pos] = _protect_item(item.reset_index(drop=True), hidden[pos].copy(), req[pos],
                                    count_column, min_cell, max_steps)
    added = hidden & ~out["suppressed"].to_numpy()
    out.loc[added, "suppression"] = "secondary"
    out["suppressed"] = hidden
    for col in VALUE_COLUMNS:
        if col in out.columns:
            out[col] = out[col].astype(float).where(~hidden)
    return _label(out)


def primary(table: pd.DataFrame, min_base: int = 50, min_cell: int = 10,
            count_column: str = "cell_count", suppress_zeros: bool = False) -> pd.DataFrame:
    """Rules 1 and 2 only: ``suppression`` is ``base`` or ``cell`` (or empty), values blanked."""
    if count_column not in table.columns:
        fail(f"The estimates table has no {count_column} column; disclosure needs cell counts.")
    if min_base < 1 or min_cell < 1:
        fail("disclosure.min_base and disclosure.min_cell must be positive integers.")
    out = table.reset_index(drop=True).copy()
    reason = np.full(len(out), "", dtype=object)
    counts = out[count_column].to_numpy()
    reason[(counts < min_cell) & ((counts > 0) | suppress_zeros)] = "cell"
    # a small group's shares all say "base": which of them are small cells is not published
    # (the audit still holds those to the full width: _requirements reads the counts)
    reason[(out["base_unweighted"] < min_base).to_numpy()] = "base"
    out["suppressed"] = reason != ""
    out["suppression"] = reason
    for col in VALUE_COLUMNS:
        if col in out.columns:
            out[col] = out[col].astype(float).where(~out["suppressed"])
    return out


def _protect_item(rows: pd.DataFrame, hidden: np.ndarray, req: np.ndarray, count_column: str,
                  min_cell: int, max_steps: int) -> np.ndarray:
    lay = _Layout(rows)
    start = hidden.copy()
    open_ = _open_breakdowns(rows)
    gid = pd.factorize(pd.MultiIndex.from_frame(rows[["group_variable", "group_code"]]))[0]
    base = lay.column("base_unweighted", float)
    hidden = _close(rows, hidden, count_column, min_cell, open_, lay)
    weak = [p for p, lo, hi in _audit_item(lay, hidden, req[:, 0] > 0)
            if _slack(req[p], lo, hi) < -1e-9]
    steps = 0
    while weak and steps < max_steps:
        still = []
        for p in weak:
            # Hiding more only relaxes the programme (a known value becomes a variable), so an
            # interval never narrows: a share found wide enough is not solved again.
            slack0 = _slack(req[p], *_interval(lay, hidden, p))
            if slack0 >= -1e-9:
                continue
            steps += 1
            trials: dict[bytes, tuple[float, np.ndarray]] = {}
            for c in _candidates(lay, hidden, p, count_column):
                trial = hidden.copy()
                trial[c] = True
                trial = _close(rows, trial, count_column, min_cell, open_, lay)
                trials.setdefault(trial.tobytes(), (_cost(base, gid, hidden, trial), trial))
            best: tuple[float, float, np.ndarray] | None = None
            for cost, trial in sorted(trials.values(), key=lambda t: t[0]):
                slack = _slack(req[p], *_interval(lay, trial, p))
                if slack >= -1e-9:
                    best = (np.inf, cost, trial)
                    break
                if best is None or slack > best[0] + 1e-12:
                    best = (slack, cost, trial)
            if best is None or best[0] <= slack0 + 1e-9:
                continue  # nothing hidden around it widens the interval: the audit reports it
            hidden = best[2]
            if best[0] < np.inf:
                still.append(p)
        weak = still
    return _prune(rows, lay, start, hidden, req, count_column, min_cell, open_)


def _cost(base: np.ndarray, gid: np.ndarray, hidden: np.ndarray, trial: np.ndarray) -> float:
    """What hiding `trial` instead of `hidden` costs: each newly hidden share counts its group's
    unweighted base (a large group's figure is worth more to readers than a small one's), and a
    group row that becomes wholly hidden counts its base once more (the group vanishes from the
    item). So a complement goes to the smallest groups and, within a group, to a share whose row
    keeps other figures; shares already hidden cost nothing. `base` is each row's unweighted
    base, `gid` its group's number."""
    new = trial & ~hidden
    size = np.bincount(gid)
    was = np.bincount(gid, weights=hidden) == size
    now = np.bincount(gid, weights=trial) == size
    group_base = np.zeros(len(size))
    group_base[gid] = base
    return float(base[new].sum() + group_base[now & ~was].sum())


def _prune(rows: pd.DataFrame, lay: _Layout, start: np.ndarray, hidden: np.ndarray,
           req: np.ndarray, count_column: str, min_cell: int, open_: set[object]) -> np.ndarray:
    """Take complements back, the largest group's first (a group's added shares together, then
    one by one), wherever no line is left with a single hidden share and every required interval
    stays wide enough: a greedy search adds, in one share's interest, what a later addition made
    unnecessary."""
    base = rows["base_unweighted"].to_numpy(float)
    count = rows[count_column].to_numpy(float)
    gid = pd.factorize(pd.MultiIndex.from_frame(rows[["group_variable", "group_code"]]))[0]
    extra = np.flatnonzero(hidden & ~start)
    want = req[:, 0] > 0
    tries: list[np.ndarray] = []
    for g in dict.fromkeys(gid[extra[np.lexsort((extra, -base[extra]))]]):
        mine = extra[gid[extra] == g]
        tries += [mine] + ([np.array([s]) for s in mine[np.argsort(-count[mine], kind="stable")]]
                           if len(mine) > 1 else [])
    for back in tries:
        if not hidden[back].all():
            continue
        trial = hidden.copy()
        trial[back] = False
        if not np.array_equal(_close(rows, trial, count_column, min_cell, open_, lay), trial):
            continue
        if _safe(lay, trial, req, want, set(lay.gvar[back])):
            hidden = trial
    return hidden


def _safe(lay: _Layout, hidden: np.ndarray, req: np.ndarray, want: np.ndarray,
          breakdowns: set[object]) -> bool:
    """Whether every hidden share flagged in `want` that showing a share of `breakdowns` could
    narrow keeps its required width (stops at the first that does not). Breakdowns are tied only
    through hidden whole-sample shares: without one, only the named breakdowns' programmes are
    solved."""
    if "all" in breakdowns or (len(lay.whole) and hidden[lay.whole].any()):
        programmes = _programmes(lay, hidden)
    else:
        programmes = [_ItemProgramme(lay, hidden, [b]) for b in lay.breakdowns
                      if b in breakdowns and hidden[lay.gvar == b].any()]
    for lp in programmes:
        for p in sorted(lp.var):
            if want[p]:
                if _slack(req[p], *lp.interval(p)) < -1e-9:
                    return False
    return True


def _candidates(lay: _Layout, hidden: np.ndarray, p: int, count_column: str) -> list[int]:
    """Published shares that could protect hidden row `p`, cheapest first."""
    gvar = lay.gvar
    # the share's own breakdown, cheapest first (smaller groups, then smaller counts); a
    # whole-sample share (the headline) is never hidden to protect a group's cell
    near = (gvar == gvar[p]) if gvar[p] != "all" else np.ones(len(gvar), bool)
    free = np.flatnonzero(near & ~hidden)
    order = np.lexsort((free, lay.column(count_column)[free],
                        (gvar[free] == "all").astype(int),
                        lay.column("base_unweighted")[free]))
    return [int(i) for i in free[order]]


def _close(rows: pd.DataFrame, hidden: np.ndarray, count_column: str, min_cell: int,
           open_: set[object] | None = None, lay: _Layout | None = None) -> np.ndarray:
    """Hide more until no group (or the whole sample) has exactly one hidden share and no category
    of a breakdown has exactly one hidden group share while its whole-sample share is published.
    Within a group the complement is the smallest count of at least min_cell (else the largest);
    across groups, the group with the smallest base. A breakdown whose groups leave respondents
    out (no answer to the breakdown question) is not closed across groups: those respondents'
    unknown answers already keep a single hidden group share from being pinned, and the audit
    checks by how much."""
    lay = _Layout(rows) if lay is None else lay
    open_ = _open_breakdowns(rows) if open_ is None else open_
    count = lay.column(count_column)
    base = lay.column("base_unweighted")
    closing = lay.closing(open_)
    hidden = hidden.copy()
    changed = True
    while changed:
        changed = False
        # No two lines (nor two columns) share a row, so closing one changes no other's count:
        # those with a single hidden share can all be found before any is closed.
        for j in closing.single_lines(hidden):
            line = closing.lines[j]
            free = line[~hidden[line]]
            big = free[count[free] >= min_cell]
            pick = big[np.argmin(count[big])] if len(big) else free[np.argmax(count[free])]
            hidden[pick] = changed = True
        for j in closing.single_columns(hidden):
            w, col = closing.columns[j]
            if w is not None and hidden[w]:
                continue
            free = col[~hidden[col]]
            hidden[free[np.lexsort((free, base[free]))[0]]] = changed = True
    return hidden


def _open_breakdowns(rows: pd.DataFrame) -> set[object]:
    """Breakdowns of one item whose groups' weighted bases add up to less than the whole
    sample's (by more than rounding)."""
    whole = rows.loc[rows["group_variable"] == "all", "base_weighted"]
    if not len(whole):
        return set()
    firsts = rows[rows["group_variable"] != "all"].drop_duplicates(["group_variable", "group_code"])
    covered = firsts.groupby("group_variable", sort=False)["base_weighted"].sum()
    total = float(whole.iloc[0])
    return {b for b, v in covered.items() if total - float(v) > 1e-6 * max(total, 1.0)}


# --------------------------------------------------------------------------- audit

AUDIT_COLUMNS = ["survey", "variable", "group_variable", "group_code", "category_code",
                 "suppression", "base_unweighted", "share_low", "share_high", "width",
                 "required", "protected"]


def required_width(base_unweighted: float, min_cell: int) -> float:
    """The narrowest interval a reader may derive for a hidden small cell: (min_cell - 1) / base,
    at most 1. The unsafe counts are 0 to min_cell - 1 (0 included: a reader must not be able to
    tell an empty cell from one of min_cell - 1), a span of min_cell - 1 respondents."""
    return min(1.0, (min_cell - 1) / base_unweighted) if base_unweighted > 0 else 1.0


def _requirements(table: pd.DataFrame, min_cell: int, suppress_zeros: bool,
                  count_column: str) -> np.ndarray:
    """Required interval width of every row (0 where nothing is required).

    A reader who does not know why a share is hidden must assume each one is a small cell, so
    without a ``suppression`` column every hidden share needs :func:`required_width`. With the
    reasons: a ``secondary`` share is hidden only to protect others and needs no width of its own
    (the cells it protects are audited); a share hidden for its group's base needs the full width
    where it is a small cell (known only with the counts, in the build) and otherwise one
    respondent's worth, 1 / base (capped like the rest)."""
    hidden = table["suppressed"].astype(bool).to_numpy()
    base = table["base_unweighted"].to_numpy(float)
    need = np.where(hidden, np.minimum(1.0, (min_cell - 1) / np.where(base > 0, base, 1.0)), 0.0)
    need[hidden & (base <= 0)] = 1.0
    # A published whole-sample share bounds every group's share of that category: no suppression
    # can hide more than that total, so the requirement is capped at it (the audit cannot demand
    # what publishing a safe whole-sample figure already gives away).
    whole = table[(table["group_variable"] == "all") & ~table["suppressed"].astype(bool)]
    total = pd.Series(whole["estimate"].to_numpy(float) * whole["base_weighted"].to_numpy(float),
                      index=pd.MultiIndex.from_frame(whole[["survey", "variable", "category_code"]]))
    key = pd.MultiIndex.from_frame(table[["survey", "variable", "category_code"]])
    cap = total.reindex(key).to_numpy(float) / table["base_weighted"].to_numpy(float)
    need = np.where(np.isfinite(cap), np.minimum(need, cap), need)
    need[~hidden] = 0.0
    if "suppression" in table.columns:
        reason = table["suppression"].fillna("").astype(str).to_numpy()
        need[reason == "secondary"] = 0.0
        # A share hidden for its group's base that is not a small cell (or whose count is not
        # known, as in a published table) must not be worked out to within one respondent: that
        # would publish the figure the quality rule withholds.
        one = np.minimum(need, 1.0 / np.where(base > 0, base, 1.0))
        if count_column in table.columns:
            count = table[count_column].to_numpy()
            small = (count < min_cell) & ((count > 0) | suppress_zeros)
            loose = (reason == "base") & ~small
        else:
            loose = reason == "base"
        need[loose] = one[loose]
    return need


def _requirement_rows(table: pd.DataFrame, min_cell: int, suppress_zeros: bool,
                      count_column: str) -> np.ndarray:
    """Per row: (width, highest lower end, lowest upper end) the derived interval must meet.

    The width is :func:`_requirements`. A share published as a small cell (``suppression`` is
    ``cell``, ``suppressed_reason`` ``small_cell``) tells the reader it comes from 1 to min_cell - 1
    respondents, so its interval must also *cover* that range (approximately: 1 / base and the
    width, in shares): else label and interval together narrow it. Other rows: no ends."""
    need = _requirements(table, min_cell, suppress_zeros, count_column)
    req = np.column_stack([need, np.ones(len(need)), np.zeros(len(need))])
    if "suppression" in table.columns:
        cell = (table["suppression"].fillna("").astype(str).to_numpy() == "cell") & (need > 0)
        base = table["base_unweighted"].to_numpy(float)
        req[cell, 1] = 1.0 / base[cell]
        req[cell, 2] = need[cell]
    return req


def _slack(req: np.ndarray, lo: float, hi: float) -> float:
    """How far the interval [lo, hi] is inside requirement `req` (negative: exposed)."""
    return float(min(hi - lo - req[0], req[1] - lo, hi - req[2]))


class _Layout:
    """Positions of one item's rows: the whole sample, each group, each breakdown x category."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows = rows
        self._arrays: dict[tuple[str, object], np.ndarray] = {}
        self.gvar = rows["group_variable"].to_numpy()
        self.cat = rows["category_code"].to_numpy()
        self.est = rows["estimate"].to_numpy(float)
        self.wbase = rows["base_weighted"].to_numpy(float)
        self.whole = np.flatnonzero(self.gvar == "all")
        gcode = rows["group_code"].to_numpy()
        self.breakdowns = list(dict.fromkeys(self.gvar[self.gvar != "all"]))
        self.groups: dict[object, list[np.ndarray]] = {}
        self.columns: dict[object, list[tuple[object, np.ndarray]]] = {}
        self.cats = list(dict.fromkeys(self.cat))
        for b in self.breakdowns:
            inb = self.gvar == b
            self.groups[b] = [np.flatnonzero(inb & (gcode == g)) for g in dict.fromkeys(gcode[inb])]
            self.columns[b] = [(k, np.flatnonzero(inb & (self.cat == k))) for k in self.cats]
        self.member = {b: self.gvar == b for b in self.breakdowns}
        self.whole_of = {self.cat[i]: int(i) for i in self.whole}
        # The programme is rebuilt for every trial suppression (thousands of times a build), so
        # what it reads row by row is kept as Python lists and floats (same values, same order).
        self.published = (self.est * self.wbase).tolist()
        self.whole_list = self.whole.tolist()
        self.group_lists = {b: [g.tolist() for g in self.groups[b]] for b in self.breakdowns}
        self.column_lists = {b: [(k, col.tolist()) for k, col in self.columns[b]]
                             for b in self.breakdowns}
        self._closing: dict[frozenset[object], _Closing] = {}

    def column(self, name: str, dtype: object = None) -> np.ndarray:
        """Column `name` of the item's rows as an array (read once: the search reads the counts
        and bases for every trial)."""
        if (name, dtype) not in self._arrays:
            self._arrays[name, dtype] = self.rows[name].to_numpy(dtype)
        return self._arrays[name, dtype]

    def closing(self, open_: set[object]) -> _Closing:
        """What :func:`_close` checks with the breakdowns `open_` left open (once per item)."""
        key = frozenset(open_)
        if key not in self._closing:
            self._closing[key] = _Closing(self, open_)
        return self._closing[key]


class _Closing:
    """The lines :func:`_close` checks in one item: the whole sample and each group (every row is
    on one) and the columns, breakdown x category of the breakdowns not left open (a row is on
    at most one), each with the row of its category's whole-sample share (None if not there)."""

    def __init__(self, lay: _Layout, open_: set[object]) -> None:
        n = len(lay.gvar)
        self.lines = ([lay.whole] if len(lay.whole) else []) + [g for b in lay.breakdowns
                                                                for g in lay.groups[b]]
        self.columns = [(lay.whole_of.get(k), col) for b in lay.breakdowns if b not in open_
                        for k, col in lay.columns[b] if len(col)]
        # each row's line and column number; rows on no column get one past the last
        self.line_of = np.zeros(n, dtype=int)
        for j, line in enumerate(self.lines):
            self.line_of[line] = j
        self.column_of = np.full(n, len(self.columns))
        for j, (_, col) in enumerate(self.columns):
            self.column_of[col] = j
        self.line_size = np.bincount(self.line_of, minlength=len(self.lines))
        self.column_size = np.bincount(self.column_of, minlength=len(self.columns) + 1)

    def single_lines(self, hidden: np.ndarray) -> np.ndarray:
        """The lines holding exactly one hidden share and at least one published one, in order."""
        return self._single(hidden, self.line_of, self.line_size, len(self.lines))

    def single_columns(self, hidden: np.ndarray) -> np.ndarray:
        """The same for the columns."""
        return self._single(hidden, self.column_of, self.column_size, len(self.columns))

    @staticmethod
    def _single(hidden: np.ndarray, of: np.ndarray, size: np.ndarray, n: int) -> np.ndarray:
        n_hidden = np.bincount(of, weights=hidden, minlength=len(size))
        return np.flatnonzero((n_hidden[:n] == 1) & (size[:n] > 1))


class _ItemProgramme:
    """The linear programme of one item: what a reader knows from everything published about it.

    Variables are weighted counts: x[b, g, k] for each hidden share of group g of breakdown b
    (share x the group's published weighted base), X[k] for each hidden whole-sample share, and
    r[b, k] >= 0 for respondents in no group of breakdown b. Equalities: each group's counts sum to
    its weighted base; per breakdown and category the groups plus r equal the whole sample; the r of
    a breakdown sum to the whole base minus its groups' bases; the whole sample sums to its base.
    Each count lies between 0 and its group's base. Breakdowns share only the whole-sample X, so
    when no whole-sample share is hidden each breakdown is solved on its own (same intervals,
    smaller programmes): `breakdowns` names the ones to include.
    """

    def __init__(self, lay: _Layout, hidden: np.ndarray, breakdowns: list[object]) -> None:
        self.var: dict[int, int] = {}
        bounds: list[tuple[float, float]] = []
        eq: list[tuple[dict[int, float], float]] = []
        wbase, published, is_hidden = lay.wbase, lay.published, hidden.tolist()

        def line(pos: list[int], rhs: float, coef: dict[int, float]) -> tuple[dict[int, float], float]:
            for i in pos:
                if is_hidden[i]:
                    coef[self.var[i]] = coef.get(self.var[i], 0.0) + 1.0
                else:
                    rhs -= published[i]
            return coef, rhs

        keep = lay.gvar == "all"
        for b in breakdowns:
            keep = keep | lay.member[b]
        for i in np.flatnonzero(keep & hidden):
            self.var[int(i)] = len(bounds)
            bounds.append((0.0, max(0.0, float(wbase[i]))))
        base_all = float(wbase[lay.whole[0]]) if len(lay.whole) else float("nan")
        if len(lay.whole) and hidden[lay.whole].any():
            eq.append(line(lay.whole_list, base_all, {}))
        for b in breakdowns:
            for grp in lay.group_lists[b]:
                if any(is_hidden[i] for i in grp):
                    eq.append(line(grp, float(wbase[grp[0]]), {}))
            if not len(lay.whole):
                continue
            residual = max(0.0, base_all - sum(float(wbase[g[0]]) for g in lay.groups[b]))
            res_vars = []
            for k, col in lay.column_lists[b]:
                res_vars.append(len(bounds))
                bounds.append((0.0, residual))
                coef, rhs = line(col, 0.0, {res_vars[-1]: 1.0})
                w = lay.whole_of.get(k)
                if w is not None and is_hidden[w]:
                    coef[self.var[w]] = -1.0
                elif w is not None:
                    rhs += published[w]
                eq.append((coef, rhs))
            eq.append(({v: 1.0 for v in res_vars}, residual))
        self.bounds = bounds
        self._highs: Any = None
        self.a_eq = np.zeros((len(eq), len(bounds)))
        self.b_eq = np.zeros(len(eq))
        for j, (coef, rhs) in enumerate(eq):
            for v, c in coef.items():
                self.a_eq[j, v] = c
            self.b_eq[j] = rhs

    def interval(self, i: int) -> tuple[float, float]:
        """Smallest and largest share of hidden row `i` consistent with everything published."""
        v = self.var[i]
        base = self.bounds[v][1]
        if base <= 0:
            return 0.0, 1.0
        ends = []
        for sign in (1.0, -1.0):
            x = self._solve(v, sign)
            ends.append((self.bounds[v][0] if sign > 0 else base) if x is None else x)
        return max(0.0, ends[0] / base), min(1.0, ends[1] / base)

    def _solve(self, v: int, sign: float) -> float | None:
        """Optimum of sign * x[v] (None if the solver finds no optimum: rounding in the published
        figures; treated as no information). HiGHS through SciPy: the model is passed once and
        only the objective changes between solves (a warm start, ~10x faster than linprog)."""
        if self._highs is None:
            self._highs = _highs_model(self.a_eq, self.b_eq, self.bounds)
        if self._highs is False:
            from scipy.optimize import linprog

            c = np.zeros(len(self.bounds))
            c[v] = sign
            res = linprog(c, A_eq=self.a_eq if len(self.b_eq) else None,
                          b_eq=self.b_eq if len(self.b_eq) else None, bounds=self.bounds,
                          method="highs")
            return float(res.x[v]) if res.status == 0 else None
        h, optimal = self._highs
        h.changeColCost(v, sign)
        h.run()
        ok = h.getModelStatus() == optimal
        x = float(h.getSolution().col_value[v]) if ok else None
        h.changeColCost(v, 0.0)
        return x


def _highs_model(a_eq: np.ndarray, b_eq: np.ndarray, bounds: list[tuple[float, float]]
                 ) -> Any:
    """A HiGHS instance holding the programme (zero objective), or False where SciPy's bundled
    HiGHS interface (private, ``scipy.optimize._highspy``) is not there: then linprog is used."""
    try:
        from scipy.optimize._highspy import _core
    except ImportError:  # pragma: no cover - depends on the SciPy build
        return False
    h = _core._Highs()
    h.setOptionValue("output_flag", False)
    start, index, value = _columnwise(a_eq if len(b_eq) else np.zeros((0, len(bounds))))
    lp = _core.HighsLp()
    lp.num_col_, lp.num_row_ = len(bounds), len(b_eq)
    lp.col_cost_ = np.zeros(len(bounds))
    lp.col_lower_ = np.array([lo for lo, _ in bounds], dtype=float)
    lp.col_upper_ = np.array([hi for _, hi in bounds], dtype=float)
    lp.row_lower_ = np.asarray(b_eq, dtype=float)
    lp.row_upper_ = np.asarray(b_eq, dtype=float)
    lp.a_matrix_.format_ = _core.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = start, index, value
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = len(bounds), len(b_eq)
    if h.passModel(lp) != _core.HighsStatus.kOk:
        return False
    return h, _core.HighsModelStatus.kOptimal


def _columnwise(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzeros of dense `a` column by column, as HiGHS takes a matrix: column starts, row
    indices (ascending within a column) and values; what ``scipy.sparse.csc_matrix(a)`` holds as
    indptr, indices and data, without its construction cost (paid once per programme)."""
    col, row = np.nonzero(a.T)
    start = np.searchsorted(col, np.arange(a.shape[1] + 1)).astype(np.int32)
    return start, row.astype(np.int32), a[row, col]


def _programmes(lay: _Layout, hidden: np.ndarray) -> list[_ItemProgramme]:
    """The item's programme: one over every breakdown if a whole-sample share is hidden, else one
    per breakdown with hidden shares (the whole-sample shares are then all known)."""
    if len(lay.whole) and hidden[lay.whole].any():
        return [_ItemProgramme(lay, hidden, lay.breakdowns)]
    return [_ItemProgramme(lay, hidden, [b]) for b in lay.breakdowns
            if hidden[lay.gvar == b].any()]


def _interval(lay: _Layout, hidden: np.ndarray, p: int) -> tuple[float, float]:
    """The interval of hidden row `p` alone (builds only the programme that holds it)."""
    if len(lay.whole) and hidden[lay.whole].any():
        return _ItemProgramme(lay, hidden, lay.breakdowns).interval(p)
    return _ItemProgramme(lay, hidden, [lay.gvar[p]]).interval(p)


def _audit_item(lay: _Layout, hidden: np.ndarray, want: np.ndarray
                ) -> list[tuple[int, float, float]]:
    """(position, low, high) for the hidden rows of one item flagged in `want`."""
    out = []
    for lp in _programmes(lay, hidden):
        for p in sorted(lp.var):
            if want[p]:
                lo, hi = lp.interval(p)
                out.append((p, lo, hi))
    return out


def audit(table: pd.DataFrame, min_cell: int, suppress_zeros: bool = False,
          count_column: str = "cell_count", required_only: bool = False) -> pd.DataFrame:
    """What an attacker can derive about every hidden share from everything published.

    The published table, per item: every unsuppressed share, every weighted base (whole sample and
    groups). For each hidden share the smallest and largest value consistent with all of it (two
    linear programmes over :class:`_ItemProgramme`, as an attacker with tau-ARGUS or sdcTable's
    audit would solve) give the interval. ``required`` is the width it must have
    (:func:`_requirements`); ``protected`` is False where the interval is narrower. With
    `required_only`, shares that need no width (secondary ones) are not solved (the build's audit:
    hiding more only widens intervals, so they cannot make a required one fail).
    """
    rows: list[dict[str, object]] = []
    table = table.reset_index(drop=True)
    req = _requirement_rows(table, min_cell, suppress_zeros, count_column)
    need = req[:, 0]
    hidden_all = table["suppressed"].astype(bool).to_numpy() | table["estimate"].isna().to_numpy()
    # the columns as lists: read once, not a row Series per hidden share
    value = {k: table[k].tolist() for k in ITEM_GROUP + ["category_code", "base_unweighted"]}
    value["suppression"] = (table["suppression"].tolist() if "suppression" in table.columns
                            else [""] * len(table))
    for _, item in table.groupby(["survey", "variable"], sort=False):
        pos = item.index.to_numpy()
        if not hidden_all[pos].any():
            continue
        want = hidden_all[pos] & ((need[pos] > 0) | (not required_only))
        for p, lo, hi in _audit_item(_Layout(item), hidden_all[pos], want):
            i = int(pos[p])
            rows.append({"survey": value["survey"][i], "variable": value["variable"][i],
                         "group_variable": value["group_variable"][i],
                         "group_code": value["group_code"][i],
                         "category_code": value["category_code"][i],
                         "suppression": value["suppression"][i],
                         "base_unweighted": int(value["base_unweighted"][i]), "share_low": lo,
                         "share_high": hi, "width": hi - lo, "required": float(need[i]),
                         "protected": bool(_slack(req[i], lo, hi) >= -1e-9)})
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def exposed(result: pd.DataFrame, table_name: str) -> None:
    """Fail (one ``ERROR:`` line) naming the first hidden share of `result` (:func:`audit`) that a
    reader can narrow below its required width."""
    weak = result[~result["protected"].astype(bool)]
    if len(weak):
        r = weak.sort_values(["variable", "group_variable", "group_code", "category_code"]).iloc[0]
        fail(f"{table_name}: the hidden share of {r['variable']} category {r['category_code']} in "
             f"{r['group_variable']} = {r['group_code']} can be worked out to between "
             f"{r['share_low']:.4f} and {r['share_high']:.4f} from the published figures (needs "
             f"an interval of {r['required']:.4f}, and a small cell's must reach from one "
             f"respondent to min_cell - 1; {len(weak)} such share(s)); merge small groups of that "
             f"breakdown or raise disclosure.min_base.")


AUDIT_SUMMARY_COLUMNS = ["survey", "min_base", "min_cell", "shares", "hidden", "hidden_base",
                         "hidden_cell", "hidden_secondary", "audited", "exposed",
                         "narrowest_ratio", "tests", "tests_withheld"]


def audit_summary(table: pd.DataFrame, result: pd.DataFrame, tests: pd.DataFrame,
                  survey: str, min_base: int, min_cell: int) -> pd.DataFrame:
    """One row for results/tables/{survey}_disclosure_audit.csv (docs/data-contract.md): how many
    shares were published and hidden (by reason), how many hidden small cells the attacker's
    programme was solved for, how many it could narrow below the requirement, the smallest ratio of
    derived interval to required width, and how many tests were withheld. Counts only: which
    shares are small cells is not published."""
    reason = table["suppression"].fillna("").astype(str)
    ratio = (result["width"] / result["required"]).where(result["required"] > 0)
    return pd.DataFrame([{
        "survey": survey, "min_base": min_base, "min_cell": min_cell, "shares": len(table),
        "hidden": int(table["suppressed"].sum()), "hidden_base": int((reason == "base").sum()),
        "hidden_cell": int((reason == "cell").sum()),
        "hidden_secondary": int((reason == "secondary").sum()),
        "audited": int((result["required"] > 0).sum()),
        "exposed": int((~result["protected"].astype(bool)).sum()),
        "narrowest_ratio": round(float(ratio.min()), 4) if ratio.notna().any() else float("nan"),
        "tests": len(tests), "tests_withheld": int((tests["withheld"] != "").sum()),
    }], columns=AUDIT_SUMMARY_COLUMNS)


# --------------------------------------------------------------------------- codebook

def codebook_exposure(estimates: pd.DataFrame, codebook: pd.DataFrame, min_cell: int,
                      weighted: bool, count_column: str = "cell_count") -> list[str]:
    """Small whole-sample counts a reader can work out from the codebook and the estimates.

    The codebook (unweighted counts per code, ``[c]`` where hidden) and the estimates' whole-sample
    rows describe the same respondents: the counts of an item's codes in its base add up to the
    published unweighted base. Known counts are the codebook's shown ones and, for an unweighted
    survey, the shown whole-sample shares x base (exact there). The unknown counts add up to what
    is left: a single one is worked out exactly, and of several each lies between 0 and the rest.
    A small one (1 to ``min_cell`` - 1 respondents, read from `count_column`, which the build's
    table still has) must keep an interval of at least ``min_cell`` - 1 respondents. One sentence
    per exposed count (empty: nothing exposed). Not covered: weighted shares (they only
    approximate counts), and codes outside the base (see :func:`outside_base_exposure`)."""
    problems: list[str] = []
    whole = estimates[estimates["group_variable"] == "all"]
    for var, rows in whole.groupby("variable", sort=True):
        book = codebook[(codebook["variable"] == var) & codebook["code"].notna()
                        & (codebook["in_base"].astype(str) == "yes")]
        if book.empty:
            continue
        code = pd.to_numeric(book["code"], errors="coerce").to_numpy(float)
        count = pd.to_numeric(book["n"], errors="coerce").to_numpy(float)
        base = float(rows["base_unweighted"].iloc[0])
        shown = rows[~rows["suppressed"].astype(bool)]
        if not weighted:  # an unweighted share x base is the count itself
            exact = dict(zip(shown["category_code"].astype(float),
                             (shown["estimate"].astype(float) * base).round(), strict=True))
            count = np.array([exact.get(c, k) for c, k in zip(code, count, strict=True)])
        unknown = ~np.isfinite(count)
        true = dict(zip(rows["category_code"].astype(float), rows[count_column], strict=True))
        small = unknown & np.array([0 < true.get(c, 0) < min_cell for c in code], dtype=bool)
        if not small.any():
            continue
        rest = base - float(count[~unknown].sum())
        width = rest if unknown.sum() > 1 else 0.0
        if width < min_cell - 1:
            problems.append(
                f"{var} code {code[np.flatnonzero(small)[0]]:g}: a hidden count of fewer than "
                f"{min_cell} follows to within {width:g} respondents from the codebook's counts "
                f"and the estimates' unweighted base")
    return problems


def outside_base_exposure(estimates: pd.DataFrame, codebook: pd.DataFrame,
                          min_cell: int) -> list[str]:
    """Hidden codebook counts of codes outside an item's base (don't know, not asked) that the
    survey's n minus the published unweighted base gives back: one sentence each. Reported, not
    enforced: publishing an unweighted base publishes how many answered outside it."""
    problems: list[str] = []
    plain = pd.to_numeric(codebook.loc[codebook["code"].isna(), "n"], errors="coerce").dropna()
    if not len(plain):
        return problems
    n_all = float(plain.iloc[0])
    whole = estimates[estimates["group_variable"] == "all"]
    for var, rows in whole.groupby("variable", sort=True):
        book = codebook[(codebook["variable"] == var) & (codebook["in_base"].astype(str) == "no")]
        count = pd.to_numeric(book["n"], errors="coerce").to_numpy(float)
        unknown = ~np.isfinite(count)
        if not unknown.any():
            continue
        rest = n_all - float(rows["base_unweighted"].iloc[0]) - float(count[~unknown].sum())
        if unknown.sum() == 1 or rest < min_cell - 1:
            problems.append(f"{var}: {int(unknown.sum())} hidden count(s) outside the base share "
                            f"{rest:g} respondents (n minus the published base)")
    return problems


# --------------------------------------------------------------------------- tests

TEST_VALUE_COLUMNS = ["chisq", "f", "ndf", "ddf", "p_value"]
WITHHELD = "hidden shares in the table"


def withhold_tests(tests: pd.DataFrame, estimates: pd.DataFrame) -> pd.DataFrame:
    """Rao–Scott tests that would reveal a hidden share are not published.

    The statistic of an item x breakdown is a function of every share of that table (and the whole
    sample's): published beside the shown shares it is one more equation a reader can solve for the
    hidden ones (the issue's example pinned a hidden pilot cell to exactly 3 respondents). So a test
    whose item has any hidden share in that breakdown or in the whole-sample row keeps its row and
    ``n`` but has ``chisq``, ``f``, ``ndf``, ``ddf`` and ``p_value`` empty, and ``withheld`` says
    why (empty where the test is published). Readers treat a withheld test as no test.
    """
    hidden = estimates[estimates["suppressed"].astype(bool)]
    whole = set(hidden.loc[hidden["group_variable"] == "all", "variable"])
    pairs = set(zip(hidden["variable"], hidden["group_variable"], strict=True))
    out = tests.copy()
    hit = np.array([v in whole or (v, g) in pairs
                    for v, g in zip(out["variable"], out["group_variable"], strict=True)],
                   dtype=bool)
    for col in TEST_VALUE_COLUMNS:
        out[col] = out[col].astype(float).where(~hit)
    out["withheld"] = np.where(hit, WITHHELD, "")
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m parentlink.disclosure audit <estimates.csv> [--min-cell N]``: attack a published
    estimates table. Exit 1 if any hidden share can be narrowed below the required width.

    The reasons published in ``suppressed_reason`` are used: a ``complementary`` share protects
    others and needs no width of its own; every ``small_cell`` and ``small_base`` share is held to
    :func:`required_width` (the published table has no cell counts, so a group hidden for its base
    is held to it in every category, which the build's own audit does only for its small cells:
    see results/tables/{survey}_disclosure_audit.csv). A table without that column is attacked
    as a reader who does not know the reasons would: every hidden share is held to the width."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m parentlink.disclosure")
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("audit", help="attack a published estimates table (linear programmes)")
    a.add_argument("estimates")
    a.add_argument("--min-cell", type=int, default=10)
    args = ap.parse_args(argv)
    from parentlink.csvio import read_csv

    table = read_csv(args.estimates)
    labelled = "suppressed_reason" in table.columns
    if labelled:
        codes = {v: k for k, v in REASONS.items()}
        table["suppression"] = table["suppressed_reason"].fillna("").astype(str).map(codes) \
            .fillna("")
    result = audit(table, args.min_cell)
    weak = result[~result["protected"]]
    rule = ("small_cell shares narrower than (min_cell - 1) / unweighted base, small_base "
            "shares narrower than 1 / base" if labelled else
            "hidden shares narrower than (min_cell - 1) / unweighted base")
    print(f"{args.estimates}: {len(result)} hidden shares; {len(weak)} can be narrowed below "
          f"the required width ({rule}; min_cell {args.min_cell})")
    if len(weak):
        cols = ["variable", "group_variable", "group_code", "category_code", "base_unweighted",
                "share_low", "share_high", "required"]
        print(weak.sort_values("width")[cols].head(20).to_string(index=False))
    return 1 if len(weak) else 0


if __name__ == "__main__":
    raise SystemExit(main())


MEAN_VALUES = ["mean", "se", "ci_lower", "ci_upper", "total", "total_se"]


def protect_means(means: pd.DataFrame, min_base: int) -> pd.DataFrame:
    """Complementary suppression for the means table (results/tables/<survey>_means.csv).

    A group's total is the whole sample's total minus the other groups' totals, so a mean hidden
    for its small base follows by subtraction when it is the only one hidden in its breakdown.
    Within each variable × breakdown with a hidden group, further groups are hidden, smallest
    first, until the respondents in hidden groups plus those in no group of the breakdown (whose
    values the subtraction mixes in) number at least `min_base`; the whole-sample row is never
    hidden. Adds `suppressed_reason`: small_base, complementary, or empty when shown.
    """
    out = means.copy()
    hidden = np.array(out["suppressed"].astype(str).str.lower().isin(["true", "1"]), dtype=bool)
    reason = np.where(hidden, "small_base", "").astype(object)
    for (_, gv), rows in out.groupby(["variable", "group_variable"], sort=False):
        if gv == "all" or not hidden[out.index.get_indexer(rows.index)].any():
            continue
        whole = out[(out["variable"] == rows["variable"].iloc[0]) & (out["group_variable"] == "all")]
        at = out.index.get_indexer(rows.index)
        bases = rows["base_unweighted"].astype(float).to_numpy()
        outside = (float(whole["base_unweighted"].iloc[0]) - bases.sum()) if len(whole) else 0.0
        order = np.argsort(bases, kind="stable")
        while bases[hidden[at]].sum() + max(outside, 0.0) <= min_base - 1:
            shown = [k for k in order if not hidden[at[k]]]
            if not shown:
                break
            k = shown[0]
            hidden[at[k]], reason[at[k]] = True, "complementary"
    out["suppressed"] = hidden
    out.loc[hidden, MEAN_VALUES] = np.nan
    out["suppressed_reason"] = reason
    return out
