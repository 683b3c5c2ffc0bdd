"""The t and F tail functions the estimators use: R's ``qt``, ``pt`` (upper tail) and ``pf``
(upper tail).

``scipy.stats.t`` and ``scipy.stats.f`` compute these with the same ``scipy.special`` functions
(``stdtrit``, ``stdtr``, ``fdtrc``) after checking their arguments; calling those directly gives
the same numbers, bit for bit (tests/test_distributions.py compares them), without importing
``scipy.stats``, which costs each estimating job about half a second of start-up. As in
``scipy.stats``, a parameter that is not positive (or NaN) gives NaN.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def t_quantile(q: float, df: np.ndarray | float) -> np.ndarray:
    """R ``qt(q, df)`` for 0 < q < 1 (``scipy.stats.t.ppf``)."""
    df = np.asarray(df, dtype=float)
    ok = df > 0
    with np.errstate(invalid="ignore"):
        out = np.where(ok, special.stdtrit(np.where(ok, df, np.nan), q), np.nan)
    return out[()] if out.ndim == 0 else out


def t_upper(x: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """R ``pt(x, df, lower.tail = FALSE)`` (``scipy.stats.t.sf``)."""
    x, df = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(df, dtype=float))
    ok = df > 0
    with np.errstate(invalid="ignore"):
        out = np.where(ok, special.stdtr(np.where(ok, df, np.nan), -x), np.nan)
    return out[()] if out.ndim == 0 else out


def f_upper(x: float, dfn: float, dfd: float) -> float:
    """R ``pf(x, dfn, dfd, lower.tail = FALSE)`` (``scipy.stats.f.sf``): 1 at x <= 0."""
    if not (dfn > 0 and dfd > 0) or np.isnan(x):
        return float("nan")
    if x <= 0:
        return 1.0
    return float(special.fdtrc(dfn, dfd, x))
