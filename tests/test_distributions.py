"""parentlink.distributions gives scipy.stats' numbers bit for bit, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from parentlink.distributions import f_upper, t_quantile, t_upper

DFS = np.array([np.nan, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 7.0, 29.0, 30.0, 99.0, 364.0, 1234.5,
                1e5, 1e9, np.inf])
XS = np.array([np.nan, -np.inf, -40.0, -3.0, -1e-9, -0.0, 0.0, 1e-12, 0.3, 1.96, 2.5, 7.0, 40.0,
               1e3, np.inf])


def same(a: object, b: object) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.975, 0.995, 1e-6])
def test_t_quantile_is_scipy_stats(q: float) -> None:
    with np.errstate(invalid="ignore"):
        assert same(t_quantile(q, DFS), stats.t.ppf(q, DFS))
        for df in DFS:
            assert same(t_quantile(q, float(df)), stats.t.ppf(q, df))
    assert np.ndim(t_quantile(q, 5.0)) == 0


def test_t_upper_is_scipy_stats() -> None:
    x, df = np.meshgrid(XS, DFS)
    with np.errstate(invalid="ignore"):
        assert same(t_upper(x, df), stats.t.sf(x, df))
        assert same(t_upper(XS, 12.0), stats.t.sf(XS, 12.0))
        assert same(t_upper(2.0, 12.0), stats.t.sf(2.0, 12.0))
    rng = np.random.default_rng(7)
    x, df = rng.normal(0, 3, 500), rng.uniform(1, 400, 500)
    assert same(2 * t_upper(np.abs(x), df), 2 * stats.t.sf(np.abs(x), df))


def test_f_upper_is_scipy_stats() -> None:
    for x in XS:
        for dfn in DFS:
            for dfd in DFS[::3]:
                with np.errstate(invalid="ignore"):
                    want = float(stats.f.sf(x, dfn, dfd))
                assert same(f_upper(float(x), float(dfn), float(dfd)), want), (x, dfn, dfd)
    rng = np.random.default_rng(11)
    for x, dfn, dfd in zip(rng.gamma(1.0, 2.0, 300), rng.uniform(0.2, 12, 300),
                           rng.uniform(1, 900, 300), strict=True):
        assert same(f_upper(x, dfn, dfd), float(stats.f.sf(x, dfn, dfd)))
