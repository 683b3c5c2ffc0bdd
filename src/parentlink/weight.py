"""Raking (iterative proportional fitting) of a design weight to population margins.

Margin files are CSV: optional ``# source: ...`` comment lines, then the header
``variable,category,label,share``. Interlocked (joint) margins name several variables joined by
``:`` (``sex:age``) and categories joined the same way (``1:3``).

Raking finds weights ``w_i = d_i * f(c_i)`` (``d`` the design weight, ``c_i`` the respondent's cell
in the cross-classification of all raking variables) such that for every margin ``m`` and category
``k``::

    sum_{i: x_im = k} w_i = T_mk = share_mk * T,      T = sum_i d_i  (or a population total)

It is solved by IPF on the cell totals (exactly equivalent to IPF on the rows, because every row
of a cell gets the same factor), so 1M rows cost one pass to aggregate and one pass to
broadcast. Convergence is judged on the achieved margins: ``max |achieved - target| <=
tolerance * T`` — never on the weights' stagnation. The final weights are re-checked on the rows.

Optional trimming bounds the weights to ``[lower, upper] * mean weight``: clip, then re-rake with
bounded IPF steps (each margin step solves for the factor that meets its targets with the clipped
units held at their bound), repeated until both the margins and the bounds hold (or a
:class:`UserError` says they cannot).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy.special import expit

from parentlink.errors import fail

SHARE_SUM_TOLERANCE = 1e-6
HEADER = ["variable", "category", "label", "share"]


@dataclass(frozen=True)
class Margin:
    """A raking margin: target shares over the categories of a variable or a joint of several."""

    variables: tuple[str, ...]
    categories: tuple[tuple[int, ...], ...]
    labels: tuple[str, ...]
    shares: np.ndarray  # normalised to sum to exactly 1
    source: str = ""  # file the margin came from (for messages)
    note: str = ""  # the file's "# source:" text

    @property
    def name(self) -> str:
        return ":".join(self.variables)

    @staticmethod
    def category_text(cat: tuple[int, ...]) -> str:
        return ":".join(str(c) for c in cat)


@dataclass
class RakeResult:
    """Final weights and how they were obtained."""

    weights: np.ndarray
    iterations: int
    converged: bool
    max_margin_error: float  # max |achieved - target| / total, on the rows
    total: float
    trimmed: int = 0
    trim_rounds: int = 0
    margins: list[Margin] = field(default_factory=list)
    method: str = "rake_trim"
    calibrated: np.ndarray | None = None  # g d before trimWeights (R's calibration weights)


# --------------------------------------------------------------------------- margin files


def _read_rows(path: Path) -> tuple[list[dict[str, str]], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        fail(f"Cannot read raking margin file {path} ({err.strerror}); check weighting.targets.")
    lines = text.splitlines()
    notes = [ln.lstrip("#").strip() for ln in lines if ln.startswith("#")]
    body = [ln for ln in lines if not ln.startswith("#") and ln.strip()]
    reader = csv.DictReader(body)
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != HEADER:
        fail(f"Margin file {path} must have the header {','.join(HEADER)} after its # comments.")
    return list(reader), " ".join(notes).removeprefix("source:").strip()


def _parse_row(path: Path, row: Mapping[str, str], nvars: int) -> tuple[tuple[int, ...], float]:
    var, cat, share = row["variable"], row["category"], row["share"]
    try:
        codes = tuple(int(c) for c in cat.split(":"))
    except ValueError:
        fail(f"Margin file {path}: category {cat!r} of {var} is not an integer code (or a:b).")
    if len(codes) != nvars:
        fail(f"Margin file {path}: category {cat!r} needs {nvars} codes joined by ':' for {var}.")
    try:
        value = float(share)
    except ValueError:
        fail(f"Margin file {path}: share {share!r} of {var}={cat} is not a number.")
    if not math.isfinite(value) or value < 0:
        fail(f"Margin file {path}: share of {var}={cat} must be a finite number >= 0.")
    return codes, value


def read_margins(path: str | Path) -> list[Margin]:
    """Read one margin file; a file may hold several variables (rows grouped by `variable`)."""
    path = Path(path)
    rows, note = _read_rows(path)
    grouped: dict[str, list[Mapping[str, str]]] = {}
    for row in rows:
        grouped.setdefault(row["variable"].strip(), []).append(row)
    if not grouped:
        fail(f"Margin file {path} has no rows; add variable,category,label,share rows.")
    return [_margin_from_rows(path, var, rs, note) for var, rs in grouped.items()]


def _margin_from_rows(path: Path, var: str, rows: list[Mapping[str, str]], note: str) -> Margin:
    variables = tuple(v.strip() for v in var.split(":"))
    cats, shares, labels = [], [], []
    for row in rows:
        codes, share = _parse_row(path, row, len(variables))
        if codes in cats:
            fail(f"Margin file {path}: category {row['category']} of {var} appears twice.")
        cats.append(codes)
        shares.append(share)
        labels.append(row["label"])
    arr = np.asarray(shares, dtype=float)
    total = float(arr.sum())
    if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
        fail(f"Margin file {path}: shares of {var} sum to {total:.8g}, not 1; fix the shares.")
    return Margin(variables, tuple(cats), tuple(labels), arr / total, str(path), note)


def read_margin_files(paths: Iterable[str | Path]) -> list[Margin]:
    """Read several margin files; a variable (or joint) may appear in only one margin."""
    margins: list[Margin] = []
    for p in paths:
        for m in read_margins(p):
            if any(m.name == o.name for o in margins):
                fail(f"Raking variable {m.name} has margins in two files ({m.source}); keep one.")
            margins.append(m)
    _check_nested_consistency(margins)
    return margins


def _check_nested_consistency(margins: Sequence[Margin]) -> None:
    """A margin on variables V must agree with the implied shares of a joint margin on V+more."""
    for small in margins:
        for big in margins:
            if small is big or not set(small.variables) < set(big.variables):
                continue
            pos = [big.variables.index(v) for v in small.variables]
            implied: dict[tuple[int, ...], float] = {}
            for cat, share in zip(big.categories, big.shares, strict=True):
                key = tuple(cat[p] for p in pos)
                implied[key] = implied.get(key, 0.0) + float(share)
            for cat, share in zip(small.categories, small.shares, strict=True):
                if abs(implied.get(cat, 0.0) - share) > SHARE_SUM_TOLERANCE:
                    fail(
                        f"Margins disagree: {small.name}={Margin.category_text(cat)} is "
                        f"{share:.6g} in {small.source} but {implied.get(cat, 0.0):.6g} implied "
                        f"by {big.name} in {big.source}; make the two files consistent."
                    )


# --------------------------------------------------------------------------- coding the data


def _codes(data: pd.DataFrame, var: str, source: str) -> np.ndarray:
    if var not in data.columns:
        fail(f"Raking variable {var} (from {source}) is not a column of the survey data.")
    col = data[var]
    if col.isna().any():
        n = int(col.isna().sum())
        fail(
            f"Raking variable {var} has {n} missing values; impute or drop them in the clean stage "
            f"before weighting (margins from {source})."
        )
    return np.asarray(col.to_numpy(dtype="int64"))


def margin_index(data: pd.DataFrame, margin: Margin) -> np.ndarray:
    """Row -> position of the row's category in ``margin.categories`` (validated).

    Codes are packed into one integer by mixed radix and mapped through a lookup table, so the
    cost is two passes over the rows whatever the number of categories.
    """
    cols = [_codes(data, v, margin.source) for v in margin.variables]
    n = len(cols[0])
    if len(cols) == 1 and n:
        lo, hi = int(cols[0].min()), int(cols[0].max())
        if lo >= 0 and hi <= 1_000_000:
            return _single_index(cols[0], hi, margin)
    key = np.zeros(n, dtype=np.int64)
    lows, sizes = [], []
    for c in cols:
        lo = int(c.min()) if n else 0
        size = (int(c.max()) - lo + 1) if n else 1
        key = key * size + (c - lo)
        lows.append(lo)
        sizes.append(size)
    span = int(np.prod(sizes))
    if span > 50_000_000:
        present, key = np.unique(key, return_inverse=True)
    else:
        present = np.flatnonzero(np.bincount(key, minlength=span))
    lookup = {cat: i for i, cat in enumerate(margin.categories)}
    lut = np.full(span if span <= 50_000_000 else len(present), -1, dtype=np.int64)
    for j, packed in enumerate(present):
        cat = _unpack(int(packed), lows, sizes)
        if cat not in lookup:
            fail(
                f"Category {Margin.category_text(cat)} of {margin.name} occurs in the data but not "
                f"in {margin.source}; add it to the targets or recode it in the clean stage."
            )
        lut[packed if span <= 50_000_000 else j] = lookup[cat]
    return lut[key]


def _single_index(codes: np.ndarray, hi: int, margin: Margin) -> np.ndarray:
    """One-variable margin (the usual case): index a lookup table by the code itself.

    Fewer passes over the rows than packing: one count and one gather (codes are small and
    non-negative, which the caller has checked).
    """
    present = np.flatnonzero(np.bincount(codes, minlength=hi + 1))
    lut = np.full(hi + 1, -1, dtype=np.int64)
    lookup = {cat: i for i, cat in enumerate(margin.categories)}
    for code in present.tolist():
        if (code,) not in lookup:
            fail(
                f"Category {Margin.category_text((code,))} of {margin.name} occurs in the data but "
                f"not in {margin.source}; add it to the targets or recode it in the clean stage."
            )
        lut[code] = lookup[(code,)]
    return lut[codes]


def _unpack(packed: int, lows: Sequence[int], sizes: Sequence[int]) -> tuple[int, ...]:
    out = []
    for lo, size in zip(reversed(lows), reversed(sizes), strict=True):
        packed, r = divmod(packed, size)
        out.append(r + lo)
    return tuple(reversed(out))


def cell_index(indices: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[np.ndarray, int]:
    """Compact cell id of each row in the cross-classification of several margin indices."""
    n = len(indices[0]) if indices else 0
    code = np.zeros(n, dtype=np.int64)
    span = 1
    for idx, size in zip(indices, sizes, strict=True):
        code = code * size + idx
        span *= size
    if span <= 50_000_000:
        present = np.bincount(code, minlength=span) > 0
        remap = np.cumsum(present) - 1
        return remap[code], int(present.sum())
    uniq, inv = np.unique(code, return_inverse=True)
    return inv.reshape(-1), len(uniq)


# --------------------------------------------------------------------------- IPF


def _check_cells(margins: Sequence[Margin], counts: Sequence[np.ndarray]) -> None:
    for m, cnt in zip(margins, counts, strict=True):
        for k, (cat, share) in enumerate(zip(m.categories, m.shares, strict=True)):
            if share > 0 and cnt[k] == 0:
                fail(
                    f"Raking cell {m.name}={Margin.category_text(cat)} has a target share of "
                    f"{share:.4g} but no respondents; collapse it with a neighbouring category in "
                    f"{m.source} and in the data."
                )
            if share == 0 and cnt[k] > 0:
                fail(
                    f"Raking cell {m.name}={Margin.category_text(cat)} has {int(cnt[k])} "
                    f"respondents but a target share of 0 in {m.source}; give it a share or "
                    f"recode those respondents."
                )


def _ipf(
    base: np.ndarray,
    cell_margin: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    total: float,
    tolerance: float,
    max_iterations: int,
) -> tuple[np.ndarray, int, bool, float]:
    """IPF on cell totals. Returns (cell factor, sweeps, converged, max error / total).

    One sweep: for each margin m, ``f <- f * T_mk / A_mk`` where ``A_mk = sum_{c in k} base_c f_c``.
    Stop when ``max_mk |A_mk - T_mk| <= tolerance * total`` measured after a full sweep.
    """
    factor = np.ones_like(base)
    err = math.inf
    for it in range(1, max_iterations + 1):
        for idx, tgt in zip(cell_margin, targets, strict=True):
            achieved = np.bincount(idx, weights=base * factor, minlength=len(tgt))
            ratio = np.divide(tgt, achieved, out=np.ones_like(tgt), where=achieved > 0)
            factor *= ratio[idx]
        err = _max_error(base * factor, cell_margin, targets) / total
        if err <= tolerance:
            return factor, it, True, err
    return factor, max_iterations, False, err


def _max_error(w: np.ndarray, idxs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> float:
    worst = 0.0
    for idx, tgt in zip(idxs, targets, strict=True):
        ach = np.bincount(idx, weights=w, minlength=len(tgt))
        worst = max(worst, float(np.max(np.abs(ach - tgt))))
    return worst


def _worst_margin(
    w: np.ndarray, idxs: Sequence[np.ndarray], margins: Sequence[Margin], total: float
) -> str:
    best = (-1.0, "")
    for idx, m in zip(idxs, margins, strict=True):
        ach = np.bincount(idx, weights=w, minlength=len(m.shares)) / total
        k = int(np.argmax(np.abs(ach - m.shares)))
        gap = float(abs(ach[k] - m.shares[k]))
        if gap > best[0]:
            best = (gap, f"{m.name}={Margin.category_text(m.categories[k])}")
    return f"{best[1]} (off by {best[0]:.3g})"


@dataclass
class _Problem:
    margins: list[Margin]
    row_idx: list[np.ndarray]  # row -> category position, per margin
    cell: np.ndarray  # row -> cell
    cell_margin: list[np.ndarray]  # cell -> category position, per margin
    targets: list[np.ndarray]
    total: float


def _setup(
    data: pd.DataFrame, margins: Sequence[Margin], design: np.ndarray, total: float | None
) -> _Problem:
    if not margins:
        fail("No raking margins given; list the target files under weighting.targets.")
    row_idx = [margin_index(data, m) for m in margins]
    cell, ncell = cell_index(row_idx, [len(m.shares) for m in margins])
    cell_margin = []
    for ix in row_idx:
        cm = np.zeros(ncell, dtype=np.int64)
        cm[cell] = ix
        cell_margin.append(cm)
    # Respondents per category, counted over cells rather than rows (far fewer of them).
    cell_n = np.bincount(cell, minlength=ncell)
    counts = [
        np.bincount(cm, weights=cell_n, minlength=len(m.shares)).astype(np.int64)
        for cm, m in zip(cell_margin, margins, strict=True)
    ]
    _check_cells(margins, counts)
    tot = float(design.sum()) if total is None else float(total)
    targets = [m.shares * tot for m in margins]
    return _Problem(list(margins), row_idx, cell, cell_margin, targets, tot)


def _retotal(prob: _Problem, design: np.ndarray, total: float | None) -> _Problem:
    """`prob` with the targets of another design weight column (same rows and margins)."""
    tot = float(design.sum()) if total is None else float(total)
    return replace(prob, targets=[m.shares * tot for m in prob.margins], total=tot)


def _rake_once(
    prob: _Problem, base: np.ndarray, tolerance: float, max_iterations: int
) -> tuple[np.ndarray, int, bool]:
    cell_base = np.bincount(prob.cell, weights=base, minlength=len(prob.cell_margin[0]))
    if np.any(cell_base <= 0):
        fail("Every raking cell needs a positive design weight; check design_weight for zeros.")
    factor, iters, ok, _ = _ipf(
        cell_base, prob.cell_margin, prob.targets, prob.total, tolerance, max_iterations
    )
    return base * factor[prob.cell], iters, ok


def _validate_design(design: np.ndarray) -> None:
    if design.ndim != 1 or len(design) == 0:
        fail("The design weight must be a non-empty column; check weighting.design_weight.")
    if not np.all(np.isfinite(design)) or np.any(design <= 0):
        fail("The design weight has missing, zero or negative values; fix them in the clean stage.")


def rake(
    data: pd.DataFrame,
    margins: Sequence[Margin],
    design_weight: str | np.ndarray = "design_weight",
    *,
    total: float | None = None,
    tolerance: float = 1e-10,
    max_iterations: int = 500,
    trim: tuple[float, float] | None = None,
    max_trim_rounds: int = 0,
) -> RakeResult:
    """Rake `design_weight` to `margins` (targets = share x sum of design weights, or x `total`).

    ``trim=(lower, upper)`` bounds the final weights to ``[lower, upper] * mean(w)`` (the mean is
    fixed by the total: ``T / n``): clip, then bounded IPF sweeps until the margins hold within
    `tolerance` with every weight inside the bounds (``max_trim_rounds`` caps the sweeps; 0 means
    `max_iterations`).
    Raises :class:`UserError` for empty cells, unknown categories, missing values and when the
    margins (or margins and bounds together) cannot be met within the iteration limits.
    """
    design = np.asarray(
        data[design_weight] if isinstance(design_weight, str) else design_weight, dtype=float
    )
    _validate_design(design)
    prob = _setup(data, margins, design, total)
    w, iters, ok = _rake_once(prob, design, tolerance, max_iterations)
    if not ok:
        _fail_convergence(prob, w, max_iterations)
    trimmed, rounds = 0, 0
    if trim is not None:
        w, trimmed, rounds, extra = _trim_loop(prob, w, trim, tolerance, max_iterations,
                                               max_trim_rounds)
        iters += extra
    err = _max_error(w, prob.row_idx, prob.targets) / prob.total
    if err > max(tolerance, 1e-12) * 10:
        _fail_convergence(prob, w, max_iterations)
    return RakeResult(w, iters, True, err, prob.total, trimmed, rounds, list(margins))


def _fail_convergence(prob: _Problem, w: np.ndarray, max_iterations: int) -> None:
    worst = _worst_margin(w, prob.row_idx, prob.margins, prob.total)
    fail(
        f"Raking did not meet the margins after {max_iterations} iterations; worst is {worst}. "
        f"Collapse sparse categories in the target files or raise weighting.max_iterations."
    )


def _trim_loop(
    prob: _Problem,
    w: np.ndarray,
    trim: tuple[float, float],
    tolerance: float,
    max_iterations: int,
    max_rounds: int,
) -> tuple[np.ndarray, int, int, int]:
    """Bounded raking: IPF sweeps in which each margin step keeps weights inside the bounds.

    Clip-then-re-rake (the textbook loop) only approaches the bounds geometrically, so each
    margin step instead solves ``sum_{i in k} clip(w_i f_k, lo, hi) = T_k`` for the factor
    ``f_k`` (fixed point over the set of units at a bound). Weights then always respect the
    bounds and the sweeps stop when the margins are met. Returns (w, number of untrimmed weights
    that were outside the bounds, sweeps, sweeps).
    """
    lower, upper = trim
    if not 0 <= lower < 1 < upper:
        fail(f"Trim bounds {trim} must satisfy 0 <= lower < 1 < upper (x mean weight).")
    mean = prob.total / len(w)
    lo, hi = lower * mean, upper * mean
    if w.min() >= lo and w.max() <= hi:
        return w, 0, 0, 0
    outside = int(np.sum((w < lo) | (w > hi)))
    w = np.clip(w, lo, hi)
    limit = min(max_iterations, max_rounds) if max_rounds else max_iterations
    for sweep in range(1, limit + 1):
        for m, idx, tgt in zip(prob.margins, prob.row_idx, prob.targets, strict=True):
            w = _bounded_step(w, idx, tgt, lo, hi, m, trim)
        if _max_error(w, prob.row_idx, prob.targets) <= tolerance * prob.total:
            return w, outside, sweep, sweep
    fail(
        f"Weights cannot meet the margins and the trim bounds [{lower}, {upper}] x mean together "
        f"after {limit} sweeps; widen weighting.trim or collapse sparse target categories."
    )


def _bounded_step(w: np.ndarray, idx: np.ndarray, tgt: np.ndarray, lo: float, hi: float,
                  margin: Margin, trim: tuple[float, float]) -> np.ndarray:
    k = len(tgt)
    f = tgt / np.bincount(idx, weights=w, minlength=k)
    for _ in range(100):
        wf = w * f[idx]
        at_hi, at_lo = wf >= hi, wf <= lo
        fixed = np.bincount(idx, weights=np.where(at_hi, hi, np.where(at_lo, lo, 0.0)),
                            minlength=k)
        free = np.bincount(idx, weights=np.where(at_hi | at_lo, 0.0, w), minlength=k)
        need = tgt - fixed
        if np.any((free <= 0) & (np.abs(need) > 1e-12 * tgt.sum())):
            bad = int(np.argmax((free <= 0) & (np.abs(need) > 1e-12 * tgt.sum())))
            fail(
                f"Weights cannot meet the trim bounds {list(trim)} x mean and the target of "
                f"{margin.name}={Margin.category_text(margin.categories[bad])} in "
                f"{margin.source}; widen weighting.trim or collapse that category."
            )
        f_new = np.where(free > 0, need / np.where(free > 0, free, 1.0), f)
        if np.allclose(f_new, f, rtol=1e-15, atol=0):
            break
        f = f_new
    return np.clip(w * f[idx], lo, hi)


# --------------------------------------------------------------------------- R's calibrate()

CALFUNS = ("linear", "raking", "logit")


def _calfun(name: str, lo: float, hi: float) -> tuple[Any, Any]:
    """R's cal.linear / cal.raking / cal.logit: (Fm1(u), dF(u)) with g = 1 + Fm1(u)."""
    if name == "linear":
        return (lambda u: np.clip(u + 1, lo, hi) - 1,
                lambda u: ((u < hi - 1) & (u > lo - 1)).astype(float))
    if name == "raking":
        return (lambda u: np.clip(np.exp(u), lo, hi) - 1,
                lambda u: np.where((u < hi - 1) & (u > lo - 1), np.exp(u), 0.0))
    if name == "logit":
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < 1 < hi:
            fail("weighting.calfun logit needs finite weighting.bounds with lower < 1 < upper.")
        a = (hi - lo) / ((hi - 1) * (1 - lo))
        c = math.log((1 - lo) / (hi - 1))

        # R's (L(U-1) + U(1-L)e^{Au}) / (U-1 + (1-L)e^{Au}) written as L + (U-L) expit(Au + c),
        # the same function without overflow
        def fm1(u: np.ndarray) -> np.ndarray:
            return lo + (hi - lo) * expit(a * u + c) - 1

        def df(u: np.ndarray) -> np.ndarray:
            e = expit(a * u + c)
            return (hi - lo) * a * e * (1 - e)

        return fm1, df
    fail(f"weighting.calfun is {name!r}; use one of {', '.join(CALFUNS)}.")


def _calibration_matrix(prob: _Problem) -> tuple[np.ndarray, np.ndarray]:
    """Cell-level model matrix (intercept + treatment dummies of every margin, R's
    model.matrix(~a + b)) and the population totals of its columns."""
    ncell = len(prob.cell_margin[0])
    cols = [np.ones((ncell, 1))]
    pop = [np.array([prob.total])]
    for cm, tgt in zip(prob.cell_margin, prob.targets, strict=True):
        ind = np.zeros((ncell, len(tgt)))
        ind[np.arange(ncell), cm] = 1.0
        cols.append(ind[:, 1:])
        pop.append(tgt[1:])
    return np.hstack(cols), np.concatenate(pop)


def calibrate(
    data: pd.DataFrame,
    margins: Sequence[Margin],
    design_weight: str | np.ndarray = "design_weight",
    *,
    calfun: str = "raking",
    bounds: tuple[float, float] = (-math.inf, math.inf),
    total: float | None = None,
    tolerance: float = 1e-10,
    max_iterations: int = 50,
    trim_weights: tuple[float, float, bool] | None = None,
    replicate: bool = False,
    problem: _Problem | None = None,
) -> RakeResult:
    """R ``calibrate(svydesign(..., weights = ~design_weight), ~m1 + m2 + ..., population,
    calfun, bounds = c(lo, hi))`` then optionally ``trimWeights(lower, upper, strict)``.

    Newton steps as R's ``grake`` on raking cells (g depends on a row's cell only): with X the
    model matrix, D the design weights and eta the Lagrange multipliers,
    ``g = 1 + F(X eta)``, ``eta += ginv(X' D F'(X eta) X) (T - X' D g)``, stopping when the
    achieved totals are within ``tolerance x total`` (R stops at ``epsilon = 1e-7`` relative).
    ``bounds`` are on g = final / design weight. ``trim_weights=(lower, upper, strict)`` are
    multiples of the mean calibrated weight (R's trimWeights takes absolute values): weights
    outside are set to the bound and the excess shared equally among the others. Not
    covered: R's rescaling when every population total is over 20 x the sample total.
    ``replicate``: `design_weight` is a replicate weight column (zeros allowed; the result's
    ``max_margin_error`` is not measured: NaN). ``problem``:
    the margins already indexed for `data` (:func:`calibrate_replicates` indexes them once).
    """
    design = np.asarray(
        data[design_weight] if isinstance(design_weight, str) else design_weight, dtype=float
    )
    if not replicate:
        _validate_design(design)
    lo, hi = float(bounds[0]), float(bounds[1])
    if not lo < 1 < hi:
        fail(f"weighting.bounds [{lo}, {hi}] must satisfy lower < 1 < upper (g-weights).")
    fm1, dfun = _calfun(calfun, lo, hi)
    prob = _setup(data, margins, design, total) if problem is None else \
        _retotal(problem, design, total)
    xfull, popfull = _calibration_matrix(prob)
    dcell = np.bincount(prob.cell, weights=design, minlength=len(xfull))
    keep = _independent_index(xfull, dcell)
    x, pop = xfull[:, keep], popfull[keep]
    eta = np.zeros(x.shape[1])
    sample = x.T @ dcell
    converged, iterations = False, 0
    for it in range(1, max_iterations + 1):
        iterations = it
        u = x @ eta
        tmat = x.T @ ((dcell * dfun(u))[:, None] * x)
        misfit = pop - sample - x.T @ (dcell * fm1(u))
        if not (np.all(np.isfinite(tmat)) and np.all(np.isfinite(misfit))):
            break
        deta = np.linalg.pinv(tmat, rcond=256 * np.finfo(float).eps) @ misfit
        step = 1.0
        while True:
            g = 1 + fm1(x @ (eta + step * deta))
            if np.all(np.isfinite(g)) or step < 1e-10:
                break
            step /= 2
        eta = eta + step * deta
        misfit = pop - sample - x.T @ (dcell * fm1(x @ eta))
        if np.max(np.abs(misfit)) <= tolerance * prob.total:
            converged = True
            break
    g_cell = 1 + fm1(x @ eta)
    if not converged or np.any(g_cell[dcell > 0] <= 0):
        worst = _worst_margin(design * g_cell[prob.cell], prob.row_idx, prob.margins,
                              prob.total)
        fail(f"Calibration ({calfun}, bounds [{lo}, {hi}]) did not meet the margins after "
             f"{max_iterations} iterations; worst is {worst}. Widen weighting.bounds, collapse "
             f"sparse categories or raise weighting.max_iterations.")
    w = design * g_cell[prob.cell]
    cal = w
    trimmed, rounds = 0, 0
    if trim_weights is not None:
        mean = float(w.sum()) / len(w)
        w, trimmed, rounds = trim_weights_r(w, trim_weights[0] * mean, trim_weights[1] * mean,
                                            strict=trim_weights[2])
    # a replicate's achieved margins are not reported (calibrate_replicates keeps the weights)
    err = math.nan if replicate else _max_error(w, prob.row_idx, prob.targets) / prob.total
    return RakeResult(w, iterations, True, err, prob.total, trimmed, rounds, list(margins),
                      f"calibrate ({calfun})", cal)


def calibrate_replicates(data: pd.DataFrame, margins: Sequence[Margin], rep_weights: np.ndarray,
                         batch: int = 16, **kwargs: Any) -> np.ndarray:
    """R ``calibrate()`` on an ``svyrep.design``: every replicate weight column calibrated to
    the same totals as the full-sample weights (same calfun and bounds). Returns (n x R),
    row-major (the estimation reads rows of replicate weights).

    Each replicate is calibrated from a contiguous column (a transposed view, or copy, of the
    input) into a buffer of `batch` replicates, copied into the result `batch` columns at a
    time: no second (n x R) array, and no strided column per replicate."""
    cols = row_major(np.asarray(rep_weights, dtype=float).T)
    prob = _setup(data, margins, cols[0], kwargs.get("total"))
    nrep, n = cols.shape
    out = np.empty((n, nrep))
    buf = np.empty((min(batch, nrep), n))
    for r0 in range(0, nrep, batch):
        r1 = min(r0 + batch, nrep)
        for r in range(r0, r1):
            buf[r - r0] = calibrate(data, margins, cols[r], replicate=True, problem=prob,
                                    **kwargs).weights
        out[:, r0:r1] = buf[:r1 - r0].T
    return out


def row_major(x: np.ndarray, block: int = 1024) -> np.ndarray:
    """`x` (2-D) as a C-contiguous array: itself if it is one, else a copy made `block` rows at
    a time (both sides stay in cache: ~10x faster than ``np.ascontiguousarray`` on a
    column-major 10^6 x 80 array)."""
    if x.flags.c_contiguous:
        return x
    out = np.empty(x.shape, dtype=x.dtype)
    for r0 in range(0, x.shape[0], block):
        out[r0:r0 + block] = x[r0:r0 + block]
    return out


def _independent_index(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Columns of `x` kept (pivoted QR of sqrt(w) x), in their original order."""
    a = np.sqrt(w)[:, None] * x
    _, r, piv = sla.qr(a, mode="economic", pivoting=True)
    d = np.abs(np.diag(r))
    rank = int(np.sum(d > d[0] * 1e-10)) if len(d) else 0
    return np.sort(piv[:rank])


def trim_weights_r(w: np.ndarray, lower: float, upper: float,
                   strict: bool = False) -> tuple[np.ndarray, int, int]:
    """R ``trimWeights(design, upper, lower, strict)``: clip to [lower, upper], share the amount
    trimmed equally (not in proportion) among the weights that were inside; with `strict`,
    repeat until none is outside. Returns (weights, number trimmed at first pass, passes)."""
    w = np.asarray(w, dtype=float)
    first, passes = 0, 0
    while True:
        outside = (w < lower) | (w > upper)
        if not outside.any() or passes >= 1000:
            return w, first, passes
        if outside.all():
            fail(f"trim_weights [{lower:.6g}, {upper:.6g}] leaves no weight inside the bounds; "
                 f"widen weighting.trim_weights.")
        new = np.clip(w, lower, upper)
        new[~outside] += float((w - new).sum()) / int((~outside).sum())
        first = first or int(outside.sum())
        passes += 1
        w = new
        if not strict:
            return w, first, passes


# --------------------------------------------------------------------------- diagnostics


def kish(weights: np.ndarray) -> dict[str, float]:
    """Kish summaries: n_eff = (Σw)²/Σw², efficiency = n_eff/n, deff = 1 + CV² = n Σw²/(Σw)²."""
    w = np.asarray(weights, dtype=float)
    n = len(w)
    s1, s2 = float(w.sum()), float(np.dot(w, w))
    neff = s1 * s1 / s2
    return {"effective_n": neff, "efficiency": neff / n, "design_effect": n * s2 / (s1 * s1)}


def margin_table(
    data: pd.DataFrame, margins: Sequence[Margin], weights: np.ndarray
) -> list[dict[str, Any]]:
    """Target, unweighted and weighted share of every margin category."""
    rows: list[dict[str, Any]] = []
    total = float(np.sum(weights))
    for m in margins:
        idx = margin_index(data, m)
        unw = np.bincount(idx, minlength=len(m.shares)) / len(idx)
        wtd = np.bincount(idx, weights=weights, minlength=len(m.shares)) / total
        for k, cat in enumerate(m.categories):
            rows.append({
                "variable": m.name, "category": Margin.category_text(cat),
                "label": m.labels[k], "target": float(m.shares[k]),
                "unweighted": float(unw[k]), "weighted": float(wtd[k]),
            })
    return rows


def diagnostics(
    data: pd.DataFrame, margins: Sequence[Margin], result: RakeResult
) -> dict[str, Any]:
    """Weighting diagnostics (docs/data-contract.md, main_diagnostics.json)."""
    w = result.weights
    k = kish(w)
    wmin, wmax = float(w.min()), float(w.max())
    return {
        "n": int(len(w)),
        "sum_weights": float(w.sum()),
        "effective_n": k["effective_n"],
        "efficiency": k["efficiency"],
        "design_effect": k["design_effect"],
        "weight_min": wmin,
        "weight_max": wmax,
        "weight_ratio": wmax / wmin,
        "iterations": int(result.iterations),
        "converged": bool(result.converged),
        "max_margin_error": float(result.max_margin_error),
        "trimmed": int(result.trimmed),
        "trim_rounds": int(result.trim_rounds),
        "method": result.method,
        "margins": margin_table(data, margins, w),
        "sources": {m.name: {"file": m.source, "note": m.note} for m in margins},
    }
