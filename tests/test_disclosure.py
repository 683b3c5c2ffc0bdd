"""Disclosure control: base rule, cell rule, secondary suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from parentlink.disclosure import suppress
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
    assert flags(out, "sex", 2) == [""] * 3  # quality-only suppression needs no complement
    sup = out[out["suppressed"]]
    assert sup[["estimate", "se", "ci_lower", "ci_upper", "deff_kish"]].isna().all().all()
    assert (sup["base_unweighted"] == 45).all() and sup["base_weighted"].notna().all()


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
