"""SYNTHETIC delivery of the example study 'Schools and linked pupil data' (raw/school_survey.sav).

The example study's own generator, not the engine's: a survey agency's file of 640 school leaders
in England asked whether the council may link pupil records, with a stratified design (region x
phase), a design weight, an e-mail column the plan must drop and value labels with SPSS
user-missing codes. Seeded: `python examples/schools/make_data.py` rewrites the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from parentlink.spss import write_sav

HERE = Path(__file__).resolve().parent
N = 640
SEED = 20261130

REGIONS = {1: "North", 2: "Midlands", 3: "London", 4: "South"}
PHASES = {1: "Primary", 2: "Secondary", 3: "Special or alternative provision"}
SIZES = {1: "Under 200 pupils", 2: "200 to 599 pupils", 3: "600 pupils or more"}
FSM = {1: "Under 15% of pupils", 2: "15% to 29%", 3: "30% or more"}
AGREE = {1: "Acceptable", 2: "Neither", 3: "Unacceptable", 8: "Don't know", 9: "Refused"}
TRUST = {1: "Trust a great deal", 2: "Trust somewhat", 3: "Do not trust", 8: "Don't know",
         9: "Refused"}
ITEMS = {  # variable: (label, acceptable share for an average school)
    "Q1": ("Council links pupil records to plan school places and services", 0.71),
    "Q2": ("Council links pupil records to identify pupils who may need support", 0.52),
    "Q3": ("Council uses a predictive model to flag pupils at risk", 0.27),
    "Q4": ("Council shares linked pupil records with a private analytics company", 0.09),
}


def generate() -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    region = rng.choice(list(REGIONS), N, p=[0.3, 0.25, 0.2, 0.25])
    phase = rng.choice(list(PHASES), N, p=[0.6, 0.3, 0.1])
    size = np.where(phase == 1, rng.choice([1, 2], N, p=[0.55, 0.45]),
                    rng.choice([2, 3], N, p=[0.4, 0.6]))
    fsm = rng.choice(list(FSM), N, p=[0.4, 0.35, 0.25])
    # Secondary and special schools were sampled at twice the rate of primaries.
    design_wt = np.where(phase == 1, 2.0, 1.0) * rng.uniform(0.9, 1.1, N)
    df = pd.DataFrame({
        "school_id": [f"URN{100000 + i}" for i in rng.permutation(N)],
        "email": [f"head{i}@school.example" for i in range(N)],
        "region": region, "phase": phase, "size": size, "fsm": fsm,
        "design_wt": design_wt.round(4),
    })
    lift = np.where(fsm == 3, -0.1, 0.0) + np.where(phase == 2, -0.05, 0.0)
    for var, (_, p) in ITEMS.items():
        share = np.clip(p + lift, 0.02, 0.98)
        u = rng.uniform(size=N)
        answer = np.where(u < share, 1, np.where(u < share + (1 - share) * 0.3, 2, 3))
        odd = rng.uniform(size=N)
        answer = np.where(odd < 0.03, 8, np.where(odd < 0.04, 9, answer))
        df[var] = answer
    trust_share = np.clip(0.55 + np.where(fsm == 3, -0.12, 0.0), 0.05, 0.95)
    u = rng.uniform(size=N)
    df["Q5"] = np.where(u < trust_share * 0.4, 1, np.where(u < trust_share, 2, 3))
    df.loc[rng.uniform(size=N) < 0.03, "Q5"] = 8
    return df


def write(df: pd.DataFrame, path: Path) -> None:
    labels = {"school_id": "School unique reference number", "email": "Contact e-mail",
              "region": "Region", "phase": "Phase of education", "size": "Pupils on roll",
              "fsm": "Pupils eligible for free school meals", "design_wt": "Design weight",
              **{v: lab for v, (lab, _) in ITEMS.items()},
              "Q5": "Trust the council to use linked pupil data responsibly"}
    value_labels = {"region": REGIONS, "phase": PHASES, "size": SIZES, "fsm": FSM,
                    **{v: AGREE for v in ITEMS}, "Q5": TRUST}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_sav(df, path, epoch=1764460800, column_labels=[labels[c] for c in df.columns],
                         variable_value_labels=value_labels,
                         missing_ranges={v: [8, 9] for v in [*ITEMS, "Q5"]},
                         file_label="SYNTHETIC example study: schools and linked pupil data")


if __name__ == "__main__":
    write(generate(), HERE / "raw" / "school_survey.sav")
