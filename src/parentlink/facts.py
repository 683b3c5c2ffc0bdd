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

from parentlink.errors import UserError, fail

SUPPRESSION_MARK = "[c]"

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
DOC_TYPE_ALL = "all"
DOC_TYPE_LABELS = {"company": "data analytics companies", "local_authority": "local authorities",
                   "national_government": "national government"}


# ----------------------------------------------------------------------------- reading


def _require_columns(df: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        fail(f"{path}: missing column(s) {', '.join(missing)}; see docs/data-contract.md.")


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
    if not path.is_file():
        fail(f"{path}: estimates file not found; run the estimate stage first.")
    df = pd.read_csv(path, dtype={"group_code": str, "category_code": str})
    _require_columns(df, ESTIMATE_COLUMNS, path)
    try:
        df["suppressed"] = [_as_bool(v) for v in df["suppressed"]]
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
    df["category_code"] = df["category_code"].astype(str)
    df["group_code"] = df["group_code"].astype(str)
    return df


def read_flow(path: Path) -> pd.DataFrame:
    if not path.is_file():
        fail(f"{path}: cleaning flow file not found; run the clean stage first.")
    df = pd.read_csv(path)
    _require_columns(df, FLOW_COLUMNS, path)
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
    if not path.is_file():
        fail(f"{path}: code frequencies not found; run the documents stage first.")
    df = pd.read_csv(path, dtype={"parent_code": str})
    _require_columns(df, CODE_COLUMNS, path)
    return df


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


def _items(est: Estimates, names: Mapping[str, str], code: int) -> list[dict[str, Any]]:
    return [{"variable": v, "short": short, "label": est.label(v), **est.cell(v, code)}
            for v, short in names.items()]


def _ranked(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Highest and lowest shown item; suppressed items cannot be ranked."""
    shown = [i for i in items if not i["suppressed"]]
    if not shown:
        return {"highest": None, "lowest": None}
    ordered = sorted(shown, key=lambda i: (-i["pct"], i["variable"]))
    return {"highest": ordered[0], "lowest": ordered[-1]}


def _gap(rows: list[dict[str, Any]]) -> dict[str, Any]:
    shown = [r for r in rows if not r["suppressed"]]
    out: dict[str, Any] = {"rows": rows, "any_suppressed": any(r["suppressed"] for r in rows)}
    if len(shown) >= 2:
        hi = max(shown, key=lambda r: (r["pct"], r["group_code"]))
        lo = min(shown, key=lambda r: (r["pct"], r["group_code"]))
        out.update(highest=hi, lowest=lo, gap_points=hi["pct"] - lo["pct"])
    else:
        out.update(highest=None, lowest=None, gap_points=None)
    return out


def main_facts(est: Estimates, groups: list[str]) -> dict[str, Any]:
    acceptability = _items(est, PURPOSES, 1)
    unacceptable = {v: est.cell(v, 3) for v in PURPOSES}
    for item in acceptability:
        item["unacceptable"] = unacceptable[item["variable"]]
    trust = _items(est, ORGANISATIONS, 1)
    sources = _items(est, SOURCES, 1)
    gaps = {
        item: {g: _gap(est.by_group(item, code, g)) for g in groups}
        for item, code in GAP_ITEMS.items()
    }
    return {
        "heard": {"know": est.cell("heard", 1), "heard_only": est.cell("heard", 2),
                  "not_heard": est.cell("heard", 3)},
        "acceptability": acceptability,
        "acceptability_ranked": _ranked(acceptability),
        "sources": sources,
        "sources_ranked": _ranked(sources),
        "trust": trust,
        "trust_ranked": _ranked(trust),
        "consent_always": est.cell("consent", 1),
        "consent_never": est.cell("consent", 3),
        "more_we_know_agree": est.cell("more_we_know_net", 1),
        "social_licence_high": est.cell("social_licence_high", 1),
        "gaps": gaps,
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
    return {**{k: diag[k] for k in keys}, "margin_variables": variables}


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


def pct_text(cell: Mapping[str, Any], mark: str = SUPPRESSION_MARK) -> str:
    """A percentage as printed: whole number and '%', or the suppression mark alone."""
    if cell.get("suppressed", True):
        return mark
    return f"{cell['pct']:.0f}%"


def one_in(pct: float) -> str:
    """A natural frequency for plain English on one scale (out of 10): 46% -> 'about 5 in 10'."""
    if pct < 5:
        return "fewer than 1 in 20"
    if pct < 10:
        return "fewer than 1 in 10"
    if pct > 95:
        return "almost all"
    return f"about {round(pct / 10)} in 10"


# ----------------------------------------------------------------------------- assembly


def build_facts(
    *,
    main_estimates: Path,
    pilot_estimates: Path,
    main_flow: Path,
    pilot_flow: Path,
    diagnostics: Path,
    code_frequencies: Path,
    study: Mapping[str, Any],
    min_base: int,
    groups: list[str] | None = None,
) -> dict[str, Any]:
    """All numbers the documents quote, from the results files named in docs/data-contract.md."""
    main_est = Estimates(read_estimates(main_estimates), main_estimates, min_base)
    pilot_est = Estimates(read_estimates(pilot_estimates), pilot_estimates, min_base)
    return {
        "study": {k: study[k] for k in ("title", "short_title", "synthetic", "funder")
                  if k in study},
        "suppression_mark": SUPPRESSION_MARK,
        "min_base": min_base,
        "main": main_facts(main_est, groups if groups is not None else GAP_GROUPS),
        "pilot": {**pilot_facts(pilot_est), "flow": flow_facts(read_flow(pilot_flow))},
        "main_flow": flow_facts(read_flow(main_flow)),
        "weighting": weighting_facts(read_diagnostics(diagnostics)),
        "documents": document_facts(read_code_frequencies(code_frequencies)),
    }


def write_facts(facts: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Sorted keys keep the file byte-stable between runs.
    path.write_text(json.dumps(facts, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def load_facts(path: Path) -> dict[str, Any]:
    if not path.is_file():
        fail(f"{path}: facts file not found; run the 'facts' rule first.")
    return dict(json.loads(path.read_text(encoding="utf-8")))
