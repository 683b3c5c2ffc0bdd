"""Property: value labels and missing codes survive .sav -> ingest -> clean -> .sav unchanged."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parentlink.clean import clean
from parentlink.ingest import apply_privacy, read_raw
from parentlink.privacy import pseudonym
from parentlink.spss import write_labelled

KINDS = {8: "dont_know", 9: "refused", -1: "not_asked"}


@st.composite
def surveys(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, dict[int, str]], dict[str, list[int]]]:
    n = draw(st.integers(3, 30))
    k = draw(st.integers(1, 4))
    data: dict[str, list[float]] = {"rid": [float(i) for i in range(n)]}
    labels: dict[str, dict[int, str]] = {}
    missing: dict[str, list[int]] = {}
    # SPSS pads labels with blanks, so leading/trailing spaces are not significant: draw stripped labels.
    words = (
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz '£é", min_size=1, max_size=20)
        .map(str.strip)
        .filter(bool)
    )
    for j in range(k):
        name = f"V{j + 1}"
        m = draw(st.integers(2, 6))
        miss = draw(st.lists(st.sampled_from(sorted(KINDS)), unique=True, max_size=3))
        labels[name] = {c: draw(words) for c in [*range(1, m + 1), *miss]}
        missing[name] = sorted(miss)
        pool = [float(c) for c in labels[name]] + [float("nan")]
        data[name] = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    df = pd.DataFrame(data)
    df["rid"] = [f"ID{i:04d}" for i in range(n)]
    return df, labels, missing


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(surveys())
def test_labels_and_missing_codes_round_trip(
    case: tuple[pd.DataFrame, dict[str, dict[int, str]], dict[str, list[int]]],
) -> None:
    df, labels, missing = case
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.sav"
        pyreadstat.write_sav(
            df,
            str(src),
            column_labels={c: f"label of {c}" for c in df.columns},
            variable_value_labels=labels,
            missing_ranges={c: list(v) for c, v in missing.items() if v},
        )
        raw, meta = read_raw(src)
        plan = {
            "survey": "t",
            "id": "rid",
            "rename": {c: c.lower() for c in labels},
            "missing": KINDS,
            "exclude_from_base": ["refused", "not_asked"],
            "exclusions": [],
        }
        cleaned = clean(apply_privacy(raw, meta, plan, "k", 100), meta, plan, weighted=False)
        out = Path(tmp) / "out.sav"
        write_labelled(cleaned.data, cleaned.meta, out)
        back, bmeta = pyreadstat.read_sav(str(out), user_missing=True)
    order = {pseudonym(r, "k"): i for i, r in enumerate(df["rid"])}
    back = back.assign(_i=back["respondent_id"].map(order)).sort_values("_i")
    for name in labels:
        low = name.lower()
        assert bmeta.variable_value_labels.get(low, {}) == {float(c): v for c, v in labels[name].items()}
        got = sorted(r["lo"] for r in bmeta.missing_ranges.get(low, []))
        assert got == [float(c) for c in missing[name]]
        assert bmeta.column_names_to_labels[low] == f"label of {name}"
        np.testing.assert_array_equal(back[low].to_numpy(), df[name].to_numpy())
