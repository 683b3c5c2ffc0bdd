"""Generate the seeded synthetic survey used by the R oracle (tests/oracle/oracle.R).

Run from the repository root: ``.venv/bin/python tests/oracle/make_fixture.py``. Writes
fixture_survey.csv, fixture_meta.json and targets_*.csv next to this file. Deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
N = 2000
SEED = 20260601

TARGETS = {
    "sex:age_band": {
        "labels": {f"{s}:{a}": f"{sl} {al}" for s, sl in [(1, "Male"), (2, "Female")]
                   for a, al in [(1, "18-24"), (2, "25-34"), (3, "35-44"), (4, "45-54"),
                                 (5, "55+")]},
        "shares": [0.015, 0.11, 0.19, 0.10, 0.025, 0.025, 0.16, 0.23, 0.13, 0.015],
    },
    "region": {"labels": {str(i): f"Region {i}" for i in range(1, 13)},
               "shares": [0.039, 0.110, 0.081, 0.072, 0.091, 0.094, 0.140, 0.136, 0.077, 0.045,
                          0.080, 0.035]},
    "ethnicity": {"labels": {"1": "White", "2": "Mixed", "3": "Asian", "4": "Black",
                             "5": "Other"}, "shares": [0.80, 0.03, 0.10, 0.05, 0.02]},
    "qualification": {"labels": {"1": "Degree", "2": "A level", "3": "GCSE", "4": "Other"},
                      "shares": [0.38, 0.22, 0.27, 0.13]},
}


def write_targets() -> None:
    for var, spec in TARGETS.items():
        lines = [f"# source: synthetic oracle fixture margins for {var}",
                 "variable,category,label,share"]
        for (cat, label), share in zip(spec["labels"].items(), spec["shares"], strict=True):
            lines.append(f"{var},{cat},{label},{share}")
        name = var.replace(":", "_x_")
        (HERE / f"targets_{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def draw(rng: np.random.Generator, probs: list[float], n: int = N) -> np.ndarray:
    p = np.asarray(probs) / np.sum(probs)
    return rng.choice(np.arange(1, len(p) + 1), size=n, p=p)


def categorical(rng: np.random.Generator, score: np.ndarray, cuts: list[float],
                dk: float) -> np.ndarray:
    latent = score + rng.logistic(size=len(score))
    out = 1 + np.searchsorted(np.asarray(cuts), latent)
    out[rng.random(len(score)) < dk] = 8
    return out


def make() -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    sex = draw(rng, [0.35, 0.65])
    age = draw(rng, [0.03, 0.22, 0.40, 0.28, 0.07])
    region = draw(rng, [4, 10, 8, 8, 9, 10, 11, 14, 9, 5, 8, 4])
    eth = draw(rng, [0.86, 0.03, 0.06, 0.03, 0.02])
    qual = draw(rng, [0.50, 0.22, 0.20, 0.08])
    family = draw(rng, [0.78, 0.22])
    income = draw(rng, [0.2, 0.25, 0.25, 0.2, 0.1])
    income[income == 5] = 9
    hh = draw(rng, [0.3, 0.5, 0.2])
    dw = np.exp(rng.normal(0, 0.35, N)) * np.where(region == 12, 1.6, 1.0)
    score = 0.4 * (qual - 2) - 0.3 * (eth > 1) + 0.25 * (family - 1) + 0.1 * (age - 3)
    df = pd.DataFrame({
        "respondent_id": [f"R{i:05d}" for i in range(1, N + 1)],
        "sex": sex, "age_band": age, "region": region, "ethnicity": eth,
        "qualification": qual, "family_type": family, "income": income, "hh_size_group": hh,
        "design_weight": np.round(dw, 6),
        "heard": categorical(rng, score, [-0.8, 0.9], 0.06),
        "acc_plan_net": categorical(rng, -score, [-0.5, 0.6], 0.08),
        "trust_council_net": categorical(rng, 0.6 * score, [0.1], 0.10),
        "consent": categorical(rng, score - 0.3 * (hh - 2), [-1.2, 0.4], 0.05),
    })
    lin = -0.4 + 0.5 * (qual == 1) - 0.4 * (eth == 3) + 0.3 * (family == 2) - 0.2 * (age == 5)
    df["social_licence_high"] = (rng.random(N) < 1 / (1 + np.exp(-lin))).astype(int)
    return df


META_LABELS = {
    "sex": ("Sex", {"1": "Male", "2": "Female"}, []),
    "age_band": ("Age band", {"1": "18-24", "2": "25-34", "3": "35-44", "4": "45-54",
                              "5": "55+"}, []),
    "region": ("Region", {str(i): f"Region {i}" for i in range(1, 13)}, []),
    "ethnicity": ("Ethnicity", TARGETS["ethnicity"]["labels"], []),
    "qualification": ("Qualification", TARGETS["qualification"]["labels"], []),
    "family_type": ("Family type", {"1": "Couple", "2": "Lone parent"}, []),
    "income": ("Income", {"1": "Q1", "2": "Q2", "3": "Q3", "4": "Q4", "9": "Refused"}, [9]),
    "hh_size_group": ("Household size", {"1": "2", "2": "3-4", "3": "5+"}, []),
    "heard": ("Heard of linkage", {"1": "A lot", "2": "A little", "3": "Nothing",
                                   "8": "Don't know"}, [8]),
    "acc_plan_net": ("Acceptable: planning", {"1": "Acceptable", "2": "Neither",
                                              "3": "Unacceptable", "8": "Don't know"}, [8]),
    "trust_council_net": ("Trust: council", {"1": "Trust", "2": "Do not trust",
                                             "8": "Don't know"}, [8]),
    "consent": ("Consent", {"1": "Always", "2": "Sometimes", "3": "Never",
                            "8": "Don't know"}, [8]),
    "social_licence_high": ("High social licence", {"0": "No", "1": "Yes"}, []),
}


def meta() -> dict[str, object]:
    variables = {}
    for name, (label, vl, excl) in META_LABELS.items():
        variables[name] = {"label": label, "type": "categorical", "value_labels": vl,
                           "missing": {str(c): "dont_know" for c in excl},
                           "exclude_from_base": excl, "source": None, "derived_from": None,
                           "note": ""}
    return {"survey": "fixture", "n": N, "weighted": True, "variables": variables}


if __name__ == "__main__":
    write_targets()
    make().to_csv(HERE / "fixture_survey.csv", index=False)
    (HERE / "fixture_meta.json").write_text(json.dumps(meta(), indent=1) + "\n", encoding="utf-8")
