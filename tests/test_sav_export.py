"""The clean .sav for SPSS users, read back: the final weight reproduces the published weighted
percentages under WEIGHT BY, codes show without decimals, every measurement level is set, the
design variables are there and the file label says SYNTHETIC for a synthetic study."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from parentlink.errors import UserError
from parentlink.estimate import estimate_table, make_design
from parentlink.spss import FINAL_WEIGHT, with_final_weight, write_labelled

N = 60


def data_and_meta() -> tuple[pd.DataFrame, dict[str, Any]]:
    rng = np.random.default_rng(7)
    data = pd.DataFrame({
        "respondent_id": [f"R{i:04d}" for i in range(N)],
        "stratum": pd.array(rng.integers(1, 3, N), dtype="Int64"),
        "psu": pd.array(rng.integers(1, 6, N), dtype="Int64"),
        "q": pd.array(rng.choice([1, 2, 3, 8], N), dtype="Int64"),  # 8: don't know (missing)
        "count": rng.integers(0, 4, N).astype(float),  # a whole-number count the plan derived
        "score": rng.random(N),  # a real-valued scale
    })
    meta: dict[str, Any] = {"survey": "main", "variables": {
        "stratum": {"label": "Stratum", "type": "categorical", "format": "F4.0", "measure": "unknown",
                    "value_labels": {}, "missing": {}},
        "psu": {"label": "PSU", "type": "categorical", "format": "F8.2", "value_labels": {},
                "missing": {}},
        "q": {"label": "Question", "type": "categorical", "format": "F8.2", "measure": "ordinal",
              "value_labels": {"1": "Yes", "2": "No", "3": "Maybe", "8": "Don't know"},
              "missing": {"8": "dont_know"}, "exclude_from_base": [8]},
        "count": {"label": "Count", "type": "numeric"},
        "score": {"label": "Score", "type": "numeric", "measure": "scale"},
    }}
    return data, meta


def weights() -> pd.Series:
    rng = np.random.default_rng(11)
    ids = [f"R{i:04d}" for i in range(N)]
    return pd.Series(rng.uniform(0.2, 5.0, N), index=ids[::-1]).loc[ids[::-1]]  # another order


@pytest.mark.parametrize("dont_know_in_base", [False, True])
def test_weight_by_final_weight_reproduces_the_published_percentages(
        tmp_path: Path, dont_know_in_base: bool) -> None:
    """SPSS: WEIGHT BY final_weight, then the percentages of the codes in the base (the declared
    missing codes left out, unless the plan keeps "don't know" in the base: then it is counted
    too, as after MISSING VALUES q ())."""
    data, meta = data_and_meta()
    if dont_know_in_base:
        meta["variables"]["q"]["exclude_from_base"] = []
    w = weights()
    out = tmp_path / "main.sav"
    write_labelled(with_final_weight(data, w, "w.csv"), meta, out, synthetic=True,
                   design_variables=["psu", "stratum"])
    back, _ = pyreadstat.read_sav(str(out), user_missing=dont_know_in_base)
    published = estimate_table(data, meta, make_design(w.loc[data["respondent_id"]].to_numpy()),
                               ["q"], [], "main")
    assert len(published) == 3 + dont_know_in_base
    for code in (1, 2, 3, 8)[:len(published)]:
        valid = back["q"].notna()
        share = back.loc[back["q"] == code, FINAL_WEIGHT].sum() / back.loc[valid, FINAL_WEIGHT].sum()
        estimate = published.loc[published["category_code"] == code, "estimate"].iloc[0]
        assert share == pytest.approx(estimate, rel=1e-12, abs=1e-15)


def test_formats_measures_and_label(tmp_path: Path) -> None:
    data, meta = data_and_meta()
    out = tmp_path / "main.sav"
    write_labelled(with_final_weight(data, weights(), "w.csv"), meta, out, synthetic=True)
    _, m = pyreadstat.read_sav(str(out))
    types = m.original_variable_types
    assert types["q"] == "F8.0" and types["psu"] == "F8.0" and types["stratum"] == "F4.0"
    assert types["count"] == "F8.0" and types["score"] == "F8.2" and types[FINAL_WEIGHT] == "F12.6"
    assert set(m.variable_measure.values()) <= {"nominal", "ordinal", "scale"}
    assert m.variable_measure == {"respondent_id": "nominal", "stratum": "nominal", "psu": "nominal",
                                  "q": "ordinal", "count": "scale", "score": "scale",
                                  FINAL_WEIGHT: "scale"}
    assert m.file_label.startswith("SYNTHETIC DATA")
    assert "WEIGHT BY" in m.column_names_to_labels[FINAL_WEIGHT]
    write_labelled(data, meta, out, synthetic=False)  # an unweighted survey: no weight column
    _, m = pyreadstat.read_sav(str(out))
    assert "SYNTHETIC" not in m.file_label and FINAL_WEIGHT not in m.column_names


def test_bad_weights_or_design_fail_cleanly(tmp_path: Path) -> None:
    data, meta = data_and_meta()
    with pytest.raises(UserError, match="w.csv does not hold one final weight per respondent"):
        with_final_weight(data, weights().iloc[1:], "w.csv")
    out = tmp_path / "main.sav"
    with pytest.raises(UserError, match="the survey design names cluster, which the clean data lack"):
        write_labelled(data, meta, out, design_variables=["cluster"])
    assert not out.exists()


def test_codebook_lists_the_final_weight() -> None:
    from parentlink import codebook
    from parentlink.spss import FINAL_WEIGHT_LABEL, with_final_weight_meta

    data, meta = data_and_meta()
    book = codebook.build(with_final_weight(data, weights(), "w.csv"), with_final_weight_meta(meta))
    row = book[book["variable"] == FINAL_WEIGHT].iloc[0]
    assert row["label"] == FINAL_WEIGHT_LABEL and row["type"] == "numeric" and row["n"] == N
    assert "q" in set(book["variable"]) and "final_weight" not in meta["variables"]
