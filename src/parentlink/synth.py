"""Seeded generator of the SYNTHETIC survey files shipped in raw/.

Nothing here is real data. The generator mirrors the design of the real study (see raw/README.md):
an agency-style SPSS delivery of a probability-panel survey of parents (main) and a 365-record online
pilot whose counts reproduce the research team's published pilot figures exactly.

    python -m parentlink.synth --out raw/                 # the shipped study (seed 20210301)
    python -m parentlink.synth --out big/ --n 1000000     # a bigger main survey for benchmarks
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from parentlink.spss import write_sav

SEED = 20210301
# The synthetic files carry a fixed creation date, so `make raw` (which exports SOURCE_DATE_EPOCH
# = the commit time for the builds) regenerates exactly the committed files.
RAW_EPOCH = 1614556800  # 2021-03-01
FIELD_START = pd.Timestamp("2021-02-01 08:00:00")

DK, REFUSED, NOT_ASKED = 8, 9, -1
MISSING_LABELS = {DK: "Don't know", REFUSED: "Prefer not to say", NOT_ASKED: "Not asked (routed out)"}

YES_NO = {1: "Yes", 2: "No"}
ACCEPT5 = {
    1: "Very acceptable",
    2: "Fairly acceptable",
    3: "Neither acceptable nor unacceptable",
    4: "Fairly unacceptable",
    5: "Very unacceptable",
}
TRUST4 = {1: "A great deal", 2: "A fair amount", 3: "Not very much", 4: "Not at all"}
AGREE5 = {
    1: "Strongly agree",
    2: "Tend to agree",
    3: "Neither agree nor disagree",
    4: "Tend to disagree",
    5: "Strongly disagree",
}
REGIONS = [
    "North East",
    "North West",
    "Yorkshire and The Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
    "Wales",
    "Scotland",
    "Northern Ireland",
]
ETHNICITY = {
    1: "White",
    2: "Mixed or multiple ethnic groups",
    3: "Asian or Asian British",
    4: "Black, Black British, Caribbean or African",
    5: "Other ethnic group",
}
QUALIFICATION = {
    1: "Degree or above",
    2: "A level or equivalent",
    3: "GCSE or equivalent",
    4: "Other or no qualifications",
}
NSSEC = {
    1: "Managerial, administrative and professional",
    2: "Intermediate occupations",
    3: "Routine and manual occupations",
    4: "Never worked or long-term unemployed",
}
INCOME = {1: "Under £20,000", 2: "£20,000 to £39,999", 3: "£40,000 to £59,999", 4: "£60,000 or more"}

# (agency name, label, relative acceptability): purposes of linking records (Q2 grid)
PURPOSES = [
    ("Q2_1", "Plan and improve services for families", 0.9),
    ("Q2_2", "Identify families who might need support", 0.2),
    ("Q2_3", "Identify families who have not asked for support", -0.9),
    ("Q2_4", "Predict which children are at risk of maltreatment", -0.4),
    ("Q2_5", "Save public money by intervening early", -0.8),
    ("Q2_6", "Anonymised research", 1.1),
]
SOURCES = [
    ("Q3_1", "Health records", 0.2),
    ("Q3_2", "School records", 0.5),
    ("Q3_3", "Police records", 0.0),
    ("Q3_4", "Social care records", 0.1),
    ("Q3_5", "Benefits and tax records", -0.6),
    ("Q3_6", "Bank and credit records", -1.8),
    ("Q3_7", "Supermarket loyalty card records", -2.0),
    ("Q3_8", "Social media posts", -2.1),
]
ORGS = [
    ("Q4_1", "The NHS", 1.0),
    ("Q4_2", "Schools", 0.9),
    ("Q4_3", "The police", 0.2),
    ("Q4_4", "Local councils", -0.1),
    ("Q4_5", "Social services", -0.3),
    ("Q4_6", "Central government", -0.8),
    ("Q4_7", "Private companies", -2.2),
    ("Q4_8", "Charities", 0.0),
    ("Q4_9", "University researchers", 0.6),
]
WEB_ONLY_SOURCES = ("Q3_7", "Q3_8")  # routed out of the phone interview: coded -1 (not asked)

FIRST_NAMES = [
    "Sarah",
    "Emma",
    "Claire",
    "Mohammed",
    "James",
    "Aisha",
    "David",
    "Priya",
    "Joanne",
    "Kwame",
    "Rebecca",
    "Daniel",
    "Fatima",
    "Gareth",
    "Siobhan",
]
SURNAMES = ["Jones", "Smith", "Patel", "Okafor", "Williams", "Begum", "Campbell", "Evans"]
COMMENT_OPENERS = [
    "I worry that linking records will be used against families who are already struggling.",
    "Data should only be shared if parents are told first and can say no.",
    "If it helps a child at risk then it is worth it, as long as it is secure.",
    "Councils make mistakes with records and families pay the price.",
    "Private companies should not be anywhere near our children's data.",
    "Anonymised research is fine but identifying individual families is not.",
    "I have nothing to hide but I do not trust the government with this.",
    "Early help is good but this feels like surveillance of poor families.",
]
COMMENT_EXTRAS = [
    "My name is {first} {last} and you can contact me about this.",
    "Email me at {first_l}.{last_l}@example.org if you want to talk.",
    "Call me on 07700 900{num3}.",
    "We live near {postcode} and the council already knows everything.",
    "<b>Important:</b> <i>please read this</i>",
    '<img src="file:///etc/passwd"> <a href="http://example.com/x">link</a>',
    "Ask {first} at the school office, she saw what happened.",
]
POSTCODES = ["SO17 1BJ", "W1B 2HW", "M1 1AE", "LS2 9JT", "CF10 3AT", "EH8 9YL", "BT7 1NN"]


@dataclass(frozen=True)
class QualityCounts:
    """How many delivered records carry each built-in quality problem (per 1,000 records)."""

    non_consent: int = 14
    screened_out: int = 18
    duplicates: int = 8
    speeders: int = 22
    straight_liners: int = 12
    failed_attention: int = 15
    partial: int = 16


def _cat(rng: np.random.Generator, probs: list[float], n: int) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return rng.choice(np.arange(1, len(p) + 1), size=n, p=p / p.sum())


def _ordinal(latent: np.ndarray, cuts: tuple[float, ...]) -> np.ndarray:
    """Map a latent score (high = accepting) to codes 1 (most) .. len(cuts)+1 (least)."""
    return (len(cuts) + 1 - np.searchsorted(np.asarray(cuts), latent)).astype(np.int64)


def _demographics(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Draw parents with the sample's known skews: graduates and older parents over-represented."""
    sex = _cat(rng, [0.40, 0.60], n)
    age = np.clip(np.round(rng.normal(41.5, 8.0, n)), 18, 69).astype(np.int64)
    region = _cat(rng, [0.045, 0.11, 0.085, 0.075, 0.085, 0.10, 0.11, 0.15, 0.09, 0.05, 0.07, 0.03], n)
    ethnicity = _cat(rng, [0.84, 0.03, 0.08, 0.035, 0.015], n)
    qualification = _cat(rng, [0.52, 0.20, 0.20, 0.08], n)
    lone = rng.random(n) < np.where(sex == 2, 0.22, 0.04) + np.where(age < 30, 0.10, 0.0)
    nssec_p = np.where(qualification[:, None] == 1, [0.62, 0.22, 0.13, 0.03], [0.22, 0.28, 0.40, 0.10])
    nssec = (rng.random(n)[:, None] > np.cumsum(nssec_p, axis=1)).sum(axis=1) + 1
    inc_latent = (qualification == 1) * 0.9 - lone * 1.1 - (nssec >= 3) * 0.7 + rng.normal(0, 0.8, n)
    income = _ordinal(-inc_latent, (-0.9, 0.0, 0.8))
    n_children = np.clip(rng.poisson(0.9, n) + 1, 1, 7)
    household = n_children + np.where(lone, 1, 2) + (rng.random(n) < 0.08)
    youngest = np.clip(np.round(rng.uniform(0, 17.99, n) * (1 - 0.3 * (n_children > 2))), 0, 17)
    uc = np.where(rng.random(n) < 0.10 + 0.30 * (income == 1) + 0.15 * lone, 1, 2)
    care = np.where(rng.random(n) < 0.05 + 0.08 * (income == 1) + 0.05 * lone, 1, 2)
    return pd.DataFrame(
        {
            "D1": sex,
            "D2": age,
            "D3": region,
            "D4": ethnicity,
            "D5": qualification,
            "D6": nssec,
            "D7": income,
            "D8": np.where(lone, 2, 1),
            "D9": n_children,
            "D10": household,
            "D11": youngest.astype(np.int64),
            "D12": uc,
            "D13": care,
        }
    )


def _licence_latent(rng: np.random.Generator, d: pd.DataFrame) -> np.ndarray:
    """Social licence: lower for Black, lone, younger parents, larger households, lower SES."""
    return (
        -0.55 * (d["D4"] == 4)
        - 0.15 * (d["D4"] == 3)
        - 0.45 * (d["D8"] == 2)
        - 0.45 * (d["D2"] < 25)
        - 0.20 * ((d["D2"] >= 25) & (d["D2"] < 35))
        - 0.35 * (d["D10"] >= 5)
        + 0.30 * (d["D5"] == 1)
        - 0.30 * (d["D5"] == 4)
        + 0.20 * (d["D7"] == 4)
        - 0.30 * (d["D7"] == 1)
        + 0.15 * (d["D6"] == 1)
        - 0.25 * (d["D6"] == 4)
        - 0.35 * (d["D13"] == 1)
        + rng.normal(0, 0.7, len(d))
    ).to_numpy()


def _with_missing(rng: np.random.Generator, codes: np.ndarray, p_dk: float, p_ref: float) -> np.ndarray:
    u = rng.random(len(codes))
    out = codes.copy()
    out[u < p_dk] = DK
    out[(u >= p_dk) & (u < p_dk + p_ref)] = REFUSED
    return out


def _substantive(rng: np.random.Generator, latent: np.ndarray, d: pd.DataFrame) -> dict[str, np.ndarray]:
    n = len(latent)
    out: dict[str, np.ndarray] = {}
    know = 0.35 * (d["D5"] == 1).to_numpy() + 0.25 * latent + rng.normal(0, 0.8, n)
    out["Q1"] = _with_missing(rng, _ordinal(know, (-0.5, 0.45)), 0.02, 0.0)
    for name, _, shift in PURPOSES:
        lat = latent + shift + rng.normal(0, 0.8, n)
        out[name] = _with_missing(rng, _ordinal(lat, (-1.3, -0.5, 0.0, 0.8)), 0.04, 0.01)
    for name, _, shift in SOURCES:
        lat = latent + shift + rng.normal(0, 0.8, n)
        out[name] = _with_missing(rng, _ordinal(lat, (-1.3, -0.5, 0.0, 0.8)), 0.04, 0.01)
    for name, _, shift in ORGS:
        lat = latent + shift + rng.normal(0, 0.8, n)
        out[name] = _with_missing(rng, _ordinal(lat, (-1.0, 0.0, 1.0)), 0.03, 0.0)
    consent = _ordinal(-latent + rng.normal(0, 0.6, n), (0.5, 1.8))  # most say "always ask first"
    out["Q5"] = _with_missing(rng, 4 - consent, 0.02, 0.0)
    out["Q6"] = _with_missing(
        rng, _ordinal(latent - 0.7 + rng.normal(0, 0.8, n), (-1.3, -0.5, 0.0, 0.8)), 0.03, 0.0
    )
    out["Q7"] = np.full(n, 4)  # attention check: "please select 'Tend to disagree'"
    return out


def _comments(rng: np.random.Generator, n: int) -> np.ndarray:
    has = rng.random(n) < 0.3
    opener = rng.integers(0, len(COMMENT_OPENERS), n)
    extra = rng.integers(0, len(COMMENT_EXTRAS) * 3, n)  # two thirds of comments carry no extra
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(SURNAMES), n)
    num3 = rng.integers(100, 999, n)
    post = rng.integers(0, len(POSTCODES), n)
    out = np.full(n, "", dtype=object)
    for i in np.flatnonzero(has):
        text = COMMENT_OPENERS[opener[i]]
        if extra[i] < len(COMMENT_EXTRAS):
            f, s = FIRST_NAMES[first[i]], SURNAMES[last[i]]
            text += " " + COMMENT_EXTRAS[extra[i]].format(
                first=f,
                last=s,
                first_l=f.lower(),
                last_l=s.lower(),
                num3=num3[i],
                postcode=POSTCODES[post[i]],
            )
        out[i] = text
    return out


def _panel_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    ids = rng.choice(np.arange(1_000_000, 9_999_999), size=n, replace=False)
    return np.array([f"PNL{i}" for i in ids], dtype=object)


def _design_weight(rng: np.random.Generator, d: pd.DataFrame) -> np.ndarray:
    """Selection x non-response weight as a panel would supply it: mean 1, range about 0.4-2.8."""
    w = np.exp(
        0.25 * (d["D2"] < 30) + 0.2 * (d["D5"] >= 3) + 0.15 * (d["D4"] >= 3) + rng.normal(0, 0.25, len(d))
    )
    return np.round(w / w.mean(), 4)


def _apply_quality_problems(
    rng: np.random.Generator, df: pd.DataFrame, q: QualityCounts, scale: float
) -> pd.DataFrame:
    """Plant the problems cleaning must catch; returns the delivered file (with duplicate rows)."""
    n = len(df)
    counts = {k: int(round(v * scale)) for k, v in q.__dict__.items()}
    order = rng.permutation(n)
    pos = 0

    def take(k: int) -> np.ndarray:
        nonlocal pos
        idx = order[pos : pos + k]
        pos += k
        return idx

    grid = [c for c, *_ in PURPOSES + SOURCES + ORGS]
    after_screen = ["D" + str(i) for i in range(1, 14)] + ["Q1", *grid, "Q5", "Q6", "Q7"]
    nc = take(counts["non_consent"])
    df.loc[df.index[nc], "consent"] = 2
    so = take(counts["screened_out"])
    df.loc[df.index[so], "S1"] = 2
    stopped = np.concatenate([nc, so])
    df.loc[df.index[stopped], after_screen] = np.nan
    df.loc[df.index[stopped], "Q8"] = ""
    sp = take(counts["speeders"])
    dur = df["end_time"] - df["start_time"]
    df.loc[df.index[sp], "end_time"] = df["start_time"].iloc[sp] + dur.iloc[sp] * 0.22
    sl = take(counts["straight_liners"])
    for c in grid:
        df.loc[df.index[sl], c] = 3 if c.startswith(("Q2", "Q3")) else 2
    fa = take(counts["failed_attention"])
    df.loc[df.index[fa], "Q7"] = rng.choice([1, 2, 3, 5], size=len(fa))
    pa = take(counts["partial"])
    late = [c for c, *_ in SOURCES + ORGS] + ["Q5", "Q6", "Q7"]
    df.loc[df.index[pa], late] = np.nan
    df.loc[df.index[pa], "end_time"] = df["start_time"].iloc[pa] + dur.iloc[pa] * 0.5
    dups = df.iloc[take(counts["duplicates"])].copy()
    dups["start_time"] = dups["start_time"] + pd.Timedelta(days=2)
    dups["end_time"] = dups["end_time"] + pd.Timedelta(days=2)
    out = pd.concat([df, dups], ignore_index=True)
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


def make_main(n: int = 1040, seed: int = SEED) -> pd.DataFrame:
    """The delivered main-survey file (about n records before duplicates) as an agency would send it."""
    rng = np.random.default_rng(seed)
    d = _demographics(rng, n)
    latent = _licence_latent(rng, d)
    df = pd.DataFrame({"panel_id": _panel_ids(rng, n)})
    has_email = rng.random(n) < 0.6
    df["email"] = np.where(has_email, [f"panel{i}@example.net" for i in range(n)], "")
    mode = np.where(rng.random(n) < 0.12, 2, 1)
    start = FIELD_START + pd.to_timedelta(rng.integers(0, 42 * 86400, n), unit="s")
    minutes = np.exp(rng.normal(np.log(14.0), 0.35, n)) + np.where(mode == 2, 8, 0)
    df["start_time"] = start.floor("s")
    df["end_time"] = (start + pd.to_timedelta(np.round(minutes * 60), unit="s")).floor("s")
    df["mode"] = mode
    df["consent"] = 1
    df["S1"] = 1
    df["design_wt"] = _design_weight(rng, d)
    df = pd.concat([df, d], axis=1)
    for name, codes in _substantive(rng, latent, d).items():
        df[name] = codes
    for name in WEB_ONLY_SOURCES:
        df.loc[df["mode"] == 2, name] = NOT_ASKED
    df["D7"] = _with_missing(rng, df["D7"].to_numpy(), 0.0, 0.06)
    df["D13"] = _with_missing(rng, df["D13"].to_numpy(), 0.0, 0.02)
    df["D12"] = _with_missing(rng, df["D12"].to_numpy(), 0.01, 0.01)
    df["Q8"] = _comments(rng, n)
    df = _apply_quality_problems(rng, df, QualityCounts(), n / 1000)
    df = _with_sample_design(df, seed)
    numeric = [c for c in df.columns if c not in ("panel_id", "email", "start_time", "end_time", "Q8")]
    df[numeric] = df[numeric].astype(float)
    return df


def _with_sample_design(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Strata and PSUs as a panel delivers them: the stratum is the region the panel member was
    recruited in (their answer to D3, or for the few whose answer is blank a region drawn like
    the others'), the PSU a postcode sector numbered within its stratum (so `nest` is needed).

    Drawn from a separate random stream (seeded with [seed, 16]) after every other column, so
    the columns that existed before are identical value for value. A panel member keeps one
    PSU (duplicated records share it); each stratum has at least 3 PSUs.
    """
    rng = np.random.default_rng([seed, 16])
    first = df.drop_duplicates("panel_id").sort_values("panel_id")
    region = first["D3"].to_numpy(dtype=float)
    known = region[np.isfinite(region)].astype(np.int64)
    # the frame knows the region of members whose answer was later blanked: drawn as the rest
    stratum = np.where(np.isfinite(region), np.nan_to_num(region),
                       rng.choice(known, size=len(region))).astype(np.int64)
    psu = np.zeros(len(first), dtype=np.int64)
    for h in np.unique(stratum):
        rows = np.flatnonzero(stratum == h)
        k = max(3, int(round(len(rows) / 12)))
        psu[rows] = rng.permutation(np.resize(np.arange(1, k + 1), len(rows)))
    out = df.copy()
    by_id = dict(zip(first["panel_id"], zip(stratum, psu, strict=True), strict=True))
    out["strat"] = [by_id[i][0] for i in df["panel_id"]]
    out["psu"] = [by_id[i][1] for i in df["panel_id"]]
    return out


MAIN_LABELS: dict[str, str] = {
    "panel_id": "Panel member identifier",
    "email": "Panel member e-mail address",
    "start_time": "Interview start (date and time)",
    "end_time": "Interview end (date and time)",
    "mode": "Interview mode",
    "consent": "Consent to take part",
    "S1": "Screener: parent or guardian of a dependent child (under 16, or 16-19 in education)",
    "design_wt": "Panel design weight (selection x non-response)",
    "strat": "Sampling stratum (recruitment region)",
    "psu": "Primary sampling unit (postcode sector, numbered within stratum)",
    "D1": "Sex of parent",
    "D2": "Age of parent (years)",
    "D3": "Region (ITL1) / nation",
    "D4": "Ethnic group (ONS 5 groups)",
    "D5": "Highest qualification",
    "D6": "Occupational class (NS-SEC 3 classes + never worked)",
    "D7": "Household income band (gross, annual)",
    "D8": "Family type",
    "D9": "Number of dependent children",
    "D10": "Household size (people)",
    "D11": "Age of youngest child (years)",
    "D12": "Anyone in household receives Universal Credit",
    "D13": "Any contact with children's social care (ever)",
    "Q1": "Before today, had you heard of linking records about families held by different services?",
    **{c: f"How acceptable is linking records about families to: {t}" for c, t, _ in PURPOSES},
    **{c: f"How acceptable is including this in linked records: {t}" for c, t, _ in SOURCES},
    **{c: f"How much would you trust to use linked data responsibly: {t}" for c, t, _ in ORGS},
    "Q5": "Should parents be asked before records about their family are linked?",
    "Q6": "'The more we know about families, the more the nation's wellbeing can be improved'",
    "Q7": "Attention check: please select 'Tend to disagree'",
    "Q8": "Any other comments about linking records about families (open text)",
}


def main_value_labels() -> dict[str, dict[int, str]]:
    vl: dict[str, dict[int, str]] = {
        "mode": {1: "Web", 2: "Telephone"},
        "consent": {1: "Yes, I agree to take part", 2: "No"},
        "S1": YES_NO,
        "D1": {1: "Male", 2: "Female"},
        "D3": dict(enumerate(REGIONS, start=1)),
        "strat": dict(enumerate(REGIONS, start=1)),
        "D4": ETHNICITY,
        "D5": QUALIFICATION,
        "D6": NSSEC,
        "D7": {**INCOME, REFUSED: MISSING_LABELS[REFUSED]},
        "D8": {1: "Couple family", 2: "Lone parent family"},
        "D12": {**YES_NO, DK: MISSING_LABELS[DK], REFUSED: MISSING_LABELS[REFUSED]},
        "D13": {**YES_NO, REFUSED: MISSING_LABELS[REFUSED]},
        "Q1": {
            1: "Yes, and I know how it works",
            2: "Yes, but I don't really know how it works",
            3: "No, I had not heard of it",
            DK: MISSING_LABELS[DK],
        },
        "Q5": {
            1: "Always ask parents first",
            2: "Sometimes ask parents first",
            3: "No need to ask parents",
            DK: MISSING_LABELS[DK],
        },
        "Q6": {**AGREE5, DK: MISSING_LABELS[DK]},
        "Q7": AGREE5,
    }
    for c, *_ in PURPOSES + SOURCES:
        vl[c] = {
            **ACCEPT5,
            DK: MISSING_LABELS[DK],
            REFUSED: MISSING_LABELS[REFUSED],
            NOT_ASKED: MISSING_LABELS[NOT_ASKED],
        }
    for c, *_ in ORGS:
        vl[c] = {**TRUST4, DK: MISSING_LABELS[DK]}
    return vl


def main_missing() -> dict[str, list[float]]:
    """SPSS user-missing codes per variable (kept distinct: 8 DK, 9 refused, -1 not asked)."""
    miss: dict[str, list[float]] = {"D7": [REFUSED], "D12": [DK, REFUSED], "D13": [REFUSED]}
    for c in ["Q1", "Q5", "Q6"] + [c for c, *_ in ORGS]:
        miss[c] = [DK]
    for c, *_ in PURPOSES + SOURCES:
        miss[c] = [DK, REFUSED, NOT_ASKED]
    return miss


def _measures(df: pd.DataFrame, scale: set[str]) -> dict[str, str]:
    out = {}
    for c in df.columns:
        if c in scale:
            out[c] = "scale"
        elif df[c].dtype == object:
            out[c] = "nominal"
        elif c.startswith(("Q2", "Q3", "Q4", "Q6", "D5", "D7")):
            out[c] = "ordinal"
        else:
            out[c] = "nominal"
    return out


def write_main(path: Path, n: int = 1040, seed: int = SEED) -> None:
    df = make_main(n, seed)
    scale = {"design_wt", "D2", "D9", "D10", "D11", "start_time", "end_time"}
    fmt = {
        "start_time": "DATETIME20",
        "end_time": "DATETIME20",
        "design_wt": "F8.4",
        "panel_id": "A10",
        "email": "A40",
        "Q8": "A1000",
    }
    for c in df.columns:
        if c not in fmt and c not in ("start_time", "end_time"):
            fmt[c] = "F4.0"
    write_sav(
        df,
        path,
        epoch=RAW_EPOCH,
        file_label="SYNTHETIC parents' data linkage survey - not real data",
        column_labels=MAIN_LABELS,
        variable_value_labels=main_value_labels(),
        missing_ranges=main_missing(),
        variable_measure=_measures(df, scale),
        variable_format=fmt,
        note=["SYNTHETIC DATA generated by parentlink.synth.", "No real respondents."],
    )


# Pilot: counts per answer that reproduce the published figures (seed blog post).
PILOT_N = 365
PILOT_COUNTS: dict[str, dict[int, int]] = {
    # heard: 183/365 = 50.1% "heard and know how it works" ("only half")
    "P1": {1: 183, 2: 110, 3: 65, DK: 7},
    # plan and improve family support services: 164/365 = 44.9% acceptable ("less than half")
    "P2_1": {1: 58, 2: 106, 3: 52, 4: 60, 5: 80, DK: 9},
    # identify families who had not asked for support: 55/365 = 15.1% ("around 15 percent")
    "P2_2": {1: 17, 2: 38, 3: 45, 4: 85, 5: 172, DK: 8},
    # save public money by catching problems early: 54/365 = 14.8% ("around 15 percent")
    "P2_3": {1: 16, 2: 38, 3: 58, 4: 90, 5: 155, DK: 8},
    # "the more we know about families ...": 73/365 = 20.0% agree ("about 1 in 5")
    "P3": {1: 21, 2: 52, 3: 80, 4: 92, 5: 112, DK: 8},
    # trust private companies: 4 definitely would, 309 would not (published counts)
    "P4_1": {1: 4, 2: 38, 3: 309, DK: 14},
    "P4_2": {1: 12, 2: 128, 3: 198, DK: 27},
    "P4_3": {1: 6, 2: 84, 3: 250, DK: 25},
    "P5": {1: 301, 2: 48, 3: 6, DK: 10},
}
TRUST_YN = {1: "Yes, definitely", 2: "Yes, probably", 3: "No", DK: MISSING_LABELS[DK]}
PILOT_LABELS: dict[str, str] = {
    "resp_id": "Response identifier (survey platform)",
    "channel": "Recruitment channel",
    "P_sex": "Sex of parent",
    "P_eth": "Ethnic group",
    "P_inc": "Household income band",
    "P1": "Have you heard of data linkage and how it works?",
    "P2_1": "Acceptable to link records to: improve planning and delivery of family support services",
    "P2_2": (
        "Acceptable to link records to: identify families who might need intervention "
        "but have not asked for support"
    ),
    "P2_3": (
        "Acceptable to link records to: save public money by preventing or catching family problems early"
    ),
    "P3": "'The more we know about families, the more the nation's wellbeing can be improved'",
    "P4_1": "Would you trust private companies to link records about families?",
    "P4_2": "Would you trust your local council to link records about families?",
    "P4_3": "Would you trust central government to link records about families?",
    "P5": "Should parents be asked before records about their family are linked?",
    "P6": "Any other comments (open text)",
}


def _exact(rng: np.random.Generator, counts: dict[int, int], rank: np.ndarray) -> np.ndarray:
    """Exactly these counts, assigned along a latent rank (so items correlate), DK at random."""
    substantive = sorted(c for c in counts if c != DK)
    codes = np.concatenate([np.full(counts[c], c) for c in substantive])
    out = np.empty(len(rank), dtype=np.int64)
    dk_idx = rng.choice(len(rank), size=counts.get(DK, 0), replace=False)
    rest = np.setdiff1d(np.arange(len(rank)), dk_idx)
    out[dk_idx] = DK
    out[rest[np.argsort(-rank[rest], kind="stable")]] = codes
    return out


def make_pilot(seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    n = PILOT_N
    latent = rng.normal(0, 1, n)
    df = pd.DataFrame({"resp_id": [f"MN-{i:05d}" for i in rng.choice(99999, n, replace=False)]})
    df["channel"] = np.where(rng.random(n) < 0.78, 1, 2)
    df["P_sex"] = np.where(rng.random(n) < 0.91, 2, 1)
    df["P_eth"] = _cat(rng, [0.90, 0.03, 0.04, 0.02, 0.01], n)
    df["P_inc"] = _with_missing(rng, _cat(rng, [0.08, 0.22, 0.30, 0.40], n), 0.0, 0.05)
    for name, counts in PILOT_COUNTS.items():
        df[name] = _exact(rng, counts, latent + rng.normal(0, 0.6, n))
    df["P6"] = _comments(rng, n)
    return df.astype({c: float for c in df.columns if c not in ("resp_id", "P6")})


def pilot_value_labels() -> dict[str, dict[int, str]]:
    vl: dict[str, dict[int, str]] = {
        "channel": {1: "Mumsnet", 2: "Twitter"},
        "P_sex": {1: "Male", 2: "Female"},
        "P_eth": ETHNICITY,
        "P_inc": {**INCOME, REFUSED: MISSING_LABELS[REFUSED]},
        "P1": {
            1: "Yes, and I know how it works",
            2: "Yes, but not how it works",
            3: "No",
            DK: MISSING_LABELS[DK],
        },
        "P3": {**AGREE5, DK: MISSING_LABELS[DK]},
        "P5": {
            1: "Always ask parents first",
            2: "Sometimes ask parents first",
            3: "No need to ask parents",
            DK: MISSING_LABELS[DK],
        },
    }
    for c in ("P2_1", "P2_2", "P2_3"):
        vl[c] = {**ACCEPT5, DK: MISSING_LABELS[DK]}
    for c in ("P4_1", "P4_2", "P4_3"):
        vl[c] = TRUST_YN
    return vl


def write_pilot(path: Path, seed: int = SEED) -> None:
    df = make_pilot(seed)
    missing: dict[str, list[float]] = {c: [DK] for c in PILOT_COUNTS}
    missing["P_inc"] = [REFUSED]
    fmt = {c: "F4.0" for c in df.columns}
    fmt.update(resp_id="A10", P6="A1000")
    write_sav(
        df,
        path,
        epoch=RAW_EPOCH,
        file_label="SYNTHETIC pilot survey of parents - not real data",
        column_labels=PILOT_LABELS,
        variable_value_labels=pilot_value_labels(),
        missing_ranges=missing,
        variable_format=fmt,
        note=[
            "SYNTHETIC DATA generated by parentlink.synth.",
            "Counts reproduce the published pilot figures.",
        ],
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Write the SYNTHETIC survey files (main and pilot).")
    ap.add_argument("--out", type=Path, default=Path("raw"))
    ap.add_argument("--n", type=int, default=1040, help="main survey records before duplicates")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--main-only", action="store_true")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    write_main(args.out / "main_survey.sav", args.n, args.seed)
    if not args.main_only:
        write_pilot(args.out / "pilot_survey.sav", args.seed)


if __name__ == "__main__":
    main()
