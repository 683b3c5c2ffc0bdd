"""Headline numbers quoted by the reports, derived from the results files into one facts.json.

Every number a document prints comes from here (or straight from a results file), so changing
the data re-renders the documents that quote it and nothing typed by hand can drift. A
suppressed estimate is carried as ``{"suppressed": true}`` with no value at all: the value
cannot leak into a document because it never reaches the template.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from parentlink import csvio
from parentlink.errors import UserError, fail
from parentlink.wording import SUPPRESSION_MARK

ESTIMATE_COLUMNS = [
    "survey", "variable", "variable_label", "category_code", "category", "group_variable",
    "group_code", "group", "base_unweighted", "base_weighted", "estimate", "se", "ci_lower",
    "ci_upper", "suppressed",
]
FLOW_COLUMNS = ["step", "n_before", "n_excluded", "n_after"]
CODE_COLUMNS = [
    "code", "parent_code", "level", "doc_type", "n_documents", "n_segments",
    "n_documents_of_type", "pct_documents",
]
COOCCURRENCE_COLUMNS = ["scope", "doc_type", "code_a", "code_b", "parent_code_a", "parent_code_b",
                        "n_documents", "jaccard_documents", "code_path_a", "code_path_b"]
CHAIN_COLUMNS = ["doc_type", "problem", "solution", "solution_level", "n_documents_both",
                 "n_documents_problem", "n_documents_solution", "n_documents_of_type",
                 "pct_of_problem_documents"]
RELIABILITY_COLUMNS = ["level", "code", "parent_code", "unit", "n_units", "percent_agreement",
                       "cohens_kappa", "krippendorff_alpha", "coders", "note"]
TEST_COLUMNS = ["variable", "group_variable", "p_value"]
MODEL_COLUMNS = ["term", "estimate", "se", "t", "p_value", "odds_ratio", "or_lower", "or_upper",
                 "label"]
DIAGNOSTIC_KEYS = [
    "n", "effective_n", "efficiency", "design_effect", "weight_min", "weight_max",
    "weight_ratio", "iterations", "converged", "trimmed", "margins",
]

# Short wording for charts and prose; the estimates file carries the agency's longer labels.
PURPOSES: dict[str, str] = {
    "acc_plan_net": "plan and improve services",
    "acc_need_net": "identify families who might need support",
    "acc_notasked_net": "identify families who have not asked for support",
    "acc_predict_net": "predict risk of child maltreatment",
    "acc_save_net": "save public money by early intervention",
    "acc_research_net": "anonymised research",
}
SOURCES: dict[str, str] = {
    "src_health_net": "health records",
    "src_school_net": "school records",
    "src_police_net": "police records",
    "src_socialcare_net": "social care records",
    "src_benefits_net": "benefits and tax records",
    "src_bank_net": "bank and credit records",
    "src_supermarket_net": "supermarket loyalty records",
    "src_socialmedia_net": "social media posts",
}
ORGANISATIONS: dict[str, str] = {
    "trust_nhs_net": "NHS",
    "trust_schools_net": "schools",
    "trust_police_net": "police",
    "trust_council_net": "local council",
    "trust_socialservices_net": "social services",
    "trust_government_net": "central government",
    "trust_private_net": "private companies",
    "trust_charities_net": "charities",
    "trust_researchers_net": "university researchers",
}
# Items whose differences between groups of parents the briefings discuss.
GAP_ITEMS: dict[str, int] = {
    "trust_council_net": 1,
    "acc_need_net": 1,
    "acc_notasked_net": 1,
    "social_licence_high": 1,
    "consent": 1,
}
GAP_GROUPS = ["ethnicity", "family_type", "age_band", "income", "qualification", "nssec",
              "hh_size_group"]
# How prose names a breakdown ("differed by {title}") and a group in it ("{phrase} were ...").
GROUP_TITLES = {
    "ethnicity": "ethnic group", "family_type": "family type", "age_band": "age",
    "income": "household income", "qualification": "qualification", "nssec": "occupation",
    "hh_size_group": "household size", "region": "region",
    "social_care_contact": "contact with children's social care",
}
GROUP_PHRASES = {
    "ethnicity": "{label} parents",
    "family_type": "parents in a {lower}",
    "age_band": "parents aged {lower}",
    "income": "parents with household income {lower}",
    "qualification": "parents with {lower}",
    "hh_size_group": "parents in households of {lower}",
    "region": "parents in {label}",
}
# Purposes that single out families, against planning for everyone (the study's contrast).
PLANNING = "acc_plan_net"
TARGETING = ["acc_need_net", "acc_notasked_net", "acc_predict_net", "acc_save_net"]
# Records public services already hold, against commercial or personal data.
PUBLIC_SOURCES = ["src_health_net", "src_school_net", "src_police_net", "src_socialcare_net",
                  "src_benefits_net"]
PRIVATE_SOURCES = ["src_bank_net", "src_supermarket_net", "src_socialmedia_net"]
# The outcome of the survey-weighted logistic model (results/models/main_social_licence_glm.csv).
MODEL_OUTCOME = "social_licence_high"
ALPHA = 0.05  # design-based tests: a difference is called clear when p < ALPHA
# Item families whose bases the method notes describe (don't know in or out of the base).
BASE_FAMILIES: dict[str, list[str]] = {
    "acceptability": list(PURPOSES),
    "sources": list(SOURCES),
    "trust": list(ORGANISATIONS),
    "more_we_know": ["more_we_know_net"],
    "heard": ["heard"],
    "consent": ["consent"],
}
DOC_TYPE_ALL = "all"
DOC_TYPE_LABELS = {"company": "data analytics companies", "local_authority": "local authorities",
                   "national_government": "national government"}
# Document types the briefings contrast: documents by companies selling analytics against
# documents by government (local and national together; the types partition the documents,
# so their counts add up).
COMPANY_TYPES = ["company"]
GOVERNMENT_TYPES = ["local_authority", "national_government"]
DOC_GROUP_LABELS = {"company": "company", "government": "government"}
# Top-level code group of the concerns documents raise (errors, bias, ...).
CONCERNS_ROOT = "Concerns"
TOP_CHAINS = 3  # problem -> solution rationale pairs shown per document type


# ----------------------------------------------------------------------------- reading


def _require_columns(df: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        fail(f"{path}: missing column(s) {', '.join(missing)}; see docs/data-contract.md.")


def _read_csv(path: Path, columns: Iterable[str], missing: str, **read_kw: Any) -> pd.DataFrame:
    """A results CSV with its required columns; `missing` says what to run when it is absent."""
    if not path.is_file():
        fail(f"{path}: {missing}")
    df = csvio.read_csv(path, **read_kw)
    _require_columns(df, columns, path)
    return df


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "t"}:
        return True
    if text in {"false", "0", "no", "f", ""}:
        return False
    raise UserError(f"suppressed flag {value!r} is neither True nor False")


def read_estimates(path: Path) -> pd.DataFrame:
    """Read an estimates CSV (docs/data-contract.md) with typed columns."""
    df = _read_csv(path, ESTIMATE_COLUMNS, "estimates file not found; run the estimate stage first.",
                   dtype={"group_code": str, "category_code": str})
    try:
        df["suppressed"] = [_as_bool(v) for v in df["suppressed"]]
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
    df["category_code"] = df["category_code"].astype(str)
    df["group_code"] = df["group_code"].astype(str)
    return df


def read_flow(path: Path) -> pd.DataFrame:
    df = _read_csv(path, FLOW_COLUMNS, "cleaning flow file not found; run the clean stage first.")
    if df.empty or df.iloc[0]["step"] != "delivered":
        fail(f"{path}: the first row must be step 'delivered' (docs/data-contract.md).")
    return df


def read_diagnostics(path: Path) -> dict[str, Any]:
    if not path.is_file():
        fail(f"{path}: weighting diagnostics not found; run the weight stage first.")
    data = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in DIAGNOSTIC_KEYS if k not in data]
    if missing:
        fail(f"{path}: missing key(s) {', '.join(missing)} in the weighting diagnostics.")
    return dict(data)


def read_code_frequencies(path: Path) -> pd.DataFrame:
    df = _read_csv(path, CODE_COLUMNS, "code frequencies not found; run the documents stage first.",
                   dtype={"parent_code": str})
    return df


def _read_documents_csv(path: Path, columns: list[str], what: str) -> pd.DataFrame:
    """A documents-stage CSV: text as text (a code may be called 'NA'), counts as numbers."""
    df = _read_csv(path, columns, f"{what} not found; run the documents stage first.", dtype=str,
                   keep_default_na=False)
    for col in columns:
        if not col.startswith(("n_", "pct_", "percent_", "cohens_", "krippendorff_", "jaccard_")):
            continue
        values = pd.to_numeric(df[col].replace("", None), errors="coerce")
        bad = (df[col] != "") & values.isna()
        if bad.any():
            fail(f"{path}: column {col} holds {df.loc[bad, col].iloc[0][:40]!r}, not a number.")
        df[col] = values
    return df


def read_cooccurrence(path: Path) -> pd.DataFrame:
    return _read_documents_csv(path, COOCCURRENCE_COLUMNS, "code co-occurrence")


def read_chains(path: Path) -> pd.DataFrame:
    return _read_documents_csv(path, CHAIN_COLUMNS, "problem-solution chains")


def read_reliability(path: Path) -> pd.DataFrame:
    return _read_documents_csv(path, RELIABILITY_COLUMNS, "intercoder reliability")


def read_tests(path: Path) -> pd.DataFrame:
    """Design-based (Rao-Scott) tests of item x breakdown: results/tables/main_tests.csv."""
    return _read_csv(path, TEST_COLUMNS, "tests file not found; run the estimate stage first.")


def read_model(path: Path) -> pd.DataFrame:
    """Survey-weighted logistic model: results/models/main_social_licence_glm.csv."""
    return _read_csv(path, MODEL_COLUMNS, "model file not found; run the 'model' rule first.")


def read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        fail(f"{path}: survey metadata not found; run the clean stage first.")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("variables"), dict):
        fail(f"{path}: no 'variables' object; see docs/data-contract.md.")
    return dict(data)


# ----------------------------------------------------------------------------- estimates


def _cell(row: Mapping[str, Any], min_base: int) -> dict[str, Any]:
    """One estimate as the documents may use it; suppressed cells carry no value at all."""
    base = int(row["base_unweighted"])
    # Belt and braces: the estimate stage suppresses, but a base under the publication
    # threshold is never shown even if a value slipped through.
    if _as_bool(row["suppressed"]) or base < min_base or pd.isna(row["estimate"]):
        return {"suppressed": True, "base": base}
    return {
        "suppressed": False,
        "base": base,
        "pct": 100 * float(row["estimate"]),
        "ci_lower": 100 * float(row["ci_lower"]),
        "ci_upper": 100 * float(row["ci_upper"]),
    }


class Estimates:
    """Lookup over one survey's estimates that names the missing item when there is none."""

    def __init__(self, df: pd.DataFrame, source: Path, min_base: int) -> None:
        self.df = df
        self.source = source
        self.min_base = min_base

    def rows(self, variable: str, group_variable: str = "all") -> pd.DataFrame:
        sub = self.df[(self.df["variable"] == variable)
                      & (self.df["group_variable"] == group_variable)]
        if sub.empty:
            fail(f"{self.source}: no estimates for variable '{variable}' by "
                 f"'{group_variable}'; add it to analysis items/breakdowns in config.")
        return sub

    def cell(self, variable: str, code: int, group_variable: str = "all",
             group_code: str | None = None) -> dict[str, Any]:
        sub = self.rows(variable, group_variable)
        sub = sub[sub["category_code"] == str(code)]
        if group_code is not None:
            sub = sub[sub["group_code"] == group_code]
        if len(sub) != 1:
            fail(f"{self.source}: expected one estimate for '{variable}' category {code} "
                 f"({group_variable}), found {len(sub)}.")
        return _cell(sub.iloc[0].to_dict(), self.min_base)

    def label(self, variable: str) -> str:
        return str(self.rows(variable).iloc[0]["variable_label"])

    def count(self, variable: str, code: int) -> dict[str, Any]:
        """Respondent count for an unweighted survey (pilot): proportion x unweighted base."""
        cell = self.cell(variable, code)
        if cell["suppressed"]:
            return cell
        return {**cell, "count": int(round(cell["pct"] * cell["base"] / 100))}

    def by_group(self, variable: str, code: int, group_variable: str) -> list[dict[str, Any]]:
        sub = self.rows(variable, group_variable)
        sub = sub[sub["category_code"] == str(code)]
        out = []
        for _, row in sub.sort_values("group_code", key=_code_order).iterrows():
            out.append({"group": str(row["group"]), "group_code": str(row["group_code"]),
                        **_cell(row.to_dict(), self.min_base)})
        return out


def _code_order(codes: pd.Series) -> pd.Series:
    # Group codes are strings of integers; sort them as numbers so "10" follows "9".
    return pd.to_numeric(codes, errors="coerce").fillna(1e9)


def _view(cell: Mapping[str, Any]) -> str:
    """Where a share stands against half of parents, allowing for its 95% CI."""
    if cell["suppressed"]:
        return "unknown"
    if cell["ci_lower"] > 50:
        return "majority"
    if cell["ci_upper"] < 50:
        return "minority"
    return "divided"


def _items(est: Estimates, names: Mapping[str, str], code: int) -> list[dict[str, Any]]:
    items = [{"variable": v, "short": short, "label": est.label(v), **est.cell(v, code)}
             for v, short in names.items()]
    for item in items:
        item["view"] = _view(item)
    return items


def _separated(hi: Mapping[str, Any], lo: Mapping[str, Any]) -> bool:
    """True when hi's 95% CI lies wholly above lo's (a conservative test of a difference)."""
    if hi["suppressed"] or lo["suppressed"]:
        return False
    return bool(hi["ci_lower"] > lo["ci_upper"])


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """a against b: difference in points and whether their 95% CIs are apart.

    Non-overlapping intervals are a conservative check (two estimates from the same parents
    are positively correlated, which only narrows the interval of their difference).
    """
    out: dict[str, Any] = {"a": a.get("variable"), "b": b.get("variable")}
    if a["suppressed"] or b["suppressed"]:
        return {**out, "diff_points": None, "ci_overlap": None, "direction": "unknown"}
    direction = ("higher" if _separated(a, b) else "lower" if _separated(b, a) else "unclear")
    return {**out, "diff_points": a["pct"] - b["pct"], "ci_overlap": direction == "unclear",
            "direction": direction}


def _ranked(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Items high to low; suppressed items cannot be ranked.

    `highest_clear`/`lowest_clear`: the top (bottom) item's CI is apart from the next one's,
    so "most"/"least" is a finding rather than an ordering of overlapping estimates.
    """
    shown = [i for i in items if not i["suppressed"]]
    if not shown:
        return {"order": [], "highest": None, "lowest": None, "highest_clear": False,
                "lowest_clear": False, "apart": False}
    ordered = sorted(shown, key=lambda i: (-i["pct"], i["variable"]))
    two = len(ordered) >= 2
    return {
        "order": [i["variable"] for i in ordered],
        "highest": ordered[0],
        "lowest": ordered[-1],
        "second_highest": ordered[1] if two else None,
        "second_lowest": ordered[-2] if two else None,
        "highest_clear": two and _separated(ordered[0], ordered[1]),
        "lowest_clear": two and _separated(ordered[-2], ordered[-1]),
        "apart": two and _separated(ordered[0], ordered[-1]),
    }


def _purposes(acceptability: list[dict[str, Any]]) -> dict[str, Any]:
    """Planning for everyone against each use that singles out families."""
    by_var = {i["variable"]: i for i in acceptability}
    plan = by_var[PLANNING]
    targeting = [by_var[v] for v in TARGETING]
    comparisons = [{**compare(plan, t), "short": t["short"]} for t in targeting]
    shown = [t for t in targeting if not t["suppressed"]]
    return {
        "planning": plan,
        "comparisons": comparisons,
        # Planning accepted more than every targeting use (95% CIs apart).
        "planning_higher_than_all": bool(comparisons)
        and all(c["direction"] == "higher" for c in comparisons),
        "targeting": targeting,
        "targeting_minority": [t for t in shown if t["view"] == "minority"],
        "targeting_other": [t for t in shown if t["view"] != "minority"],
        # Fewer than half accept every targeting use (each 95% CI wholly below 50%).
        "targeting_all_minority": bool(shown) and len(shown) == len(targeting)
        and all(t["view"] == "minority" for t in shown),
    }


def _source_contrast(sources: list[dict[str, Any]]) -> dict[str, Any]:
    by_var = {i["variable"]: i for i in sources}
    public = [by_var[v] for v in PUBLIC_SOURCES if not by_var[v]["suppressed"]]
    private = [by_var[v] for v in PRIVATE_SOURCES if not by_var[v]["suppressed"]]
    if not public or not private:
        return {"apart": False, "public_lowest": None, "private_highest": None}
    lo = min(public, key=lambda i: (i["pct"], i["variable"]))
    hi = max(private, key=lambda i: (i["pct"], i["variable"]))
    # Every public-service source above every commercial/personal one, CIs apart.
    clear = min(i["ci_lower"] for i in public) > max(i["ci_upper"] for i in private)
    return {"apart": bool(clear), "public_lowest": lo, "private_highest": hi}


def _lower_first(text: str) -> str:
    """'Lone parent family' -> 'lone parent family'; keeps 'A level', 'GCSE', 'Black'."""
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[1:].islower() and word[:1].isupper():
        return text[:1].lower() + text[1:]
    return text


def group_phrase(group_variable: str, label: str) -> str:
    """How prose names the parents in a group: 'parents in a lone parent family'."""
    if group_variable == "ethnicity" and "group" in label.lower():
        # 'Other ethnic group parents' reads badly: 'parents in the other ethnic group'.
        return f"parents in the {_lower_first(label)}"
    pattern = GROUP_PHRASES.get(group_variable)
    if pattern is None:
        title = GROUP_TITLES.get(group_variable, group_variable.replace("_", " "))
        return f"parents in the group ‘{label}’ ({title})"
    return pattern.format(label=label, lower=_lower_first(label))


def _title(group_variable: str) -> str:
    return GROUP_TITLES.get(group_variable, group_variable.replace("_", " "))


def _test(tests: pd.DataFrame | None, variable: str, group_variable: str) -> dict[str, Any] | None:
    if tests is None:
        return None
    sub = tests[(tests["variable"] == variable) & (tests["group_variable"] == group_variable)]
    if "survey" in sub.columns:
        sub = sub[sub["survey"].astype(str) == "main"]
    if len(sub) != 1 or pd.isna(sub.iloc[0]["p_value"]):
        return None
    p = float(sub.iloc[0]["p_value"])
    return {"p_value": p, "significant": p < ALPHA}


def _gap(rows: list[dict[str, Any]], group_variable: str,
         test: dict[str, Any] | None) -> dict[str, Any]:
    """Comparison among the groups that are shown; suppressed groups are only counted.

    `differs` is the design-based test of the item by this breakdown (p < 0.05) when the
    estimate stage wrote one, otherwise whether the extremes' 95% CIs are apart.
    """
    shown = [r for r in rows if not r["suppressed"]]
    hidden = [r["group"] for r in rows if r["suppressed"]]
    out: dict[str, Any] = {
        "rows": rows, "title": _title(group_variable), "any_suppressed": bool(hidden),
        "suppressed_groups": hidden, "n_suppressed": len(hidden), "n_shown": len(shown),
        "test": test, "model_for_suppressed": [],
    }
    if len(shown) >= 2:
        hi = max(shown, key=lambda r: (r["pct"], r["group_code"]))
        lo = min(shown, key=lambda r: (r["pct"], r["group_code"]))
        clear = test["significant"] if test is not None else _separated(hi, lo)
        out.update(highest=hi, lowest=lo, gap_points=hi["pct"] - lo["pct"], differs=bool(clear))
    else:
        out.update(highest=None, lowest=None, gap_points=None, differs=None)
    return out


def model_facts(model: pd.DataFrame, est: Estimates) -> dict[str, Any]:
    """Odds ratios of the survey-weighted logistic model, named as the estimates name groups.

    A term is 'lower' or 'higher' only when its 95% CI excludes 1; otherwise 'unclear'.
    The reference group of a factor is its first group in the estimates not in the model.
    """
    terms: list[dict[str, Any]] = []
    for _, r in model.iterrows():
        term = str(r["term"])
        if "=" not in term:
            continue  # intercept
        gv, code = term.split("=", 1)
        label = str(r["label"]).split(": ", 1)[-1]
        groups = _group_labels(est, gv)
        group = groups.get(code, label)
        used = {str(t).split("=", 1)[1] for t in model["term"] if str(t).startswith(gv + "=")}
        ref_codes = [c for c in groups if c not in used]
        reference = groups[ref_codes[0]] if ref_codes else None
        lo, hi = float(r["or_lower"]), float(r["or_upper"])
        direction = "lower" if hi < 1 else "higher" if lo > 1 else "unclear"
        terms.append({
            "group_variable": gv, "group_code": code, "group": group, "title": _title(gv),
            "phrase": group_phrase(gv, group),
            "reference": reference,
            "reference_phrase": group_phrase(gv, reference) if reference else None,
            "odds_ratio": float(r["odds_ratio"]), "or_lower": lo, "or_upper": hi,
            "p_value": float(r["p_value"]), "direction": direction,
        })
    return {
        "outcome": MODEL_OUTCOME,
        "terms": terms,
        "lower": [t for t in terms if t["direction"] == "lower"],
        "higher": [t for t in terms if t["direction"] == "higher"],
        "clear_terms": [t for t in terms if t["direction"] != "unclear"],
        "predictors": list(dict.fromkeys(t["group_variable"] for t in terms)),
        "predictor_titles": [_title(g) for g in dict.fromkeys(t["group_variable"]
                                                              for t in terms)],
    }


def _group_labels(est: Estimates, group_variable: str) -> dict[str, str]:
    sub = est.df[(est.df["variable"] == MODEL_OUTCOME)
                 & (est.df["group_variable"] == group_variable)]
    sub = sub.drop_duplicates("group_code").sort_values("group_code", key=_code_order)
    return {str(r["group_code"]): str(r["group"]) for _, r in sub.iterrows()}


def _view_bases(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """Whether 'don't know' is left out of each item's base (percentages of those with a view)."""
    if meta is None:
        return {"known": False, "families": {}, "excluded": [], "included": []}
    variables = meta["variables"]
    families: dict[str, str] = {}
    for family, names in BASE_FAMILIES.items():
        flags = []
        for name in names:
            if name not in variables:
                fail(f"survey metadata: no variable '{name}'; see docs/data-contract.md.")
            info = variables[name]
            dk = {str(c) for c, kind in (info.get("missing") or {}).items()
                  if kind == "dont_know"}
            excluded = {str(c) for c in (info.get("exclude_from_base") or [])}
            flags.append(bool(dk) and dk <= excluded)
        families[family] = ("excluded" if all(flags) else "included" if not any(flags)
                            else "mixed")
    return {"known": True, "families": families,
            "excluded": [f for f, v in families.items() if v == "excluded"],
            "included": [f for f, v in families.items() if v != "excluded"]}


def _consent_groups(gaps: Mapping[str, Any]) -> dict[str, Any]:
    """'Always ask first' across every shown group of every breakdown."""
    rows = [r for g in gaps.values() for r in g["rows"] if not r["suppressed"]]
    if not rows:
        return {"lowest": None, "highest": None, "majority_everywhere": False}
    lo = min(rows, key=lambda r: (r["pct"], r["group"]))
    hi = max(rows, key=lambda r: (r["pct"], r["group"]))
    return {"lowest": lo, "highest": hi,
            "majority_everywhere": all(_view(r) == "majority" for r in rows)}


def main_facts(est: Estimates, groups: list[str], tests: pd.DataFrame | None = None,
               model: pd.DataFrame | None = None,
               meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    acceptability = _items(est, PURPOSES, 1)
    unacceptable = {v: est.cell(v, 3) for v in PURPOSES}
    for item in acceptability:
        item["unacceptable"] = unacceptable[item["variable"]]
    trust = _items(est, ORGANISATIONS, 1)
    sources = _items(est, SOURCES, 1)
    gaps = {
        item: {g: _gap(est.by_group(item, code, g), g, _test(tests, item, g)) for g in groups}
        for item, code in GAP_ITEMS.items()
    }
    models = model_facts(model, est) if model is not None else None
    if models is not None and MODEL_OUTCOME in gaps:
        # What the model can say about groups too small to show as a percentage.
        for g, gap in gaps[MODEL_OUTCOME].items():
            codes = {r["group_code"] for r in gap["rows"] if r["suppressed"]}
            gap["model_for_suppressed"] = [t for t in models["terms"]
                                           if t["group_variable"] == g and t["group_code"] in codes]
    consent_always = _items(est, {"consent": "always ask parents first"}, 1)[0]
    return {
        "heard": {"know": est.cell("heard", 1), "heard_only": est.cell("heard", 2),
                  "not_heard": est.cell("heard", 3)},
        "acceptability": acceptability,
        "acceptability_ranked": _ranked(acceptability),
        "purposes": _purposes(acceptability),
        "sources": sources,
        "sources_ranked": _ranked(sources),
        "sources_contrast": _source_contrast(sources),
        "trust": trust,
        "trust_ranked": _ranked(trust),
        "consent_always": consent_always,
        "consent_never": est.cell("consent", 3),
        "consent_groups": _consent_groups(gaps.get("consent", {})),
        "more_we_know_agree": est.cell("more_we_know_net", 1),
        "social_licence_high": est.cell("social_licence_high", 1),
        "gaps": gaps,
        "model": models,
        "bases": _view_bases(meta),
    }


def pilot_facts(est: Estimates) -> dict[str, Any]:
    return {
        "heard_know": est.count("heard", 1),
        "acc_plan": est.count("acc_plan_net", 1),
        "acc_notasked": est.count("acc_notasked_net", 1),
        "acc_save": est.count("acc_save_net", 1),
        "more_we_know_agree": est.count("more_we_know_net", 1),
        "trust_private_definitely": est.count("trust_private", 1),
        "trust_private_no": est.count("trust_private", 3),
        "trust_council_definitely": est.count("trust_council", 1),
        "trust_government_definitely": est.count("trust_government", 1),
        "consent_always": est.count("consent", 1),
        "channels": [r["group"] for r in est.by_group("heard", 1, "channel")],
    }


# ----------------------------------------------------------------------------- other inputs


def flow_facts(df: pd.DataFrame) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {"step": str(r["step"]), "n_before": int(r["n_before"]),
         "n_excluded": int(r["n_excluded"]), "n_after": int(r["n_after"])}
        for _, r in df.iterrows()
    ]
    delivered, retained = int(steps[0]["n_after"]), int(steps[-1]["n_after"])
    return {"delivered": delivered, "retained": retained, "excluded": delivered - retained,
            "steps": steps}


def weighting_facts(diag: Mapping[str, Any]) -> dict[str, Any]:
    keys = [k for k in DIAGNOSTIC_KEYS if k != "margins"]
    try:
        variables = list(dict.fromkeys(str(m["variable"]) for m in diag["margins"]))
    except (TypeError, KeyError):
        fail("weighting diagnostics: 'margins' must be a list of objects with a 'variable'.")
    return {**{k: diag[k] for k in keys}, "margin_variables": variables,
            "margin_titles": [_title(v) for v in variables]}


def _levels(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(leaf codes, themes): the documents stage writes level 'code' and 'parent'."""
    levels = set(df["level"].astype(str))
    if not levels <= {"code", "parent"}:
        fail(f"code frequencies: level must be 'code' or 'parent', found {sorted(levels)}.")
    return df["level"] == "code", df["level"] == "parent"


def document_facts(df: pd.DataFrame, top: int = 5) -> dict[str, Any]:
    if DOC_TYPE_ALL not in set(df["doc_type"]):
        fail(f"code frequencies have no doc_type '{DOC_TYPE_ALL}' rows; see docs/data-contract.md.")
    df = df.assign(share=100 * df["n_documents"] / df["n_documents_of_type"],
                   parent_code=df["parent_code"].fillna(""))
    leaf, theme = _levels(df)
    by_type: dict[str, Any] = {}
    for doc_type, sub in sorted(df.groupby("doc_type"), key=lambda kv: str(kv[0])):
        sub = sub.sort_values(["n_documents", "code"], ascending=[False, True])
        by_type[str(doc_type)] = {
            "n_documents": int(sub["n_documents_of_type"].iloc[0]),
            "top_codes": _code_rows(sub[leaf[sub.index]].head(top)),
            "themes": _code_rows(sub[theme[sub.index]]),
        }
    return {"n_documents": by_type[DOC_TYPE_ALL]["n_documents"],
            "doc_types": [t for t in by_type if t != DOC_TYPE_ALL], "by_type": by_type,
            "doc_type_labels": {t: DOC_TYPE_LABELS.get(t, t.replace("_", " ")) for t in by_type},
            "matrix": _code_matrix(df[leaf])}


def _code_rows(sub: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"code": str(r["code"]), "parent_code": str(r["parent_code"]),
             "n_documents": int(r["n_documents"]), "pct": float(r["share"])}
            for _, r in sub.iterrows()]


def _code_matrix(leaf: pd.DataFrame, top: int = 10) -> list[dict[str, Any]]:
    """Most frequent codes overall x document type: share of documents of each type."""
    order = (leaf[leaf["doc_type"] == DOC_TYPE_ALL]
             .sort_values(["n_documents", "code"], ascending=[False, True])["code"].head(top))
    out = []
    for code in order:
        sub = leaf[leaf["code"] == code]
        out.append({"code": str(code),
                    "pct": {str(r["doc_type"]): float(r["share"]) for _, r in sub.iterrows()},
                    "n": {str(r["doc_type"]): int(r["n_documents"]) for _, r in sub.iterrows()}})
    return out


def _num(value: Any) -> float | None:
    """A float for facts.json, None for an empty cell (NaN is not valid JSON)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _paths(df: pd.DataFrame) -> list[str]:
    """Full code paths of code-frequency rows (the column is optional in the contract)."""
    if "code_path" in df.columns:
        return [str(v) for v in df["code_path"]]
    return [f"{p}/{c}" if p else str(c) for p, c in zip(df["parent_code"], df["code"], strict=True)]


def cooccurrence_facts(freq: pd.DataFrame, cooc: pd.DataFrame) -> dict[str, Any]:
    """Document-scope co-occurrence over every document: codes ordered by code_path.

    `matrix[i][j]` is the number of documents in which codes i and j both appear (0 when the
    pair never does); the diagonal holds the documents with the code. `strongest` lists every
    pair that reaches the largest count (ties are all named).
    """
    freq = freq.assign(parent_code=freq["parent_code"].fillna(""))
    leaf = freq[(freq["level"] == "code") & (freq["doc_type"] == DOC_TYPE_ALL)]
    codes: dict[str, dict[str, Any]] = {
        path: {"code": str(r["code"]), "parent_code": str(r["parent_code"]), "code_path": path,
               "n_documents": int(r["n_documents"])}
        for path, (_, r) in zip(_paths(leaf), leaf.iterrows(), strict=True)}
    pairs = cooc[(cooc["scope"] == "document") & (cooc["doc_type"] == DOC_TYPE_ALL)]
    for _, r in pairs.iterrows():
        for side in ("a", "b"):
            # A code seen in a pair but missing from the frequencies still gets its row.
            codes.setdefault(str(r[f"code_path_{side}"]), {
                "code": str(r[f"code_{side}"]), "parent_code": str(r[f"parent_code_{side}"]),
                "code_path": str(r[f"code_path_{side}"]), "n_documents": None})
    order = sorted(codes)
    index = {path: i for i, path in enumerate(order)}
    matrix: list[list[int | None]] = [[0] * len(order) for _ in order]
    for i, path in enumerate(order):
        matrix[i][i] = codes[path]["n_documents"]
    rows: list[dict[str, Any]] = []
    for _, r in pairs.iterrows():
        i, j = index[str(r["code_path_a"])], index[str(r["code_path_b"])]
        n = int(r["n_documents"])
        matrix[i][j] = matrix[j][i] = n
        rows.append({"code_a": str(r["code_a"]), "code_b": str(r["code_b"]),
                     "code_path_a": str(r["code_path_a"]), "code_path_b": str(r["code_path_b"]),
                     "n_documents": n, "jaccard": _num(r["jaccard_documents"])})
    rows.sort(key=lambda p: (-p["n_documents"], p["code_path_a"], p["code_path_b"]))
    best = rows[0]["n_documents"] if rows else 0
    return {"codes": [codes[p] for p in order], "matrix": matrix,
            "strongest": [p for p in rows if p["n_documents"] == best and best > 0],
            "top_pairs": rows[:5], "max": best, "n_pairs": len(rows)}


def chain_facts(chains: pd.DataFrame, top: int = TOP_CHAINS) -> dict[str, Any]:
    """The most frequent problem -> solution rationale pairs of each document type.

    Ranked by documents with both, then share of the problem's documents; pairs never seen
    together are left out. Document types in the file's order (`all` first).
    """
    rat = chains[(chains["solution_level"] == "rationale") & (chains["n_documents_both"] > 0)]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for doc_type in dict.fromkeys(chains["doc_type"]):
        sub = rat[rat["doc_type"] == doc_type].sort_values(
            ["n_documents_both", "pct_of_problem_documents", "problem", "solution"],
            ascending=[False, False, True, True])
        by_type[str(doc_type)] = [
            {"problem": str(r["problem"]), "solution": str(r["solution"]),
             "n_both": int(r["n_documents_both"]), "n_problem": int(r["n_documents_problem"]),
             "n_of_type": int(r["n_documents_of_type"]),
             "pct": _num(r["pct_of_problem_documents"])}
            for _, r in sub.head(top).iterrows()]
    return {"by_type": by_type, "doc_types": list(by_type), "top": top}


def _top(counts: Mapping[str, int], total: int) -> dict[str, Any]:
    """The most frequent code(s) of a count table: every tied code is named."""
    best = max(counts.values(), default=0)
    if best == 0:
        return {"codes": [], "n": 0, "pct": None}
    return {"codes": sorted(c for c, n in counts.items() if n == best), "n": int(best),
            "pct": 100 * best / total if total else None}


def framing_facts(freq: pd.DataFrame, chains: pd.DataFrame) -> dict[str, Any]:
    """How each kind of document frames the problem and the solution, and how often it raises
    concerns: per document type and for company against government documents together."""
    problems = chains.drop_duplicates(["doc_type", "problem"])
    solutions = chains[chains["solution_level"] == "rationale"].drop_duplicates(
        ["doc_type", "solution"])
    freq = freq.assign(parent_code=freq["parent_code"].fillna(""), code_path=_paths(freq))
    root = freq[(freq["level"] == "parent") & (freq["code"] == CONCERNS_ROOT)
                & (freq["parent_code"] == "")]
    concern_codes = freq[(freq["level"] == "code")
                         & freq["code_path"].str.startswith(CONCERNS_ROOT + "/")]
    types = [str(t) for t in dict.fromkeys(freq["doc_type"])]
    totals = {str(r["doc_type"]): int(r["n_documents_of_type"])
              for _, r in freq.drop_duplicates("doc_type").iterrows()}

    def summary(label: str, members: list[str]) -> dict[str, Any]:
        total = sum(totals.get(t, 0) for t in members)

        def counts(df: pd.DataFrame, key: str, col: str) -> dict[str, int]:
            sub = df[df["doc_type"].isin(members)]
            return {str(k): int(v) for k, v in sub.groupby(key)[col].sum().items()}

        concerns = None
        if not root.empty:
            n = int(root[root["doc_type"].isin(members)]["n_documents"].sum())
            by_code = counts(concern_codes, "code", "n_documents")
            named = sorted((c for c, k in by_code.items() if k > 0), key=lambda c: (-by_code[c], c))
            concerns = {"n": n, "pct": 100 * n / total if total else None, "codes": named}
        return {"label": label, "n_documents": total,
                "problem": _top(counts(problems, "problem", "n_documents_problem"), total),
                "solution": _top(counts(solutions, "solution", "n_documents_solution"), total),
                "concerns": concerns}

    by_type = {t: summary(DOC_TYPE_LABELS.get(t, t.replace("_", " ")), [t]) for t in types}
    company = [t for t in COMPANY_TYPES if t in totals]
    government = [t for t in GOVERNMENT_TYPES if t in totals]
    out: dict[str, Any] = {"by_type": by_type, "contrast": None}
    if company and government:
        c = summary(DOC_GROUP_LABELS["company"], company)
        g = summary(DOC_GROUP_LABELS["government"], government)
        cc, gc = c["concerns"], g["concerns"]
        more = None
        if cc is not None and gc is not None and cc["pct"] is not None and gc["pct"] is not None:
            more = ("government" if gc["pct"] > cc["pct"] else "company"
                    if cc["pct"] > gc["pct"] else "same")
        out["contrast"] = {
            "company": c, "government": g,
            "same_problem": c["problem"]["codes"] == g["problem"]["codes"],
            "same_solution": c["solution"]["codes"] == g["solution"]["codes"],
            # Descriptive: every coded document is counted, there is no sampling error.
            "concerns_more_in": more,
        }
    return out


def reliability_facts(rel: pd.DataFrame) -> dict[str, Any]:
    """Intercoder agreement per code and pooled, with the unit of analysis it is computed on."""
    def row(r: Mapping[str, Any]) -> dict[str, Any]:
        return {"code": str(r["code"]), "parent_code": str(r["parent_code"]),
                "n_units": int(r["n_units"]), "percent_agreement": _num(r["percent_agreement"]),
                "kappa": _num(r["cohens_kappa"]), "alpha": _num(r["krippendorff_alpha"]),
                "note": str(r["note"])}

    records = rel.to_dict("records")
    pooled = [row(r) for r in records if r["level"] == "pooled"]
    codes = [row(r) for r in records if r["level"] == "code"]
    return {
        "unit": str(records[0]["unit"]) if records else "",
        "coders": "; ".join(dict.fromkeys(str(r["coders"]) for r in records if r["coders"])),
        "codes": codes,
        "parents": [row(r) for r in records if r["level"] == "parent"],
        "pooled": pooled[0] if pooled else None,
        # Each code-level unit is one double-coded document.
        "n_documents": codes[0]["n_units"] if codes else 0,
        "any_undefined": any(r["kappa"] is None or r["alpha"] is None for r in codes + pooled),
    }


def document_analysis_facts(freq: pd.DataFrame, cooc: pd.DataFrame, chains: pd.DataFrame,
                            rel: pd.DataFrame) -> dict[str, Any]:
    return {**document_facts(freq), "cooccurrence": cooccurrence_facts(freq, cooc),
            "chains": chain_facts(chains), "framing": framing_facts(freq, chains),
            "reliability": reliability_facts(rel)}


# ----------------------------------------------------------------------------- assembly


def build_facts(
    *,
    main_estimates: Path,
    pilot_estimates: Path,
    main_flow: Path,
    pilot_flow: Path,
    diagnostics: Path,
    code_frequencies: Path,
    cooccurrence: Path,
    chains: Path,
    reliability: Path,
    main_tests: Path,
    model: Path,
    main_meta: Path,
    study: Mapping[str, Any],
    min_base: int,
    groups: list[str] | None = None,
) -> dict[str, Any]:
    """All numbers the documents quote, from the results files named in docs/data-contract.md.

    Besides the estimates: the design-based tests (main_tests.csv) decide whether a difference
    between groups is called clear, the survey-weighted logistic model (main_social_licence_glm
    .csv) speaks for groups too small to show, and the clean metadata says which bases leave
    out "don't know". The documents stage's co-occurrence, chains and reliability files give
    the document-analysis heatmap, tables and the briefings' framing sentences.
    """
    main_est = Estimates(read_estimates(main_estimates), main_estimates, min_base)
    pilot_est = Estimates(read_estimates(pilot_estimates), pilot_estimates, min_base)
    return {
        "study": {k: study[k] for k in ("title", "short_title", "synthetic", "funder")
                  if k in study},
        "suppression_mark": SUPPRESSION_MARK,
        "min_base": min_base,
        "main": main_facts(main_est, groups if groups is not None else GAP_GROUPS,
                           tests=read_tests(main_tests), model=read_model(model),
                           meta=read_meta(main_meta)),
        "pilot": {**pilot_facts(pilot_est), "flow": flow_facts(read_flow(pilot_flow))},
        "main_flow": flow_facts(read_flow(main_flow)),
        "weighting": weighting_facts(read_diagnostics(diagnostics)),
        "documents": document_analysis_facts(
            read_code_frequencies(code_frequencies), read_cooccurrence(cooccurrence),
            read_chains(chains), read_reliability(reliability)),
    }


def write_facts(facts: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Sorted keys keep the file byte-stable between runs.
    path.write_text(json.dumps(facts, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")
