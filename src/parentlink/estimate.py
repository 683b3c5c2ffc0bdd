"""Design-based estimates: domain proportions, Rao–Scott tests and a survey logistic regression.

Design (R's terms): one stage, ``ids = ~1``, no strata, weights ``w`` = the final weight. For the
main survey the weights are treated as CALIBRATED to the raking margins, i.e. R's

    dcal <- calibrate(svydesign(ids = ~1, weights = ~final_weight, data = d),
                      ~sex + age + ..., population = <totals the weights already meet>,
                      calfun = "linear")       # g-weights are 1, only the variance changes

Linearised variance of an estimator with unit influence values ``x_i = w_i z_i``:

    beta = (X'WX)^-1 X'W z            (WLS of z on the margin-indicator matrix X)
    r_i  = w_i (z_i - X_i beta)       (R: qr.resid(qr(X sqrt(w)), x / sqrt(w)) * sqrt(w))
    V    = n/(n-1) * sum_i (r_i - rbar)(r_i - rbar)'

``X`` is intercept + indicator columns of every margin (linearly dependent columns dropped). It
only depends on a respondent's raking *cell*, so every sum over rows is first aggregated to cells
(np.bincount) and the WLS uses the small cell-level matrix. An uncalibrated design (the pilot:
unit weights, SRS) has a single cell and X = intercept, which leaves ratio-estimator influences
unchanged (their weighted sum is already 0) — i.e. plain SRS/with-replacement linearisation.

Domains (subgroups) are estimated on the full design with zero influence outside the domain (no
row is ever dropped): for the proportion of category k in domain d (= group and valid answer),

    p = sum_i w_i d_i y_ik / S,   S = sum_i w_i d_i,   z_i = d_i (y_ik - p) / S.

95% CI (R ``svyciprop(method = "logit")`` in closed form):
``expit(logit p ± t_{df, 0.975} * SE / (p (1 - p)))`` with df = respondents in the domain with a
valid answer - 1. ``deff_kish`` is Kish's weighting design effect within the domain,
``n_d sum w^2 / (sum w)^2``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy import sparse

from parentlink import csvio
from parentlink.design import (
    Replicates,
    Stage,
    Structure,
    build_replicates,
    build_structure,
    cluster_totals_vcov,
    describe,
    replicate_degf_rows,
    spec_from_config,
    structure_vcov,
)
from parentlink.distributions import f_upper, t_quantile, t_upper
from parentlink.errors import fail
from parentlink.weight import (
    Margin,
    calibrate_replicates,
    cell_index,
    margin_index,
    read_margin_files,
    row_major,
)
from parentlink.weights_file import read_weights

ALL_GROUP = ("all", 0, "All respondents")  # the label is "All <report.population>" in a study
ESTIMATE_COLUMNS = [
    "survey", "variable", "variable_label", "category_code", "category", "group_variable",
    "group_code", "group", "base_unweighted", "base_weighted", "estimate", "se", "ci_lower",
    "ci_upper", "suppressed", "deff_kish", "design", "suppressed_reason",
]
TEST_COLUMNS = ["survey", "variable", "group_variable", "chisq", "f", "ndf", "ddf", "p_value", "n"]
GLM_COLUMNS = ["term", "estimate", "se", "t", "p_value", "odds_ratio", "or_lower", "or_upper"]


# --------------------------------------------------------------------------- the design


@dataclass(frozen=True)
class PsuAgg:
    """What the PSU-level path needs: each row's PSU, the calibration weights summed by PSU and
    raking cell, the PSUs as a one-stage structure, and q = d w / m (the weights whose cell sums
    give the projection's right-hand side)."""

    psu: np.ndarray  # (n,) row -> PSU 0..U-1
    m_x: np.ndarray  # (U, p) calibration weights x model matrix, summed by PSU
    structure: Structure  # one stage whose units are the PSUs
    stratum: np.ndarray  # (U,) stratum of each PSU
    q: np.ndarray  # (n,)
    all_positive: bool  # every weight > 0 (rows can be counted without weights)


@dataclass(frozen=True)
class Design:
    """Final weights plus the calibration model (aggregated to raking cells) and, optionally, the
    declared sampling structure (strata, clusters, fpc) or delivered replicate weights.

    ``pweights``: the weights the calibration projection uses (R: the design weights); None =
    the final weights (the "calibrate the final weights, calfun linear" convention).
    ``mweights``: the weights at calibration (R's ``g * d``; differ from `weights` only when
    weights were trimmed after calibrating); None = `weights`.
    """

    weights: np.ndarray  # (n,)
    cell: np.ndarray  # (n,) row -> calibration cell
    xcell: np.ndarray  # (C, p) margin indicator matrix per cell (independent columns)
    chol: tuple[np.ndarray, bool]  # Cholesky factor of X'WX (cho_factor), W = projection weights
    w1_cell: np.ndarray  # (C,) sum of w per cell
    w2_cell: np.ndarray  # (C,) sum of w^2 per cell
    calibrated: bool
    label: str
    structure: Structure | None = None
    pweights: np.ndarray | None = None
    mweights: np.ndarray | None = None
    replicates: Replicates | None = None
    rep_weights: np.ndarray | None = None  # (n, R) final replicate weights (re-calibrated)
    psu_agg: PsuAgg | None = None  # PSU-level sums for one-stage clustered designs (fast path)

    @property
    def n(self) -> int:
        return len(self.weights)

    @property
    def ncell(self) -> int:
        return len(self.w1_cell)

    @property
    def fast(self) -> bool:
        """ids = ~1, no strata, projection with the final weights: the cell-level formulas."""
        return self.structure is None and self.pweights is None and self.replicates is None \
            and self.mweights is None

    def degf(self, mask: np.ndarray | None = None) -> int:
        """R ``degf()`` of the design restricted to `mask` (rows with non-zero weight)."""
        m = self.weights > 0 if mask is None else np.asarray(mask, bool) & (self.weights > 0)
        if self.replicates is not None:
            # R: the stored degf for the whole design; a subset recomputes the rank
            if mask is None or self.rep_weights is None:
                return self.replicates.degf
            return replicate_degf_rows(self.rep_weights, np.flatnonzero(m), self._rep_norm2)
        if self.structure is not None:
            return self.structure.degf(m)
        return int(m.sum()) - 1

    @cached_property
    def _rep_norm2(self) -> np.ndarray | None:
        """Squared norm of each row's replicate weights (domain degf bounds)."""
        return None if self.rep_weights is None else np.einsum("ij,ij->i", self.rep_weights,
                                                               self.rep_weights)


def make_design(
    weights: np.ndarray,
    margin_indices: Sequence[np.ndarray] = (),
    sizes: Sequence[int] = (),
    label: str | None = None,
    *,
    structure: Structure | None = None,
    projection_weights: np.ndarray | None = None,
    calibration_weights: np.ndarray | None = None,
    replicates: Replicates | None = None,
    rep_weights: np.ndarray | None = None,
) -> Design:
    """Build a design from final weights and (optionally) the rows' category in each margin."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or len(w) < 2 or not np.all(np.isfinite(w)) or np.any(w < 0):
        fail("Final weights must be a finite, non-negative column with at least 2 rows.")
    if margin_indices:
        cell, ncell = cell_index(list(margin_indices), list(sizes))
        cell_cat = []
        for ix in margin_indices:
            cc = np.zeros(ncell, dtype=np.int64)
            cc[cell] = ix
            cell_cat.append(cc)
        xfull = _indicator_matrix(cell_cat, sizes)
    else:
        cell = np.zeros(len(w), dtype=np.int64)
        xfull = np.ones((1, 1))
    pw = None if projection_weights is None else np.asarray(projection_weights, dtype=float)
    mw = None if calibration_weights is None else np.asarray(calibration_weights, dtype=float)
    w1 = np.bincount(cell, weights=w, minlength=len(xfull))
    w2 = np.bincount(cell, weights=w * w, minlength=len(xfull))
    p1 = w1 if pw is None else np.bincount(cell, weights=pw, minlength=len(xfull))
    xcell = _independent_columns(xfull, p1)
    chol = sla.cho_factor(xcell.T @ (p1[:, None] * xcell))
    calibrated = bool(margin_indices)
    if label is None:
        label = "calibrated (raking margins)" if calibrated else "unweighted (SRS)"
    if rep_weights is not None:
        rep_weights = np.asarray(rep_weights, dtype=float)
    agg = _psu_agg(w, cell, xcell, structure, pw, mw) if replicates is None else None
    return Design(w, cell, xcell, chol, w1, w2, calibrated, label, structure, pw, mw,
                  replicates, rep_weights, agg)


def _psu_agg(w: np.ndarray, cell: np.ndarray, xcell: np.ndarray, structure: Structure | None,
             pw: np.ndarray | None, mw: np.ndarray | None) -> PsuAgg | None:
    """PSU-level sums when the variance only needs first-stage PSU totals (one stage, or no
    fpc) and PSUs are clusters (at most half as many as rows); None otherwise."""
    if structure is None or (structure.has_fpc and len(structure.stages) > 1):
        return None
    st = structure.stages[0]
    psus, first, psu = np.unique(st.cluster, return_index=True, return_inverse=True)
    if len(psus) * 2 > len(w):
        return None
    psu = psu.reshape(-1)
    m = w if mw is None else mw
    d = w if pw is None else pw
    q = np.divide(d * w, m, out=np.zeros_like(w), where=m > 0)
    m_cell = sparse.csr_matrix((m, (psu, cell)), shape=(len(psus), len(xcell)))
    m_x = np.asarray(m_cell @ xcell)
    stage = Stage(st.stratum[first], np.arange(len(psus)), st.nsamp[first], st.popsize[first])
    return PsuAgg(psu, m_x, Structure((stage,), False, structure.lonely_psu, structure.label,
                                         structure.full_degf), st.stratum[first], q,
                  bool(np.all(w > 0)))


def design_from_margins(
    data: pd.DataFrame, weights: np.ndarray, margins: Sequence[Margin], label: str | None = None,
    **kwargs: Any,
) -> Design:
    """Calibrated design: `weights` (already raked) treated as calibrated to `margins`."""
    idx = [margin_index(data, m) for m in margins]
    return make_design(weights, idx, [len(m.shares) for m in margins], label, **kwargs)


def srs_design(n: int, label: str = "unweighted (SRS)") -> Design:
    """Unit weights, no calibration: simple random sampling formulas."""
    return make_design(np.ones(n), label=label)


def _indicator_matrix(cell_cat: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    ncell = len(cell_cat[0])
    cols = [np.ones((ncell, 1))]
    for cc, size in zip(cell_cat, sizes, strict=True):
        ind = np.zeros((ncell, size))
        ind[np.arange(ncell), cc] = 1.0
        cols.append(ind[:, 1:])
    return np.hstack(cols)


def _independent_columns(x: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """Keep a linearly independent subset of columns (pivoted QR of sqrt(W) X)."""
    a = np.sqrt(w1)[:, None] * x
    _, r, piv = sla.qr(a, mode="economic", pivoting=True)
    d = np.abs(np.diag(r))
    rank = int(np.sum(d > d[0] * 1e-10)) if len(d) else 0
    return x[:, np.sort(piv[:rank])]


def _eta(design: Design, cell_wz: np.ndarray) -> np.ndarray:
    """Fitted values X_c beta per cell for influence sums ``cell_wz`` (C, m) = sum_c w z."""
    beta = sla.cho_solve(design.chol, design.xcell.T @ cell_wz)
    return design.xcell @ beta


def _onehot(design: Design) -> sparse.csr_matrix:
    return sparse.csr_matrix(
        (np.ones(design.n), (np.arange(design.n), design.cell)), shape=(design.n, design.ncell)
    )


def project(design: Design, x: np.ndarray) -> np.ndarray:
    """Calibration residuals of weighted influence values `x` (n x m), R's
    ``qr.resid(qr(X sqrt(d)), x / (g sqrt(d))) * g sqrt(d)``: with m = g d (the calibrated
    weights) and u = x / m, ``r = x - m X beta``, ``beta = (X'DX)^-1 X'D u``."""
    if not design.calibrated:
        return x
    m = design.weights if design.mweights is None else design.mweights
    d = design.weights if design.pweights is None else design.pweights
    u = np.divide(x, m[:, None], out=np.zeros_like(x), where=m[:, None] > 0)
    eta = _eta(design, np.asarray(_onehot(design).T @ (d[:, None] * u)))
    return x - m[:, None] * eta[design.cell]


def linearised_vcov(design: Design, z: np.ndarray) -> np.ndarray:
    """Covariance of estimators with unit influence values `z` (n x m, per unit weight).

    r = calibration residuals of w z (:func:`project`); then R's ``svyrecvar`` on the declared
    strata/clusters/fpc (:func:`parentlink.design.structure_vcov`) or, with none declared,
    n/(n-1) sum (r - rbar)(r - rbar)'. Not for replicate designs (see the estimators).
    """
    z = np.asarray(z, dtype=float).reshape(design.n, -1)
    r = project(design, design.weights[:, None] * z)
    if design.structure is not None:
        return structure_vcov(design.structure, r)
    r = r - r.mean(axis=0)
    return design.n / (design.n - 1) * (r.T @ r)


def _rep_vcov(design: Design, estimator: Any, theta: np.ndarray) -> np.ndarray:
    """Replicate covariance of ``estimator(weights) -> (m,)`` (R ``svrVar``)."""
    assert design.replicates is not None and design.rep_weights is not None
    reps = np.array([estimator(design.rep_weights[:, r])
                     for r in range(design.rep_weights.shape[1])])
    return design.replicates.vcov(theta, reps)


def survey_mean(
    design: Design, y: np.ndarray, domain: np.ndarray | None = None
) -> tuple[float, float]:
    """R ``svymean(~y, subset(design, domain))``: weighted mean of numeric `y` in `domain`
    (bool mask, on the full design) and its SE (linearised or replicate)."""
    d = np.ones(design.n, dtype=bool) if domain is None else np.asarray(domain, dtype=bool)
    yy = np.where(d, np.asarray(y, dtype=float), 0.0)

    def est(w: np.ndarray) -> np.ndarray:
        wd = w * d
        return np.array([np.dot(wd, yy) / wd.sum()])

    mean = float(est(design.weights)[0])
    if design.replicates is not None:
        return mean, float(np.sqrt(_rep_vcov(design, est, np.array([mean]))[0, 0]))
    s = (design.weights * d).sum()
    z = d * (yy - mean) / s
    return mean, float(np.sqrt(linearised_vcov(design, z)[0, 0]))


def survey_total(
    design: Design, y: np.ndarray, domain: np.ndarray | None = None
) -> tuple[float, float]:
    """R ``svytotal(~y, subset(design, domain))``: sum w y over the domain and its SE."""
    d = np.ones(design.n, dtype=bool) if domain is None else np.asarray(domain, dtype=bool)
    yy = np.where(d, np.asarray(y, dtype=float), 0.0)

    def est(w: np.ndarray) -> np.ndarray:
        return np.array([np.dot(w, yy)])

    total = float(est(design.weights)[0])
    if design.replicates is not None:
        return total, float(np.sqrt(_rep_vcov(design, est, np.array([total]))[0, 0]))
    return total, float(np.sqrt(linearised_vcov(design, yy)[0, 0]))


# --------------------------------------------------------------------------- coding variables


@dataclass(frozen=True)
class Coding:
    """A categorical variable coded for estimation.

    ``index``: row -> 0..K-1 for base (valid) codes, K for outside the base.
    ``codes``: the K base codes; ``reported``: positions of the codes with labels to report.
    """

    name: str
    label: str
    index: np.ndarray
    codes: list[int | float]
    labels: list[str]
    reported: list[int]

    @property
    def k(self) -> int:
        return len(self.codes)


def _code(value: Any) -> int | float:
    """A category code as a number: '8' and 8.0 -> 8, '1.5' -> 1.5 (whole codes are ints)."""
    f = float(value)
    return int(f) if f.is_integer() else f


def _meta_var(meta: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    variables = meta.get("variables", {})
    if name not in variables:
        fail(f"Variable {name} is not described in the survey's meta.json; fix analysis config.")
    return variables[name]


def code_variable(data: pd.DataFrame, meta: Mapping[str, Any], name: str,
                  groups_only: bool = False) -> Coding:
    """Base = non-null and not in exclude_from_base; reported = labelled base codes.

    With ``groups_only`` (breakdowns) the base is the reported codes only.
    """
    if name not in data.columns:
        fail(f"Variable {name} from the analysis config is not a column of the clean data.")
    info = _meta_var(meta, name)
    excl = {_code(c) for c in info.get("exclude_from_base", []) or []}
    vlab = {_code(k): str(v) for k, v in (info.get("value_labels") or {}).items()}
    labelled = sorted(c for c in vlab if c not in excl)
    col = data[name]
    # Codes exactly as delivered: 1.5 "Middle" stays 1.5 (never truncated to 1).
    present = [_code(c) for c in pd.unique(col.dropna().astype("float64"))]
    extra = [] if groups_only else sorted(c for c in present if c not in excl and c not in vlab)
    codes = labelled + extra
    values = col.to_numpy(dtype="float64", na_value=np.nan)
    index = np.full(len(col), len(codes), dtype=np.int64)
    for i, c in enumerate(codes):
        index[values == c] = i
    labels = [vlab.get(c, str(c)) for c in codes]
    return Coding(name, str(info.get("label", name)), index, codes, labels,
                  list(range(len(labelled))))


def all_coding(n: int, label: str = ALL_GROUP[2]) -> Coding:
    """The whole sample as one group, labelled `label` ("All schools")."""
    return Coding(ALL_GROUP[0], label, np.zeros(n, dtype=np.int64), [ALL_GROUP[1]],
                  [label], [0])


# --------------------------------------------------------------------------- domain proportions


@dataclass
class CellTab:
    """Weighted crosstabs cell x item category x group (last slots: outside base / no group)."""

    a1: np.ndarray  # (C, K+1, G+1) sum w
    a2: np.ndarray  # (C, K+1, G+1) sum w^2
    count: np.ndarray  # (K+1, G+1) respondents
    y: np.ndarray | None = None  # row -> item index (K: outside the base)
    g: np.ndarray | None = None  # row -> group index (G: no group; G+1: everyone)
    all_appended: bool = False  # the last group slot is the whole sample (with_all_group)


def crosstab(design: Design, y: np.ndarray, k: int, g: np.ndarray, ng: int) -> CellTab:
    """Aggregate rows to (cell, item index 0..k, group index 0..ng) with two weighted bincounts."""
    yg = y * (ng + 1) + g
    code = design.cell * ((k + 1) * (ng + 1)) + yg
    size = design.ncell * (k + 1) * (ng + 1)
    w = design.weights
    shape = (design.ncell, k + 1, ng + 1)
    a1 = np.bincount(code, weights=w, minlength=size).reshape(shape)
    a2 = np.bincount(code, weights=w * w, minlength=size).reshape(shape)
    cnt = np.bincount(yg, minlength=(k + 1) * (ng + 1)).reshape(k + 1, ng + 1)
    return CellTab(a1, a2, cnt, np.asarray(y), np.asarray(g))


def with_all_group(tab: CellTab) -> CellTab:
    """Append the whole sample as an extra group (sum over all groups and 'no group')."""
    return CellTab(
        np.concatenate([tab.a1, tab.a1.sum(axis=2, keepdims=True)], axis=2),
        np.concatenate([tab.a2, tab.a2.sum(axis=2, keepdims=True)], axis=2),
        np.concatenate([tab.count, tab.count.sum(axis=1, keepdims=True)], axis=1),
        tab.y, tab.g, True,
    )


@dataclass
class DomainProps:
    """Arrays (K, G) for valid categories x groups (groups exclude the 'no group' slot)."""

    p: np.ndarray
    se: np.ndarray
    count: np.ndarray
    base_unweighted: np.ndarray  # (G,)
    base_weighted: np.ndarray  # (G,)
    deff_kish: np.ndarray  # (G,)
    df: np.ndarray | None = None  # (G,) R degf of each domain; None: base_unweighted - 1


def domain_proportions(design: Design, tab: CellTab, groups: Sequence[int]) -> DomainProps:
    """Proportions and calibrated linearised SEs for every category x group, vectorised.

    Within a cell every row has the same X_i beta = eta, and z takes one of three values
    (a = (1-p)/S in category, b = -p/S elsewhere in the domain, 0 outside), so

        sum r^2 = sum_c A2_c (a - eta_c)^2 + (D2_c - A2_c)(b - eta_c)^2 + (N2_c - D2_c) eta_c^2

    with A2, D2, N2 the sums of w^2 in the category, the domain and the cell: exact, no
    cancellation, and one WLS solve for all K x G influence columns.
    """
    if design.psu_agg is not None:
        return _domain_proportions_psu(design, tab, groups)
    if not design.fast:
        return _domain_proportions_general(design, tab, groups)
    gi = np.asarray(groups)
    a1 = tab.a1[:, :-1, :][:, :, gi]
    a2 = tab.a2[:, :-1, :][:, :, gi]
    cnt = tab.count[:-1, :][:, gi]
    ncell, k, g = a1.shape
    d1, d2 = a1.sum(axis=1), a2.sum(axis=1)  # (C, G)
    s = d1.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = a1.sum(axis=0) / s
        inv_s = np.where(s > 0, 1.0 / s, 0.0)
    p0 = np.nan_to_num(p)
    cell_wz = (a1 - d1[:, None, :] * p0) * inv_s
    eta = _eta(design, cell_wz.reshape(ncell, k * g)).reshape(ncell, k, g)
    a, b = (1 - p0) * inv_s, -p0 * inv_s
    n1 = design.w1_cell[:, None, None]
    n2 = design.w2_cell[:, None, None]
    sr2 = (a2 * (a - eta) ** 2 + (d2[:, None, :] - a2) * (b - eta) ** 2
           + (n2 - d2[:, None, :]) * eta**2).sum(axis=0)
    sr = (a1 * (a - eta) + (d1[:, None, :] - a1) * (b - eta) - (n1 - d1[:, None, :]) * eta
          ).sum(axis=0)
    n = design.n
    var = np.maximum(n / (n - 1) * (sr2 - sr * sr / n), 0.0)
    se = np.where(s > 0, np.sqrt(var), np.nan)
    base_u = cnt.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = base_u * d2.sum(axis=0) / (s * s)
    return DomainProps(p, se, cnt, base_u, s, deff)


def _domain_masks(tab: CellTab, groups: Sequence[int]) -> np.ndarray:
    """(n, G) membership of each requested group slot (the last slot of a tab with the
    whole-sample group appended is everyone)."""
    assert tab.y is not None and tab.g is not None
    everyone = tab.a1.shape[2] - 1 if tab.all_appended else -1
    return np.column_stack([np.ones(len(tab.g), dtype=bool) if j == everyone else tab.g == j
                            for j in groups])


def _domain_proportions_general(design: Design, tab: CellTab,
                                groups: Sequence[int]) -> DomainProps:
    """Row-level path for declared designs (strata/clusters/fpc, projection with the design
    weights) and replicate designs: z_i = d_i (y_ik - p) / S on the full design."""
    assert tab.y is not None
    gi = np.asarray(groups)
    k = tab.a1.shape[1] - 1
    cnt = tab.count[:-1, :][:, gi]
    valid = tab.y < k
    dom = _domain_masks(tab, groups) & valid[:, None]  # (n, G)
    yk = np.zeros((design.n, k))
    yk[np.flatnonzero(valid), tab.y[valid]] = 1.0

    def props(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sums = yk.T @ (dom * w[:, None])  # (K, G)
        tot = sums.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums / tot, tot

    p, s = props(design.weights)
    p0 = np.nan_to_num(p)
    g = len(gi)
    if design.replicates is not None:
        pr = _rep_props(design, tab, groups)  # (R, K, G)
        reps = design.replicates
        centre = p0 if reps.mse else pr.mean(axis=0)
        var = reps.scale * np.einsum("r,rkg->kg", reps.rscales, (pr - centre) ** 2)
        df = np.array([design.degf(dom[:, j]) for j in range(g)])
    else:
        inv_s = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), 0.0)
        z = (yk[:, :, None] - p0[None, :, :]) * (dom * inv_s)[:, None, :]  # (n, K, G)
        var = _vcov_diag(design, z.reshape(design.n, k * g)).reshape(k, g)
        if design.structure is not None:
            df = np.array([design.structure.degf(dom[:, j] & (design.weights > 0))
                           for j in range(g)])
        else:
            df = (dom & (design.weights > 0)[:, None]).sum(axis=0) - 1
    se = np.where(s > 0, np.sqrt(np.maximum(var, 0.0)), np.nan)
    w = design.weights
    base_u = cnt.sum(axis=0)
    d2 = (dom * (w * w)[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = base_u * d2 / (s * s)
    return DomainProps(p, se, cnt, base_u, s, deff, df)


def _psu_props(design: Design, y: np.ndarray, k: int, g: np.ndarray, ng: int,
               groups: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Domain proportions and the PSU totals of their calibration residuals, from crosstabs.

    Rows: ``y`` in 0..k (k: outside the base), ``g`` in 0..ng (ng: no group); group slot ng+1 is
    everyone. Returns p (K, G), S (G,), T (U, K*G), rows (U, G) (> 0 where the PSU has rows of
    non-zero weight in the domain); see :func:`_psu_props_from`.
    """
    agg = design.psu_agg
    assert agg is not None
    gi = list(groups)

    yg = y * (ng + 1) + g
    span = (k + 1) * (ng + 1)

    def tab(index: np.ndarray, size: int, wts: np.ndarray | None,
            code: np.ndarray | None = None) -> np.ndarray:
        code = index * span + yg if code is None else code
        t = np.bincount(code, weights=wts, minlength=size * span).astype(float)
        t = t.reshape(size, k + 1, ng + 1)
        t = np.concatenate([t, t.sum(axis=2, keepdims=True)], axis=2)
        return t[:, :k, :][:, :, gi]

    w = design.weights
    u = agg.m_x.shape[0]
    psu_code = agg.psu * span + yg
    a = tab(agg.psu, u, w, psu_code)
    qa = tab(design.cell, design.ncell, agg.q) if design.calibrated else None
    positive = None if agg.all_positive else (w > 0).astype(float)
    rows = a if agg.all_positive else tab(agg.psu, u, positive, psu_code)
    return _psu_props_from(design, a, qa, rows.sum(axis=1))


def _psu_props_from(design: Design, a: np.ndarray, qa: np.ndarray | None, rows: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The PSU-level formulas on crosstabs: ``a`` (U, K, G) sums of w by PSU, valid category and
    domain; ``qa`` (C, K, G) sums of q by raking cell (None: not calibrated); ``rows`` (U, G).

    For category k' of domain j with S = domain total: the PSU total of x = w z is
    ``(A_u - D_u p) / S`` (A, D: sums of w in the PSU for the category and the domain); the
    projection subtracts ``M_uc eta_c`` with M the PSU x cell sums of the calibration weights and
    eta from the cell sums of q z (q = d w / m), exactly as :func:`project` does row by row.
    """
    agg = design.psu_agg
    assert agg is not None
    u = a.shape[0]
    d1 = a.sum(axis=1)
    s = a.sum(axis=(0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = a.sum(axis=0) / s
    p0 = np.nan_to_num(p)
    inv = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), 0.0)
    t = ((a - d1[:, None, :] * p0) * inv).reshape(u, -1)
    if qa is not None:
        qs = (qa - qa.sum(axis=1)[:, None, :] * p0) * inv
        beta = sla.cho_solve(design.chol, design.xcell.T @ qs.reshape(design.ncell, -1))
        t = t - agg.m_x @ beta
    return p, s, t, rows


def _domain_proportions_psu(design: Design, tab: CellTab, groups: Sequence[int]) -> DomainProps:
    """One-stage clustered designs at 10^6 rows: everything from PSU-level crosstabs."""
    agg = design.psu_agg
    assert agg is not None and tab.y is not None and tab.g is not None
    k = tab.a1.shape[1] - 1
    ng = tab.a1.shape[2] - 1 - int(tab.all_appended)
    gi = np.asarray(groups)
    return _psu_domain_props(design, _psu_props(design, tab.y, k, tab.g, ng, groups),
                             tab.count[:-1, :][:, gi],
                             tab.a2[:, :-1, :][:, :, gi].sum(axis=(0, 1)))


def _psu_domain_props(design: Design, props: tuple[np.ndarray, ...], cnt: np.ndarray,
                      d2: np.ndarray) -> DomainProps:
    """DomainProps from :func:`_psu_props_from`'s output, the respondents per category x domain
    (K, G) and each domain's sum of w^2 (G,)."""
    agg = design.psu_agg
    assert agg is not None
    p, s, t, rows = props
    k, g = p.shape
    v = cluster_totals_vcov(agg.structure, t)
    var = np.diag(v).reshape(k, g)
    se = np.where(s > 0, np.sqrt(np.maximum(var, 0.0)), np.nan)
    df = np.array([int((rows[:, j] > 0).sum()) - len(np.unique(agg.stratum[rows[:, j] > 0]))
                   for j in range(g)])
    base_u = cnt.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = base_u * d2 / (s * s)
    return DomainProps(p, se, cnt, base_u, s, deff, df)


def _rep_props(design: Design, tab: CellTab, groups: Sequence[int]) -> np.ndarray:
    """Domain proportions under every replicate weight (R, K, G), from one sparse crosstab of
    the replicate weights by item category x group slot."""
    assert tab.y is not None and tab.g is not None and design.rep_weights is not None
    k = tab.a1.shape[1] - 1
    ng = tab.a1.shape[2] - 1 - int(tab.all_appended)
    code = tab.y * (ng + 1) + tab.g
    onehot = sparse.csr_matrix((np.ones(design.n), (code, np.arange(design.n))),
                               shape=((k + 1) * (ng + 1), design.n))
    a = np.asarray(onehot @ design.rep_weights).reshape(k + 1, ng + 1, -1)
    a = np.concatenate([a, a.sum(axis=1, keepdims=True)], axis=1)[:k][:, list(groups), :]
    with np.errstate(invalid="ignore", divide="ignore"):
        pr = a / a.sum(axis=0, keepdims=True)
    return np.nan_to_num(pr).transpose(2, 0, 1)


def _vcov_diag(design: Design, z: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Diagonal of :func:`linearised_vcov`, a chunk of columns at a time."""
    out = np.empty(z.shape[1])
    for a in range(0, z.shape[1], chunk):
        out[a:a + chunk] = np.diag(linearised_vcov(design, z[:, a:a + chunk]))
    return out


def logit_ci(p: np.ndarray, se: np.ndarray, df: np.ndarray,
             level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """R svyciprop(method="logit"): expit(logit p ± t_df se / (p (1 - p))).

    p = 0 or 1 (se = 0) gives the degenerate interval [p, p]; df < 1 gives NaN.
    """
    p, se, df = np.broadcast_arrays(np.asarray(p, float), np.asarray(se, float),
                                    np.asarray(df, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = t_quantile(0.5 + level / 2, np.where(df >= 1, df, np.nan))
        interior = (p > 0) & (p < 1)
        pc = np.clip(p, 1e-300, 1 - 1e-16)
        half = t * se / (pc * (1 - pc))
        lg = np.log(pc / (1 - pc))
        lo = np.where(interior, 1 / (1 + np.exp(-(lg - half))), p)
        hi = np.where(interior, 1 / (1 + np.exp(-(lg + half))), p)
    bad = ~np.isfinite(t)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _rows_for(survey: str, item: Coding, grp: Coding, groups: Sequence[int],
              res: DomainProps, design: Design) -> list[dict[str, Any]]:
    df = res.base_unweighted - 1 if res.df is None else res.df
    lo, hi = logit_ci(res.p, res.se, np.asarray(df)[None, :])
    rows = []
    for j, gpos in enumerate(groups):
        for kpos in item.reported:
            rows.append({
                "survey": survey, "variable": item.name, "variable_label": item.label,
                "category_code": item.codes[kpos], "category": item.labels[kpos],
                "group_variable": grp.name, "group_code": grp.codes[gpos],
                "group": grp.labels[gpos],
                "base_unweighted": int(res.base_unweighted[j]),
                "base_weighted": float(res.base_weighted[j]),
                "estimate": float(res.p[kpos, j]), "se": float(res.se[kpos, j]),
                "ci_lower": float(lo[kpos, j]), "ci_upper": float(hi[kpos, j]),
                "suppressed": False, "deff_kish": float(res.deff_kish[j]),
                "design": design.label, "suppressed_reason": "",
                "cell_count": int(res.count[kpos, j]),
            })
    return rows


def estimate_table(
    data: pd.DataFrame,
    meta: Mapping[str, Any],
    design: Design,
    items: Sequence[str],
    breakdowns: Sequence[str],
    survey: str,
    all_label: str = ALL_GROUP[2],
) -> pd.DataFrame:
    """Tidy estimates (docs/data-contract.md) plus ``cell_count`` (drop it before publishing).
    The whole-sample rows' group is `all_label` ("All parents", "All schools").

    Order: items as configured; per item the whole sample, then each breakdown as configured;
    groups and categories by code.
    """
    _check_rows(data, design)
    groupings = [code_variable(data, meta, b, groups_only=True) for b in breakdowns]
    rows: list[dict[str, Any]] = []
    for name in items:
        item = code_variable(data, meta, name)
        if not item.reported:
            fail(f"Item {name} has no labelled categories outside exclude_from_base in meta.json.")
        tabs = _item_tabs(design, item, groupings)
        rows += _rows_for(survey, item, all_coding(design.n, all_label), [0],
                          domain_proportions(design, tabs[0], [tabs[0].a1.shape[2] - 1]), design)
        # Without breakdowns the one crosstab is the whole sample's only.
        for grp, tab in zip(groupings, tabs if groupings else [], strict=True):
            groups = list(range(grp.k))
            rows += _rows_for(survey, item, grp, groups, domain_proportions(design, tab, groups),
                              design)
    return _estimate_frame(rows)


def _estimate_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=[*ESTIMATE_COLUMNS, "cell_count"])
    if any(isinstance(r["category_code"], float) for r in rows):
        # A non-integer code anywhere: keep every code as delivered ("1", "1.5"), not as floats.
        table["category_code"] = pd.Series([r["category_code"] for r in rows], dtype=object)
    return table


def _item_tabs(design: Design, item: Coding, groupings: Sequence[Coding]) -> list[CellTab]:
    """One crosstab per breakdown; the first also carries the whole-sample group."""
    if not groupings:
        zero = np.zeros(design.n, dtype=np.int64)
        return [with_all_group(crosstab(design, item.index, item.k, zero, 0))]
    tabs = [crosstab(design, item.index, item.k, grp.index, grp.k) for grp in groupings]
    tabs[0] = with_all_group(tabs[0])
    return tabs


def _check_rows(data: pd.DataFrame, design: Design) -> None:
    if len(data) != design.n:
        fail("The weights file and the clean data have different respondents; rerun weighting.")


# --------------------------------------------------------------------------- Rao–Scott test


def rao_scott(design: Design, item: Coding, grp: Coding) -> dict[str, float]:
    """R ``svychisq(~item + group, design)`` (statistic = "F"), excluded codes as NA.

    On the domain of respondents valid on both: p = joint proportions (item fastest), V their
    calibrated linearised covariance, C the interaction contrasts orthogonal to the main effects
    (R: qr.resid(qr(X1), X12[, -(1:(r+c-1))])), D = diag(p),

        Delta = (C' D^-1 C / N)^-1 C' D^-1 V D^-1 C,   F = X^2 / tr(Delta),
        ndf = d0 = tr(Delta)^2 / tr(Delta^2),   ddf = d0 * (n - 1),

    X^2 the Pearson statistic of the weighted table scaled to N (F and d0 do not depend on N; R
    uses N = rows of the design, and nu = n - 1 from the whole design). Reported ``chisq`` is X^2
    with the table scaled to the domain's unweighted n. Categories with no respondents in the
    domain are dropped (R would return NaN for such a table).
    """
    tab = crosstab(design, item.index, item.k, grp.index, grp.k)
    a1 = tab.a1[:, :-1, :-1]
    a2 = tab.a2[:, :-1, :-1]
    cnt = tab.count[:-1, :-1]
    rows_ok = cnt.sum(axis=1) > 0
    cols_ok = cnt.sum(axis=0) > 0
    a1, a2, cnt = a1[:, rows_ok][:, :, cols_ok], a2[:, rows_ok][:, :, cols_ok], \
        cnt[rows_ok][:, cols_ok]
    nr, nc = cnt.shape
    n_dom = int(cnt.sum())
    if nr < 2 or nc < 2:
        return {"chisq": np.nan, "f": np.nan, "ndf": np.nan, "ddf": np.nan, "p_value": np.nan,
                "n": n_dom}
    ncell = a1.shape[0]
    if design.fast:
        # joint columns with the item index fastest, as R's interaction(rows, cols)
        j1 = a1.transpose(0, 2, 1).reshape(ncell, nr * nc)
        j2 = a2.transpose(0, 2, 1).reshape(ncell, nr * nc)
        p, v = _joint_cov(design, j1, j2)
    elif design.psu_agg is not None:
        p, v = _joint_cov_psu(design, item, grp, rows_ok, cols_ok)
    else:
        p, v = _joint_cov_general(design, item, grp, rows_ok, cols_ok)
    return _rao_scott_result(design, p, v, nr, nc, n_dom)


def _rao_scott_result(design: Design, p: np.ndarray, v: np.ndarray, nr: int, nc: int,
                      n_dom: int) -> dict[str, float]:
    """The test from joint proportions `p` (item fastest) and their covariance `v`."""
    f, d0, x2 = _rao_scott_f(p.reshape(nc, nr).T, v, design.n)
    ddf = d0 * _chisq_degf(design)
    return {"chisq": x2 * n_dom / design.n, "f": f, "ndf": d0, "ddf": ddf,
            "p_value": f_upper(f, d0, ddf), "n": n_dom}


def _joint_cov(design: Design, j1: np.ndarray, j2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Proportions over joint categories and their calibrated covariance (cell-level sums)."""
    dv1 = j1.sum(axis=1)
    s = dv1.sum()
    p = j1.sum(axis=0) / s
    m = len(p)
    zmat = (np.eye(m) - p[None, :]) / s  # z value of a respondent in joint category j, column a
    eta = _eta(design, (j1 - dv1[:, None] * p[None, :]) / s)
    n1, n2 = design.w1_cell, design.w2_cell
    q = zmat.T @ (j2.T @ eta)
    rr = zmat.T @ (j2.sum(axis=0)[:, None] * zmat) - q - q.T + eta.T @ (n2[:, None] * eta)
    sr = (j1.sum(axis=0) @ zmat) - (n1 @ eta)
    n = design.n
    return p, n / (n - 1) * (rr - np.outer(sr, sr) / n)


def _chisq_degf(design: Design) -> int:
    """R svychisq's nu: first-stage clusters minus strata of the whole design (all rows)."""
    if design.replicates is not None:
        return design.replicates.degf
    if design.structure is not None:
        return design.structure.degf()
    return design.n - 1


def _joint_codes(item: Coding, grp: Coding, rows_ok: np.ndarray,
                 cols_ok: np.ndarray) -> tuple[np.ndarray, int]:
    """Row -> joint category (item fastest) over the kept categories, m outside the domain."""
    rmap = np.full(item.k + 1, -1)
    rmap[np.flatnonzero(rows_ok)] = np.arange(int(rows_ok.sum()))
    cmap = np.full(grp.k + 1, -1)
    cmap[np.flatnonzero(cols_ok)] = np.arange(int(cols_ok.sum()))
    r, c = rmap[item.index], cmap[grp.index]
    m = int(rows_ok.sum()) * int(cols_ok.sum())
    return np.where((r >= 0) & (c >= 0), r + int(rows_ok.sum()) * c, m), m


def _joint_cov_psu(design: Design, item: Coding, grp: Coding, rows_ok: np.ndarray,
                   cols_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    assert design.psu_agg is not None
    joint, m = _joint_codes(item, grp, rows_ok, cols_ok)
    p, _, t, _ = _psu_props(design, joint, m, np.zeros(design.n, dtype=np.int64), 0, [0])
    return p[:, 0], structure_vcov(design.psu_agg.structure, t)


def _joint_cov_general(design: Design, item: Coding, grp: Coding, rows_ok: np.ndarray,
                       cols_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint proportions (item fastest) over the kept categories and their covariance, row
    level: linearised on the declared design, or from the replicates."""
    joint, m = _joint_codes(item, grp, rows_ok, cols_ok)
    dom = joint < m
    onehot = sparse.csr_matrix((np.ones(design.n), (joint, np.arange(design.n))),
                               shape=(m + 1, design.n))
    t = np.asarray(onehot @ design.weights)[:m]
    p = t / t.sum()
    if design.replicates is not None and design.rep_weights is not None:
        tr = np.asarray(onehot @ design.rep_weights)[:m]
        return p, design.replicates.vcov(p, (tr / tr.sum(axis=0)).T)
    jm = np.zeros((design.n, m))
    jm[np.flatnonzero(dom), joint[dom]] = 1.0
    s = float((design.weights * dom).sum())
    z = (jm - p[None, :]) * (dom / s)[:, None]
    return p, linearised_vcov(design, z)


def _rao_scott_f(ptab: np.ndarray, v: np.ndarray, n: int) -> tuple[float, float, float]:
    nr, nc = ptab.shape
    rows = np.tile(np.arange(nr), nc)
    cols = np.repeat(np.arange(nc), nr)
    x1 = np.column_stack([np.ones(nr * nc)] + [(rows == i).astype(float) for i in range(1, nr)]
                         + [(cols == j).astype(float) for j in range(1, nc)])
    inter = np.column_stack([((rows == i) & (cols == j)).astype(float)
                             for j in range(1, nc) for i in range(1, nr)])
    coef, *_ = np.linalg.lstsq(x1, inter, rcond=None)
    cmat = inter - x1 @ coef
    mean2 = ptab.T.ravel()
    idiag = np.where(mean2 == 0, 0.0, 1.0 / np.where(mean2 == 0, 1.0, mean2))
    denom = cmat.T @ (idiag[:, None] / n * cmat)
    numr = (cmat * idiag[:, None]).T @ v @ (idiag[:, None] * cmat)
    delta = np.linalg.solve(denom, numr)
    tr = float(np.trace(delta))
    d0 = tr * tr / float(np.trace(delta @ delta))
    expected = np.outer(ptab.sum(axis=1), ptab.sum(axis=0))
    x2 = n * float(np.sum((ptab - expected) ** 2 / expected))
    return x2 / tr, d0, x2


def tests_table(
    data: pd.DataFrame, meta: Mapping[str, Any], design: Design, items: Sequence[str],
    breakdowns: Sequence[str], survey: str,
) -> pd.DataFrame:
    """Rao–Scott F test for every item x breakdown (results/tables/{survey}_tests.csv)."""
    _check_rows(data, design)
    groupings = [code_variable(data, meta, b, groups_only=True) for b in breakdowns]
    rows = []
    for name in items:
        item = code_variable(data, meta, name)
        for grp in groupings:
            rows.append({"survey": survey, "variable": name, "group_variable": grp.name,
                         **rao_scott(design, item, grp)})
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


# --------------------------------------------------------------------------- both tables at once


def estimates_and_tests(
    data: pd.DataFrame,
    meta: Mapping[str, Any],
    design: Design,
    items: Sequence[str],
    breakdowns: Sequence[str],
    survey: str,
    all_label: str = ALL_GROUP[2],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`estimate_table` and :func:`tests_table` in one pass over the rows per item.

    One-stage clustered designs (the PSU path) build, per item, the crosstabs of every breakdown
    at once (:class:`_PsuBatch`: one weighted count over rows x breakdowns by PSU, one by raking
    cell) and read both the domain proportions and the Rao–Scott joint tables from them: the same
    sums as the two functions, in the same order. Replicate designs (all weights positive) sum
    every replicate weight by item category x breakdown group for all items at once (dense
    products per group over chunks of rows, :class:`_RepBatch`; equal to the separate functions
    to rounding). Other designs call the two
    functions.
    """
    replicated = design.replicates is not None and design.rep_weights is not None \
        and bool(np.all(design.weights > 0))
    if design.psu_agg is None and not replicated:
        return (estimate_table(data, meta, design, items, breakdowns, survey, all_label),
                tests_table(data, meta, design, items, breakdowns, survey))
    _check_rows(data, design)
    groupings = [code_variable(data, meta, b, groups_only=True) for b in breakdowns]
    batch: _PsuBatch | _RepBatch = (_PsuBatch(design, groupings) if design.psu_agg is not None
                                    else _RepBatch(design, groupings))
    rows: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    codings: list[Coding] = []
    if isinstance(batch, _RepBatch):  # every item's replicate sums in one pass over the rows
        codings = [_reported(code_variable(data, meta, name)) for name in items]
        batch.prepare(codings)
    for pos, name in enumerate(items):
        item = codings[pos] if codings else _reported(code_variable(data, meta, name))
        tabs = (batch.tabs(item.index, item.k, pos) if isinstance(batch, _RepBatch)
                else batch.tabs(item.index, item.k))
        rows += _rows_for(survey, item, all_coding(design.n, all_label), [0],
                          batch.everyone(tabs, item.k), design)
        for b, grp in enumerate(groupings):
            rows += _rows_for(survey, item, grp, list(range(grp.k)),
                              batch.domains(tabs, item.k, b), design)
            tests.append({"survey": survey, "variable": name, "group_variable": grp.name,
                          **batch.rao_scott(tabs, item.k, b)})
    return _estimate_frame(rows), pd.DataFrame(tests, columns=TEST_COLUMNS)


def _reported(item: Coding) -> Coding:
    if not item.reported:
        fail(f"Item {item.name} has no labelled categories outside exclude_from_base in "
             f"meta.json.")
    return item


@dataclass
class _ItemTabs:
    """One item's crosstabs against every breakdown slot (T = all breakdowns' slots)."""

    a: np.ndarray  # (U, K+1, T) sum of w by PSU
    qa: np.ndarray | None  # (C, K+1, T) sum of q by raking cell (None: not calibrated)
    rows: np.ndarray  # (U, K+1, T) > 0 where the PSU has rows of non-zero weight
    cnt: np.ndarray  # (K+1, T) respondents
    a2: np.ndarray  # (K+1, T) sum of w^2


def _as_picked(x: np.ndarray) -> np.ndarray:
    """`x` (U, K, G) in the memory layout :func:`_psu_props` gives its crosstabs (picked by a
    list of groups), so that sums over them add in the same order: results equal to the bit."""
    u, k, g = x.shape
    buf = np.empty((u, k + 1, g + 1))
    buf[:, :k, :g] = x
    return buf[:, :k, :][:, :, list(range(g))]


def _slots(design: Design, groupings: Sequence[Coding]
           ) -> tuple[list[int], list[int], int, np.ndarray]:
    """Every breakdown's group codes side by side: the slots per breakdown (its groups and one
    for no group), their offsets, the number of slots and each row's slot per breakdown (n, B).
    Without breakdowns one slot holds everyone."""
    sizes = [grp.k + 1 for grp in groupings] or [1]
    offsets = [int(o) for o in np.cumsum([0, *sizes])[:-1]]
    base = (np.column_stack([grp.index + off for grp, off in zip(groupings, offsets, strict=True)])
            if groupings else np.zeros((design.n, 1), dtype=np.int64))
    return sizes, offsets, int(sum(sizes)), base


class _PsuBatch:
    """Every breakdown's group codes side by side (n, B), built once for all items: breakdown b
    occupies slots ``offsets[b] .. offsets[b] + G_b`` (the last: no group). Without breakdowns one
    slot holds everyone."""

    def __init__(self, design: Design, groupings: Sequence[Coding]) -> None:
        agg = design.psu_agg
        assert agg is not None
        self.design, self.agg = design, agg
        self.sizes, self.offsets, self.nslot, self.base = _slots(design, groupings)
        nb = self.base.shape[1]
        self.w = np.repeat(design.weights, nb)
        self.w2 = self.w * self.w
        self.q = np.repeat(agg.q, nb) if design.calibrated else None
        self.pos = None if agg.all_positive else np.repeat((design.weights > 0).astype(float), nb)

    def tabs(self, y: np.ndarray, k: int) -> _ItemTabs:
        d, agg = self.design, self.agg
        span = (k + 1) * self.nslot
        yb = (y * self.nslot)[:, None] + self.base  # (n, B): slot of (category, group)
        u = agg.m_x.shape[0]
        psu_code = ((agg.psu * span)[:, None] + yb).ravel()
        a = np.bincount(psu_code, weights=self.w, minlength=u * span).reshape(u, k + 1, -1)
        qa = None
        if self.q is not None:
            cell_code = ((d.cell * span)[:, None] + yb).ravel()
            qa = np.bincount(cell_code, weights=self.q,
                             minlength=d.ncell * span).reshape(d.ncell, k + 1, -1)
        rows = a if self.pos is None else np.bincount(
            psu_code, weights=self.pos, minlength=u * span).reshape(u, k + 1, -1)
        flat = yb.ravel()
        cnt = np.bincount(flat, minlength=span).reshape(k + 1, -1)
        a2 = np.bincount(flat, weights=self.w2, minlength=span).reshape(k + 1, -1)
        return _ItemTabs(a, qa, rows, cnt, a2)

    def _block(self, b: int, with_none: bool = False) -> slice:
        return slice(self.offsets[b], self.offsets[b] + self.sizes[b] - (0 if with_none else 1))

    def everyone(self, t: _ItemTabs, k: int) -> DomainProps:
        """The whole sample: the sum over the first breakdown's slots (no group included)."""
        sl = self._block(0, with_none=True)

        def total(x: np.ndarray) -> np.ndarray:
            return _as_picked(x[:, :k, sl].sum(axis=-1, keepdims=True))

        qa = None if t.qa is None else total(t.qa)
        props = _psu_props_from(self.design, total(t.a), qa, total(t.rows).sum(axis=1))
        return _psu_domain_props(self.design, props, t.cnt[:k, sl].sum(axis=1, keepdims=True),
                                 t.a2[:k, sl].sum())

    def domains(self, t: _ItemTabs, k: int, b: int) -> DomainProps:
        sl = self._block(b)

        def block(x: np.ndarray) -> np.ndarray:
            return _as_picked(x[:, :k, sl])

        qa = None if t.qa is None else block(t.qa)
        props = _psu_props_from(self.design, block(t.a), qa, block(t.rows).sum(axis=1))
        return _psu_domain_props(self.design, props, t.cnt[:k, sl], t.a2[:k, sl].sum(axis=0))

    def rao_scott(self, t: _ItemTabs, k: int, b: int) -> dict[str, float]:
        """:func:`rao_scott` from the crosstabs: the joint table is a block of them."""
        sl = self._block(b)
        cnt = t.cnt[:k, sl]
        rows_ok, cols_ok = cnt.sum(axis=1) > 0, cnt.sum(axis=0) > 0
        nr, nc = int(rows_ok.sum()), int(cols_ok.sum())
        n_dom = int(cnt[rows_ok][:, cols_ok].sum())
        if nr < 2 or nc < 2:
            return {"chisq": np.nan, "f": np.nan, "ndf": np.nan, "ddf": np.nan,
                    "p_value": np.nan, "n": n_dom}

        def joint(x: np.ndarray) -> np.ndarray:  # (., nr, nc) -> (., nr * nc, 1), item fastest
            sub = x[:, :k, sl][:, rows_ok][:, :, cols_ok]
            return _as_picked(sub.transpose(0, 2, 1).reshape(len(x), nr * nc, 1))

        qa = None if t.qa is None else joint(t.qa)
        p, _, tt, _ = _psu_props_from(self.design, joint(t.a), qa, joint(t.rows).sum(axis=1))
        v = cluster_totals_vcov(self.agg.structure, tt)
        return _rao_scott_result(self.design, p[:, 0], v, nr, nc, n_dom)


class _RepBatch(_PsuBatch):
    """Replicate designs: per item, sums of the full-sample and of every replicate weight by
    (item category, breakdown slot), and the domains' degrees of freedom from probes of rows
    (:func:`parentlink.design.replicate_degf_rows`'s bound: one probe per breakdown slot shared
    by the items, then a fixed sample of the domain's rows; the full rank computation only where
    neither proves full rank)."""

    def __init__(self, design: Design, groupings: Sequence[Coding]) -> None:
        assert design.rep_weights is not None and design.replicates is not None
        # rows of replicate weights are copied by group and probed: row-major
        self.design, self.reps, self.rw = design, design.replicates, row_major(design.rep_weights)
        self.sizes, self.offsets, self.nslot, self.base = _slots(design, groupings)
        nb = self.base.shape[1]
        self.w = np.repeat(design.weights, nb)
        self.w2 = self.w * self.w
        norm2 = design._rep_norm2
        assert norm2 is not None
        self.norm2 = norm2
        self.n2 = np.repeat(norm2, nb)
        nrep = self.rw.shape[1]
        self.sample = np.unique(np.linspace(0, design.n - 1, min(design.n, 200 * nrep))
                                .astype(np.int64))
        self._y = np.zeros(design.n, dtype=np.int64)  # the current item (set by tabs)
        # (n, B) slots of the current item's (category, group): one buffer for every item
        # (a fresh 10^6 x 8 array per item cost more in page faults than its sums)
        self._flat = np.empty(self.base.shape, dtype=np.int64)
        # the sample's breakdown slots, and its rows valid on the current item (set by tabs)
        self._base_s = np.ascontiguousarray(self.base[self.sample].T)
        self._valid_s = np.zeros(len(self.sample), dtype=bool)
        self._probe_pos: dict[int, np.ndarray] = {}  # probe positions by domain sample size
        # per breakdown slot (None: everyone), lambda_min of 4R rows valid on every prepared item
        self._shared: dict[tuple[int | None, int | None], float] = {}
        self._prepared = False  # the current item is one of the prepared items (set by tabs)
        self._ones: np.ndarray | None = None
        self._ar_all: np.ndarray | None = None
        self._item_off: list[int] = []
        self._indptr = np.zeros(0, dtype=np.int64)

    def prepare(self, items: Sequence[Coding], chunk_values: int = 2**17) -> None:
        """Replicate sums of every item at once: for each breakdown slot, the rows' one-hot item
        categories (all items side by side) times their replicate weights, a dense product per
        group over chunks of rows (BLAS instead of a sparse product per item).

        Chunks of ~1,000 rows (`chunk_values` / item columns): each breakdown re-orders the
        chunk's one-hot rows and replicate weights by group, and at this size the copies (~1 MB
        each, into buffers allocated once) stay in cache; chunks of 35,000 rows spent as long
        copying as multiplying."""
        n, nrep = self.rw.shape
        sizes = [it.k for it in items]  # valid categories only: 'outside the base' is not used
        self._item_off = [int(o) for o in np.cumsum([0, *sizes])[:-1]]
        ncol = int(sum(sizes))
        # outside the base -> column ncol, a spare one dropped before the products
        codes = np.empty((n, len(items)), dtype=np.int16 if ncol < 2**15 - 1 else np.int64)
        for i, (it, off) in enumerate(zip(items, self._item_off, strict=True)):
            codes[:, i] = np.where(it.index < it.k, it.index + off, ncol)
        out = np.zeros((ncol, self.nslot, nrep))
        step = max(1, chunk_values // ncol)
        m = min(step, n)
        wide, onehot = np.empty((m, ncol + 1)), np.empty((m, ncol))
        yo, ro = np.empty((m, ncol)), np.empty((m, nrep))
        for c0 in range(0, n, step):
            cc = codes[c0:c0 + step]
            k = len(cc)
            wide[:k] = 0.0
            wide[np.arange(k)[:, None], cc] = 1.0
            onehot[:k] = wide[:k, :ncol]
            rw = self.rw[c0:c0 + step]
            for b in range(self.base.shape[1]):
                g = self.base[c0:c0 + step, b]
                order = np.argsort(g, kind="stable")
                cuts = np.searchsorted(g[order], np.arange(self.nslot + 1))
                np.take(onehot[:k], order, axis=0, out=yo[:k])
                np.take(rw, order, axis=0, out=ro[:k])
                for j in np.flatnonzero(np.diff(cuts)):
                    seg = slice(cuts[j], cuts[j + 1])
                    out[:, j, :] += yo[seg].T @ ro[seg]
        self._ar_all = out
        self._shared_probes(items)

    def _shared_probes(self, items: Sequence[Coding]) -> None:
        """The smallest eigenvalue of a probe of 4R rows valid on every item, per breakdown slot
        and for everyone. Those rows lie in every item's domain in that slot, so the bound of
        :func:`parentlink.design.replicate_degf_rows` (lambda_min of a subset's cross-product
        > 1e-10 x the domain's trace) proves full rank for each item with one eigenvalue per
        slot instead of one per item and slot. Where it cannot (few rows valid on every item,
        e.g. routed questions), :meth:`_degf` probes the domain itself."""
        nrep = self.rw.shape[1]
        valid = np.ones(self.design.n, dtype=bool)
        for it in items:
            valid &= it.index < it.k
        masks: list[tuple[int | None, int | None, np.ndarray]] = [(None, None, valid)]
        for brk in range(self.base.shape[1]):
            masks += [(brk, j, valid & (self.base[:, brk] == j))
                      for j in range(self._block(brk).start, self._block(brk).stop)]
        self._shared = {}
        for b, slot, mask in masks:
            rows = np.flatnonzero(mask)
            if len(rows) > 4 * nrep:
                pw = self.rw[rows[self._probe_rows(len(rows))]]
                self._shared[(b, slot)] = float(np.linalg.eigvalsh(pw.T @ pw)[0])

    def tabs(self, y: np.ndarray, k: int, pos: int | None = None) -> _ItemTabs:
        span = (k + 1) * self.nslot
        flat = np.add((y * self.nslot)[:, None], self.base, out=self._flat).ravel()
        # int32 indices where they fit (scipy would copy int64 ones down); values and column
        # pointers are the same for every item
        idx = np.int32 if len(flat) < 2**31 - 1 else np.int64
        if self._ones is None:
            self._ones = np.ones(len(flat))
            self._indptr = np.arange(0, len(flat) + 1, self.base.shape[1], dtype=idx)
        if pos is not None and self._ar_all is not None:
            off = self._item_off[pos]
            ar = self._ar_all[off:off + k]  # the K valid categories (all that is read)
        else:
            onehot = sparse.csc_matrix((self._ones, flat.astype(idx), self._indptr),
                                       shape=(span, self.design.n))
            ar = np.asarray(onehot @ self.rw).reshape(k + 1, self.nslot, -1)
        a = np.bincount(flat, weights=self.w, minlength=span).reshape(k + 1, -1)
        cnt = np.bincount(flat, minlength=span).reshape(k + 1, -1)
        a2 = np.bincount(flat, weights=self.w2, minlength=span).reshape(k + 1, -1)
        tr = np.bincount(flat, weights=self.n2, minlength=span).reshape(k + 1, -1)
        self._y = y
        self._valid_s = y[self.sample] < k
        self._prepared = pos is not None and self._ar_all is not None
        return _ItemTabs(a, ar, tr, cnt, a2)  # qa: replicate sums, rows: squared norms

    def _degf(self, k: int, b: int | None, slot: int | None, trace: float) -> int:
        """R degf of the domain 'valid on the item' (and in `slot` of breakdown `b`)."""
        nrep = self.rw.shape[1]
        shared = self._shared.get((b, slot)) if self._prepared else None
        if shared is not None and shared > 1e-10 * trace:
            return nrep - 1
        in_dom = self._valid_s if b is None else self._valid_s & (self._base_s[b] == slot)
        probe = self.sample[in_dom]
        if len(probe) > 4 * nrep:
            pw = self.rw[probe[self._probe_rows(len(probe))]]
            if np.linalg.eigvalsh(pw.T @ pw)[0] > 1e-10 * trace:
                return nrep - 1
        y = self._y
        mask = y < k if b is None else (y < k) & (self.base[:, b] == slot)
        return replicate_degf_rows(self.rw, np.flatnonzero(mask), self.norm2)

    def _probe_rows(self, m: int) -> np.ndarray:
        """4R evenly spaced positions among `m` (cached by `m`)."""
        pos = self._probe_pos.get(m)
        if pos is None:
            pos = self._probe_pos[m] = np.linspace(0, m - 1, 4 * self.rw.shape[1]
                                                   ).astype(np.int64)
        return pos

    def _props(self, a: np.ndarray, ar: np.ndarray, cnt: np.ndarray, d2: np.ndarray,
               df: np.ndarray) -> DomainProps:
        """a (K, G) full-sample sums, ar (K, G, R) replicate sums."""
        s = a.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = a / s
            pr = np.nan_to_num(ar / ar.sum(axis=0, keepdims=True)).transpose(2, 0, 1)
        centre = np.nan_to_num(p) if self.reps.mse else pr.mean(axis=0)
        var = self.reps.scale * np.einsum("r,rkg->kg", self.reps.rscales, (pr - centre) ** 2)
        se = np.where(s > 0, np.sqrt(np.maximum(var, 0.0)), np.nan)
        base_u = cnt.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            deff = base_u * d2 / (s * s)
        return DomainProps(p, se, cnt, base_u, s, deff, df)

    def everyone(self, t: _ItemTabs, k: int) -> DomainProps:
        sl = self._block(0, with_none=True)
        assert t.qa is not None
        df = np.array([self._degf(k, None, None, float(t.rows[:k, sl].sum()))])
        return self._props(t.a[:k, sl].sum(axis=1, keepdims=True),
                           t.qa[:k, sl].sum(axis=1, keepdims=True),
                           t.cnt[:k, sl].sum(axis=1, keepdims=True),
                           t.a2[:k, sl].sum(axis=(0, 1), keepdims=True)[0], df)

    def domains(self, t: _ItemTabs, k: int, b: int) -> DomainProps:
        sl = self._block(b)
        assert t.qa is not None
        df = np.array([self._degf(k, b, j, float(t.rows[:k, j].sum()))
                       for j in range(sl.start, sl.stop)])
        return self._props(t.a[:k, sl], t.qa[:k, sl], t.cnt[:k, sl], t.a2[:k, sl].sum(axis=0),
                           df)

    def rao_scott(self, t: _ItemTabs, k: int, b: int) -> dict[str, float]:
        sl = self._block(b)
        assert t.qa is not None
        cnt = t.cnt[:k, sl]
        rows_ok, cols_ok = cnt.sum(axis=1) > 0, cnt.sum(axis=0) > 0
        nr, nc = int(rows_ok.sum()), int(cols_ok.sum())
        n_dom = int(cnt[rows_ok][:, cols_ok].sum())
        if nr < 2 or nc < 2:
            return {"chisq": np.nan, "f": np.nan, "ndf": np.nan, "ddf": np.nan,
                    "p_value": np.nan, "n": n_dom}
        tj = t.a[:k, sl][rows_ok][:, cols_ok].T.ravel()  # item fastest
        trj = t.qa[:k, sl][rows_ok][:, cols_ok].transpose(1, 0, 2).reshape(nr * nc, -1)
        p = tj / tj.sum()
        v = self.reps.vcov(p, (trj / trj.sum(axis=0)).T)
        return _rao_scott_result(self.design, p, v, nr, nc, n_dom)


# --------------------------------------------------------------------------- means and totals

MEAN_COLUMNS = [
    "survey", "variable", "label", "group_variable", "group_code", "group", "base_unweighted",
    "base_weighted", "mean", "se", "ci_lower", "ci_upper", "total", "total_se", "suppressed",
    "design",
]


@dataclass
class DomainMeans:
    """Arrays (G,) for one numeric variable over G domains (each on the full design)."""

    mean: np.ndarray
    se: np.ndarray
    total: np.ndarray
    total_se: np.ndarray
    base_unweighted: np.ndarray
    base_weighted: np.ndarray
    df: np.ndarray


def domain_means(design: Design, y: np.ndarray, domains: np.ndarray) -> DomainMeans:
    """R ``svymean(~y, subset(design, d))`` and ``svytotal(~y, subset(design, d))`` for every
    column d of `domains` (n, G) at once; rows where `y` is NaN are outside every domain.

    Linearised: mean influence ``d (y - mean) / S``, total influence ``d y`` (both on the full
    design, so R's domain SEs), one covariance call for all 2G columns. Replicate designs: the
    same ratios under every replicate weight (R ``svrVar``). ``df`` is R's ``degf`` of each
    domain (:meth:`Design.degf`), as ``confint(..., df = degf(subset(design, d)))`` uses it.
    """
    y = np.asarray(y, dtype=float)
    dom = np.asarray(domains, dtype=bool) & ~np.isnan(y)[:, None]
    yy = np.where(np.isnan(y), 0.0, y)
    dy = dom * yy[:, None]
    w = design.weights
    s, t = w @ dom, w @ dy
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = t / s
    g = dom.shape[1]
    if design.replicates is not None and design.rep_weights is not None:
        sr, tr = design.rep_weights.T @ dom, design.rep_weights.T @ dy
        with np.errstate(invalid="ignore", divide="ignore"):
            theta_r = np.hstack([tr / sr, tr])  # (R, 2G)
        theta = np.concatenate([mean, t])
        reps = design.replicates
        centre = theta if reps.mse else theta_r.mean(axis=0)
        var = reps.scale * (reps.rscales @ (theta_r - centre) ** 2)
    else:
        inv_s = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), 0.0)
        z = np.hstack([dom * (yy[:, None] - np.nan_to_num(mean)[None, :]) * inv_s, dy])
        var = _vcov_diag(design, z)
    sd = np.sqrt(np.maximum(var, 0.0))
    df = np.array([design.degf(dom[:, j]) for j in range(g)])
    return DomainMeans(mean, np.where(s > 0, sd[:g], np.nan), t, sd[g:], dom.sum(axis=0), s, df)


def numeric_values(data: pd.DataFrame, meta: Mapping[str, Any], name: str) -> np.ndarray:
    """A numeric variable as floats, NaN where missing or a user-missing code (meta.json
    ``missing`` or ``exclude_from_base``): a "don't know" code is never a quantity."""
    if name not in data.columns:
        fail(f"Variable {name} in analysis means is not a column of the clean data; "
             f"list numeric variables only.")
    info = _meta_var(meta, name)
    col = data[name]
    if not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)):
        fail(f"Variable {name} in analysis means is not numeric; list numeric variables only "
             f"(categorical items go in analysis items).")
    y = col.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    excl = [float(c) for c in [*(info.get("exclude_from_base") or []),
                               *(info.get("missing") or {})]]
    y[np.isin(y, excl)] = np.nan
    return y


def means_table(
    data: pd.DataFrame,
    meta: Mapping[str, Any],
    design: Design,
    variables: Sequence[str],
    breakdowns: Sequence[str],
    survey: str,
    min_base: int = 0,
    all_label: str = ALL_GROUP[2],
) -> pd.DataFrame:
    """Means and totals of numeric variables, whole sample then each breakdown's groups
    (results/tables/{survey}_means.csv; columns MEAN_COLUMNS, docs/data-contract.md).

    Interval: ``mean ± t_{df, 0.975} se`` with df = R's degf of the domain (R:
    ``confint(svymean(~y, subset(design, d)), df = degf(subset(design, d)))``). A domain with
    fewer than `min_base` respondents with a value is suppressed: mean, se, interval, total
    and total_se are left empty (the disclosure rule of the percentages' bases).
    """
    _check_rows(data, design)
    groupings = [all_coding(design.n, all_label),
                 *[code_variable(data, meta, b, groups_only=True) for b in breakdowns]]
    rows: list[dict[str, Any]] = []
    for name in variables:
        y = numeric_values(data, meta, name)
        label = str(_meta_var(meta, name).get("label", name))
        for grp in groupings:
            masks = grp.index[:, None] == np.arange(grp.k)[None, :]
            res = domain_means(design, y, masks)
            with np.errstate(invalid="ignore"):
                t = t_quantile(0.975, np.where(res.df >= 1, res.df, np.nan))
            for j in range(grp.k):
                hide = bool(res.base_unweighted[j] < min_base)
                shown = {"mean": res.mean[j], "se": res.se[j],
                         "ci_lower": res.mean[j] - t[j] * res.se[j],
                         "ci_upper": res.mean[j] + t[j] * res.se[j],
                         "total": res.total[j], "total_se": res.total_se[j]}
                rows.append({
                    "survey": survey, "variable": name, "label": label,
                    "group_variable": grp.name, "group_code": grp.codes[j],
                    "group": grp.labels[j], "base_unweighted": int(res.base_unweighted[j]),
                    "base_weighted": float(res.base_weighted[j]),
                    **{k: (np.nan if hide else float(v)) for k, v in shown.items()},
                    "suppressed": hide, "design": design.label,
                })
    return pd.DataFrame(rows, columns=MEAN_COLUMNS)


# --------------------------------------------------------------------------- logistic model


@dataclass
class GlmFit:
    terms: list[str]
    labels: list[str]
    coef: np.ndarray
    vcov: np.ndarray
    df: int
    n: int


def model_matrix(data: pd.DataFrame, meta: Mapping[str, Any], predictors: Sequence[str]
                 ) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Treatment-coded factors (first present reported level = reference) and a complete-case mask.

    Codes outside the reported categories (refused, don't know, missing) make a row incomplete.
    """
    n = len(data)
    cols, terms, labels = [np.ones(n)], ["(Intercept)"], ["Intercept"]
    ok = np.ones(n, dtype=bool)
    codings = [code_variable(data, meta, p, groups_only=True) for p in predictors]
    for c in codings:
        ok &= c.index < c.k
    for c in codings:
        present = [i for i in range(c.k) if np.any(ok & (c.index == i))]
        for i in present[1:]:
            cols.append((c.index == i).astype(float))
            terms.append(f"{c.name}={c.codes[i]}")
            labels.append(f"{c.label}: {c.labels[i]}")
    return np.column_stack(cols), ok, terms, labels


def svyglm_logit(design: Design, y: np.ndarray, x: np.ndarray, ok: np.ndarray,
                 terms: Sequence[str], labels: Sequence[str], max_iter: int = 100) -> GlmFit:
    """R ``svyglm(y ~ ..., design, family = quasibinomial())`` with linearised (calibrated) SEs.

    IRLS with prior weights w on the complete cases; influence per unit weight
    z_i = (y_i - mu_i) x_i' A^-1 with A = sum w mu (1 - mu) x x' (0 for incomplete rows);
    V from :func:`linearised_vcov`. df = complete cases - number of coefficients (R:
    degf(design) + 1 - p).
    """
    w = np.where(ok, design.weights, 0.0)
    yy = np.where(ok, np.asarray(y, dtype=float), 0.0)
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        mu = 1 / (1 + np.exp(-(x @ beta)))
        wt = w * mu * (1 - mu)
        step = np.linalg.solve(x.T @ (wt[:, None] * x), x.T @ (w * (yy - mu)))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(beta))):
            break
    else:
        fail("The logistic model did not converge; check for empty or perfectly predicting levels.")
    mu = 1 / (1 + np.exp(-(x @ beta)))
    n_cc = int(np.sum(ok & (design.weights > 0)))
    df = design.degf(ok) + 1 - x.shape[1]
    if design.replicates is not None:
        vcov = _rep_vcov(design, lambda wr: _irls(x, np.where(ok, wr, 0.0), yy, beta, max_iter),
                         beta)
        return GlmFit(list(terms), list(labels), beta, vcov, df, n_cc)
    ainv = np.linalg.inv(x.T @ ((w * mu * (1 - mu))[:, None] * x))
    z = np.where(ok[:, None], (yy - mu)[:, None] * x, 0.0) @ ainv
    vcov = linearised_vcov(design, z)
    return GlmFit(list(terms), list(labels), beta, vcov, df, n_cc)


def _irls(x: np.ndarray, w: np.ndarray, y: np.ndarray, start: np.ndarray,
          max_iter: int) -> np.ndarray:
    """Logistic IRLS with prior weights `w` from `start` (a replicate's refit)."""
    beta = start.copy()
    for _ in range(max_iter):
        mu = 1 / (1 + np.exp(-(x @ beta)))
        step = np.linalg.solve(x.T @ ((w * mu * (1 - mu))[:, None] * x), x.T @ (w * (y - mu)))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(beta))):
            return beta
    fail("The logistic model did not converge on a replicate; check for sparse levels.")


def glm_table(fit: GlmFit, level: float = 0.95) -> pd.DataFrame:
    """term, estimate, se, t, p_value (t on fit.df), odds_ratio and its Wald CI (R confint)."""
    se = np.sqrt(np.diag(fit.vcov))
    t = fit.coef / se
    q = t_quantile(0.5 + level / 2, fit.df)
    return pd.DataFrame({
        "term": fit.terms, "estimate": fit.coef, "se": se, "t": t,
        "p_value": 2 * t_upper(np.abs(t), fit.df), "odds_ratio": np.exp(fit.coef),
        "or_lower": np.exp(fit.coef - q * se), "or_upper": np.exp(fit.coef + q * se),
        "label": fit.labels,
    })


def fit_model(data: pd.DataFrame, meta: Mapping[str, Any], design: Design, outcome: str,
              predictors: Sequence[str]) -> GlmFit:
    """Survey logistic regression of a 0/1 `outcome` on factor `predictors`."""
    x, ok, terms, labels = model_matrix(data, meta, predictors)
    if outcome not in data.columns:
        fail(f"Model outcome {outcome} is not a column of the clean data.")
    y = data[outcome].to_numpy(dtype="float64", na_value=np.nan)
    ok &= np.isin(y, [0.0, 1.0])
    return svyglm_logit(design, np.nan_to_num(y), x, ok, terms, labels)


# --------------------------------------------------------------------------- stage I/O


def load_design(
    data_path: str | Path, weights_path: str | Path | None = None,
    target_paths: Sequence[str | Path] = (), design: Mapping[str, Any] | None = None,
    calibration: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, Design]:
    """Clean data plus its design.

    Weighted surveys: the final weights, calibrated to the raking margins, with the projection
    on the design weights (R's calibrate() linearisation). Unweighted: unit weights (SRS).
    ``design``: ``surveys.<name>.design`` (strata, clusters, fpc, or replicate weights);
    ``calibration``: the ``weighting`` block, used to re-calibrate every replicate weight as
    R's calibrate() does on a replicate design.
    """
    data = pd.read_parquet(data_path)
    spec = spec_from_config(design)
    structure = None
    if spec.declared and spec.replicates is None:
        structure = build_structure(data, spec)
    reps = build_replicates(data, spec.replicates) if spec.replicates is not None else None
    what = "" if not spec.declared else "; " + (reps.label if reps else describe(spec))
    if weights_path is None:
        if not spec.declared:
            return data, srs_design(len(data))
        return data, make_design(np.ones(len(data)), label="unweighted" + what,
                                 structure=structure, replicates=reps,
                                 rep_weights=None if reps is None else reps.weights)
    table = read_weights(weights_path)
    ids = data["respondent_id"].astype(str)
    if len(table) != len(data) or not ids.isin(table.index).all():
        fail(f"{weights_path} does not hold one weight per respondent of {data_path}; "
             f"rerun the weight rule.")
    table = table.loc[ids]
    final = table["final_weight"].to_numpy(float)
    margins = read_margin_files(list(target_paths))
    rep_weights = None
    if reps is not None:
        rep_weights = _recalibrate_replicates(data, margins, reps, calibration or {})
    return data, design_from_margins(
        data, final, margins, "calibrated (raking margins)" + what, structure=structure,
        projection_weights=(table["design_weight"].to_numpy(float)
                            if "design_weight" in table else None),
        calibration_weights=(table["calibration_weight"].to_numpy(float)
                             if "calibration_weight" in table else None),
        replicates=reps, rep_weights=rep_weights)


def _recalibrate_replicates(data: pd.DataFrame, margins: Sequence[Margin], reps: Replicates,
                            cfg: Mapping[str, Any]) -> np.ndarray:
    if cfg.get("method", "calibrate") != "calibrate":
        fail("Replicate weights are re-calibrated as R does, which needs weighting.method: "
             "calibrate (the trim-and-re-rake loop has no replicate version).")
    b = cfg.get("bounds") or {}
    out = calibrate_replicates(
        data, margins, reps.weights, calfun=str(cfg.get("calfun", "raking")),
        bounds=(float(b.get("lower", -np.inf)), float(b.get("upper", np.inf))),
        tolerance=float(cfg.get("tolerance", 1e-10)),
        max_iterations=int(cfg.get("max_iterations", 500)))
    return np.asarray(out)


def write_csv(table: pd.DataFrame, path: str | Path) -> None:
    """Deterministic CSV: no index, '\\n' line ends, floats with 12 significant digits, text
    neutralised for spreadsheets (parentlink.csvio)."""
    csvio.write_csv(table, path)
