"""Codebook counts obey disclosure control (parentlink.codebook.protect), at the boundaries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from parentlink import codebook
from parentlink.clean import Cleaned
from parentlink.wording import SUPPRESSION_MARK as C


def book(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame([{"variable": v, "type": t, "n": n, "label": "", "source": "",
                          "derived_from": "", "code": str(i), "value_label": "", "missing": "",
                          "in_base": "", "note": ""} for i, (v, t, n) in enumerate(rows)],
                        columns=codebook.COLUMNS)


def shown(b: pd.DataFrame) -> list[str]:
    return list(b["n"])


def test_count_of_exactly_min_cell_is_shown_and_one_below_is_hidden_with_a_complement() -> None:
    b = book([("q", "categorical", 10), ("q", "categorical", 9), ("q", "categorical", 30),
              ("q", "categorical", 12)])
    # 9 is hidden; alone it would follow from n, so the next smallest positive count (10) goes too.
    assert shown(codebook.protect(b, 61, 10)) == [C, C, "30", "12"]


def test_hidden_counts_are_a_derivable_count_that_meets_the_threshold_and_zero_is_shown() -> None:
    # 3 + 4 = 7 follows from n minus the shown counts: itself under 10, so 50 is hidden too
    b = book([("q", "categorical", 3), ("q", "categorical", 4), ("q", "categorical", 0),
              ("q", "categorical", 50)])
    assert shown(codebook.protect(b, 57, 10)) == [C, C, "0", C]
    b = book([("q", "categorical", 3), ("q", "categorical", 7), ("q", "categorical", 50)])
    assert shown(codebook.protect(b, 60, 10)) == [C, C, "50"]  # 3 + 7 = 10: enough


def test_each_variable_is_protected_on_its_own() -> None:
    b = book([("a", "categorical", 5), ("a", "categorical", 40), ("a", "categorical", 45),
              ("b", "categorical", 45), ("b", "categorical", 45)])
    assert shown(codebook.protect(b, 90, 10)) == [C, C, "45", "45", "45"]


@pytest.mark.parametrize(("n", "expect"), [(80, "80"), (81, C), (89, C), (90, "90"), (5, C),
                                           (10, "10")])
def test_numeric_count_hidden_when_it_or_its_complement_is_small(n: int, expect: str) -> None:
    # n_total 90: 90 - 80 = 10 missing (shown), 90 - 81 = 9 missing (hidden), none missing (shown)
    assert shown(codebook.protect(book([("age", "numeric", n)]), 90, 10)) == [expect]


def test_min_cell_zero_hides_nothing() -> None:
    b = book([("q", "categorical", 1), ("q", "categorical", 2), ("t", "text", 1)])
    assert shown(codebook.protect(b, 3, 0)) == ["1", "2", "1"]


def test_the_study_codebook_prints_no_small_count(cleaned_main: Cleaned) -> None:
    """The main survey has value counts of 1-9 (before protection); none is printed."""
    raw = codebook.build(cleaned_main.data, cleaned_main.meta)
    counts = pd.to_numeric(raw["n"])
    assert ((counts > 0) & (counts < 10)).any()
    n = codebook.protect(raw, len(cleaned_main.data), 10)["n"]
    numbers = pd.to_numeric(n[n != C])
    assert not ((numbers > 0) & (numbers < 10)).any()
    missing = len(cleaned_main.data) - numbers[raw.loc[numbers.index, "type"] != "categorical"]
    assert not ((missing > 0) & (missing < 10)).any()


def test_hidden_counts_total_at_least_min_cell() -> None:
    """Two hidden 1s of a variable with n published would both be known (their sum is 2)."""
    b = book([("q", "categorical", 500), ("q", "categorical", 1), ("q", "categorical", 1)])
    assert shown(codebook.protect(b, 502, 10)) == [C, C, C]
    b = book([("q", "categorical", 60), ("q", "categorical", 4), ("q", "categorical", 5),
              ("q", "categorical", 30)])
    assert shown(codebook.protect(b, 99, 10)) == ["60", C, C, C]  # 4 + 5 = 9 < 10: one more


def test_a_recode_hides_its_counts_when_its_source_hides_one() -> None:
    """The shipped leak: net 'Acceptable' (35) minus code 2 (31) gave the hidden code 1 (4)."""
    b = book([("src", "categorical", 4), ("src", "categorical", 31), ("src", "categorical", 65),
              ("src_net", "categorical", 35), ("src_net", "categorical", 65)])
    b.loc[b["variable"] == "src_net", "derived_from"] = "src"
    out = shown(codebook.protect(b, 100, 10))
    assert out[:3] == [C, C, "65"] and out[3:] == [C, C]


@pytest.mark.parametrize("synthetic", [True, False])
def test_html_codebook_is_stamped_synthetic_only_for_a_synthetic_study(
        tmp_path: Path, synthetic: bool) -> None:
    b = book([("q", "categorical", 30), ("q", "categorical", 12)])
    codebook.write(b, "main", 42, tmp_path / "c.csv", tmp_path / "c.html", synthetic=synthetic)
    html = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert ("<title>SYNTHETIC DATA: Codebook: main survey</title>" in html) is synthetic
    assert ("SYNTHETIC DATA —" in html) is synthetic
    assert "SYNTHETIC" not in (tmp_path / "c.csv").read_text(encoding="utf-8")  # data, no stamp
