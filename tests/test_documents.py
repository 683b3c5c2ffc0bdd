"""Document analysis (parentlink.documents) on the hand-written fixture, with hand-worked numbers.

Fixture (tests/fixtures/qdpx): D001 Alpha (LA, Ann), D002 Beta (company, Ben only), D003 Delta
(LA, Ann + Ben), D004 Gamma (national, Ann + Ben). Presence over the codable codes
[Bias, Cost, Risk, Holistic, Profiling, Early warning] on the double-coded documents:
  Delta: Ann 0 0 1 1 1 0   Ben 0 0 1 1 0 0
  Gamma: Ann 0 1 1 0 0 1   Ben 0 1 0 1 0 1
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parentlink import documents as d
from parentlink.errors import UserError
from parentlink.qdpx import QdaProject, read_codes

FIXTURE = Path(__file__).parent / "fixtures" / "qdpx" / "project.qde"


@pytest.fixture(scope="module")
def project() -> QdaProject:
    return read_codes(FIXTURE)


def row(frame: pd.DataFrame, **match: object) -> pd.Series:
    hit = frame
    for key, value in match.items():
        hit = hit[hit[key] == value]
    assert len(hit) == 1, match
    return hit.iloc[0]


def test_counts_use_the_primary_coder(project: QdaProject) -> None:
    assert d.primary_coders(project) == {"D001": "Ann", "D002": "Ben", "D003": "Ann",
                                         "D004": "Ann"}
    freq = d.code_frequencies(project)
    assert list(freq.columns) == d.FREQ_COLUMNS
    risk = row(freq, level="code", code="Risk", doc_type="all")
    assert (risk["n_documents"], risk["n_segments"], risk["pct_documents"]) == (3, 3, 75.0)
    cost = row(freq, level="code", code="Cost", doc_type="national_government")
    assert (cost["n_documents"], cost["n_documents_of_type"], cost["pct_documents"]) == (1, 1, 100)
    assert row(freq, level="code", code="Bias", doc_type="company")["n_documents"] == 0


def test_parent_rollups_at_every_depth(project: QdaProject) -> None:
    freq = d.code_frequencies(project)
    knowledge = row(freq, level="parent", code="Knowledge", doc_type="all")
    assert (knowledge["n_documents"], knowledge["n_segments"]) == (3, 4)
    assert knowledge["parent_code"] == "Solutions"
    solutions = row(freq, level="parent", code="Solutions", doc_type="local_authority")
    assert (solutions["n_documents"], solutions["pct_documents"]) == (2, 100.0)


def test_cooccurrence(project: QdaProject) -> None:
    co = d.cooccurrence(project)
    overlap = row(co, scope="segment", doc_type="all", code_a="Cost", code_b="Holistic")
    assert overlap["n_segment_pairs"] == 1  # Alpha: 0-65 overlaps 45-124
    same_span = row(co, scope="segment", doc_type="company", code_a="Risk", code_b="Profiling")
    assert same_span["n_documents"] == 1
    both = row(co, scope="document", doc_type="all", code_a="Cost", code_b="Early warning")
    assert both["n_documents"] == 1
    assert both["jaccard_documents"] == pytest.approx(1 / 3)  # {D001,D004} vs {D002,D004}


def test_chains(project: QdaProject) -> None:
    ch = d.chains(project, problem_root="Problems", solution_root="Solutions")
    link = row(ch, doc_type="all", problem="Risk", solution="Knowledge")
    assert (link["n_documents_both"], link["n_documents_problem"]) == (2, 3)
    assert link["solution_level"] == "rationale"
    assert link["pct_of_problem_documents"] == pytest.approx(200 / 3)
    with pytest.raises(UserError, match="documents.problem_root"):
        d.chains(project)  # the default root name is not in this codebook


def test_cohens_kappa_and_alpha_by_hand() -> None:
    a = np.array([1, 1, 0, 0, 1, 0])
    b = np.array([1, 0, 0, 0, 1, 1])
    # p_o = 4/6, p_e = .5*.5 + .5*.5 = .5 -> kappa = (2/3 - 1/2) / (1/2) = 1/3
    assert d.cohens_kappa(a, b) == pytest.approx(1 / 3)
    # Coincidences: n = 12, n_1 = n_0 = 6, 4 off-diagonal -> alpha = 1 - 11*4/(2*36) = 7/18
    assert d.kripp_alpha(a, b) == pytest.approx(7 / 18)
    assert math.isnan(d.cohens_kappa(np.zeros(3), np.zeros(3)))
    assert math.isnan(d.kripp_alpha(np.zeros(3), np.zeros(3)))


def test_reliability_on_fixture(project: QdaProject) -> None:
    rel = d.reliability(project)
    assert list(rel.columns) == d.RELIABILITY_COLUMNS
    assert set(rel["unit"]) == {d.RELIABILITY_UNIT}
    pooled = row(rel, level="pooled")
    # 12 units (2 documents x 6 codes), 9 agree; p(Ann=1) = 6/12, p(Ben=1) = 5/12
    # p_e = .5*5/12 + .5*7/12 = .5 -> kappa = (.75 - .5)/.5 = .5
    # alpha: n = 24, n_1 = 11, n_0 = 13, 6 off-diagonal -> 1 - 23*6/(2*11*13) = 148/286
    assert pooled["n_units"] == 12 and pooled["percent_agreement"] == 75.0
    assert pooled["cohens_kappa"] == pytest.approx(0.5)
    assert pooled["krippendorff_alpha"] == pytest.approx(148 / 286)
    ann = [0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1]
    ben = [0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1]
    expected = krippendorff.alpha(reliability_data=np.array([ann, ben], dtype=float),
                                  level_of_measurement="nominal")
    assert pooled["krippendorff_alpha"] == pytest.approx(expected)
    cost = row(rel, level="code", code="Cost")
    assert (cost["cohens_kappa"], cost["krippendorff_alpha"]) == (1.0, 1.0)
    bias = row(rel, level="code", code="Bias")
    assert math.isnan(bias["cohens_kappa"]) and "undefined" in bias["note"]
    assert row(rel, level="code", code="Risk")["percent_agreement"] == 50.0


def test_exemplar_quotes(project: QdaProject) -> None:
    quotes = {(q["doc_type"], q["code"]): q for q in d.exemplar_quotes(project)}
    cost = quotes[("all", "Cost")]
    assert cost["document_id"] == "D001" and cost["in_length_range"]
    warning = quotes[("all", "Early warning")]  # nothing in 60-300: the shortest instead
    assert warning["quote"] == "An early warning system will help."
    assert not warning["in_length_range"]


def test_outputs_are_byte_identical(project: QdaProject, tmp_path: Path) -> None:
    def run(folder: Path) -> dict[str, bytes]:
        out = {name: folder / f"{name}.{'json' if name == 'quotes' else 'csv'}" for name in
               ("code_frequencies", "cooccurrence", "chains", "reliability", "quotes",
                "segments")}
        d.write_outputs(project, out, synthetic=True, problem_root="Problems",
                        solution_root="Solutions")
        return {k: Path(v).read_bytes() for k, v in out.items()}

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert first == second
    payload = json.loads(first["quotes"])
    assert payload["synthetic"] is True and payload["quotes"]
    seg = pd.read_csv(tmp_path / "a" / "segments.csv")
    assert seg.loc[seg["document_id"] == "D003", "counted"].tolist().count(False) == 2


def brute_force_pairs(seg: pd.DataFrame) -> dict[tuple[str, str, str, str], int]:
    """The definition, pair by pair: differently coded spans [s, e) that overlap."""
    counts: dict[tuple[str, str, str, str], int] = {}
    for (doc, dtype), grp in seg.groupby(["document_id", "doc_type"]):
        items = list(zip(grp["start"], grp["end"], grp["code_path"], strict=True))
        for i, (s1, e1, c1) in enumerate(items):
            for s2, e2, c2 in items[i + 1:]:
                if c1 != c2 and s1 < e2 and s2 < e1:
                    key = (str(dtype), str(doc), *sorted((c1, c2)))
                    counts[key] = counts.get(key, 0) + 1  # type: ignore[index]
    return counts


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 8), st.sampled_from("ABCD"),
                          st.sampled_from(["D1", "D2"])), max_size=40))
@settings(max_examples=200, deadline=None)
def test_segment_pairs_sweep_equals_the_definition(spans: list[tuple[int, int, str, str]]
                                                   ) -> None:
    seg = pd.DataFrame([{"document_id": doc, "doc_type": "t", "start": s, "end": s + n,
                         "code_path": c} for s, n, c, doc in spans],
                       columns=["document_id", "doc_type", "start", "end", "code_path"])
    got = {(t, doc, a, b): n for _, t, doc, a, b, n in d.segment_pairs(seg)}
    assert got == brute_force_pairs(seg)


def test_chain_root_without_children_names_the_key(project: QdaProject) -> None:
    # "Problems/Risk" exists but has no codes beneath it.
    with pytest.raises(UserError, match=r"documents\.problem_root .*has no codes beneath it"):
        d.chains(project, problem_root="Problems/Risk", solution_root="Solutions")
    with pytest.raises(UserError, match=r"documents\.solution_root"):
        d.chains(project, problem_root="Problems", solution_root="Solutions/Knowledge/Holistic")
