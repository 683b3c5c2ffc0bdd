"""Headline numbers quoted by the reports, derived from the results files into one facts.json.

Every number a document prints comes from here (or straight from a results file), so changing
the data re-renders the documents that quote it and nothing typed by hand can drift. A
suppressed estimate is carried as ``{"suppressed": true}`` with no value at all: the value
cannot leak into a document because it never reaches the template.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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

ALPHA = 0.05  # design-based tests: a difference is called clear when p < ALPHA
DOC_TYPE_ALL = "all"
TOP_CHAINS = 3  # problem -> solution rationale pairs shown per document type
# Finding kinds, in the order they are computed (a later kind may refer to an earlier one).
KINDS = ("share", "items", "groups", "model", "breakdown", "compare", "contrast", "code")


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


AUDIT_COLUMNS = ["shares", "hidden", "hidden_base", "hidden_cell", "hidden_secondary", "audited",
                 "exposed", "narrowest_ratio", "tests", "tests_withheld"]


def read_audit(path: Path) -> dict[str, Any]:
    """The disclosure audit's one row (results/tables/<survey>_disclosure_audit.csv)."""
    df = _read_csv(path, AUDIT_COLUMNS, "disclosure audit not found; run the estimate stage first.")
    if len(df) != 1:
        fail(f"{path}: expected one row, found {len(df)}; see docs/data-contract.md.")
    row = df.iloc[0]
    return {c: _num(row[c]) if c == "narrowest_ratio" else int(row[c]) for c in AUDIT_COLUMNS}


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
        # Why it is hidden (estimates' suppressed_reason): documents say "too few to show" for
        # a small base or cell and "hidden to protect another figure" for a complement.
        why = row.get("suppressed_reason")
        reason = (str(why) if isinstance(why, str) and why else
                  "small_base" if base < min_base else None)
        return {"suppressed": True, "base": base, "reason": reason}
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
        # the rows of each item x breakdown, split once (facts look them up over a hundred times)
        self._rows = {key: sub for key, sub in df.groupby(["variable", "group_variable"],
                                                            sort=False)}

    def rows(self, variable: str, group_variable: str = "all") -> pd.DataFrame:
        sub = self._rows.get((variable, group_variable), self.df.iloc[:0])
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


def _lower_first(text: str) -> str:
    """'Lone parent family' -> 'lone parent family'; keeps 'A level', 'GCSE', 'Black'."""
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[1:].islower() and word[:1].isupper():
        return text[:1].lower() + text[1:]
    return text


class Labels:
    """How prose names breakdowns and the people in their groups (report.breakdowns)."""

    def __init__(self, population: str, breakdowns: Mapping[str, Mapping[str, Any]]) -> None:
        self.population = population
        self.breakdowns = breakdowns

    def title(self, group_variable: str) -> str:
        spec = self.breakdowns.get(group_variable, {})
        return str(spec.get("title") or group_variable.replace("_", " "))

    def phrase(self, group_variable: str, label: str) -> str:
        """How prose names the people in a group: 'parents in a lone parent family'."""
        spec = self.breakdowns.get(group_variable, {})
        fixed = (spec.get("phrases") or {}).get(label)
        if fixed:
            return str(fixed)
        pattern = spec.get("phrase")
        if not pattern:
            return f"{self.population} in the group ‘{label}’ ({self.title(group_variable)})"
        return str(pattern).format(label=label, lower=_lower_first(label))


def _dont_know(meta: Mapping[str, Any], names: Iterable[str], source: str) -> str:
    """Whether "don't know" is left out of the items' bases: excluded, included or mixed."""
    variables = meta["variables"]
    flags = []
    for name in names:
        if name not in variables:
            fail(f"{source}: no variable '{name}' in the cleaned survey; see docs/data-contract.md.")
        info = variables[name]
        dk = {str(c) for c, kind in (info.get("missing") or {}).items() if kind == "dont_know"}
        excluded = {str(c) for c in (info.get("exclude_from_base") or [])}
        flags.append(bool(dk) and dk <= excluded)
    return "excluded" if all(flags) else "included" if not any(flags) else "mixed"


class Survey:
    """One survey's results as the findings read them."""

    def __init__(self, name: str, est: Estimates, meta: Mapping[str, Any],
                 tests: pd.DataFrame | None, weighted: bool) -> None:
        self.name, self.est, self.meta, self.tests, self.weighted = name, est, meta, tests, weighted

    def cell(self, variable: str, code: Any, group_variable: str = "all",
             group_code: str | None = None) -> dict[str, Any]:
        cell = self.est.cell(variable, code, group_variable, group_code)
        if not self.weighted and not cell["suppressed"]:
            # Unweighted (convenience) survey: the number of respondents behind the share.
            cell["count"] = int(round(cell["pct"] * cell["base"] / 100))
        return cell

    def test(self, variable: str, group_variable: str) -> dict[str, Any] | None:
        """The design-based test of item x breakdown, None when not run or withheld."""
        if self.tests is None:
            return None
        t = self.tests
        sub = t[(t["variable"] == variable) & (t["group_variable"] == group_variable)]
        if "survey" in sub.columns:
            sub = sub[sub["survey"].astype(str) == self.name]
        if len(sub) != 1 or pd.isna(sub.iloc[0]["p_value"]):
            return None
        p = float(sub.iloc[0]["p_value"])
        return {"p_value": p, "significant": p < ALPHA}

    def group_labels(self, group_variable: str) -> dict[str, str]:
        df = self.est.df
        sub = df[df["group_variable"] == group_variable].drop_duplicates("group_code")
        sub = sub.sort_values("group_code", key=_code_order)
        return {str(r["group_code"]): str(r["group"]) for _, r in sub.iterrows()}


def _share(s: Survey, spec: Mapping[str, Any], labels: Labels) -> dict[str, Any]:
    group = spec.get("group") or {}
    cell = s.cell(spec["item"], spec["category"], group.get("by", "all"),
                  str(group["code"]) if "code" in group else None)
    out = {"variable": spec["item"], "survey": s.name, "label": s.est.label(spec["item"]),
           "short": spec.get("short") or s.est.label(spec["item"]), **cell}
    out["view"] = _view(out)
    out["dont_know"] = _dont_know(s.meta, [spec["item"]], s.est.source.name)
    if group:
        out["group"] = s.group_labels(group["by"]).get(str(group.get("code")), "")
        out["phrase"] = labels.phrase(group["by"], out["group"])
    return out


def _items(s: Survey, spec: Mapping[str, Any]) -> dict[str, Any]:
    items = []
    for variable, short in spec["items"].items():
        item = {"variable": variable, "short": short, "label": s.est.label(variable),
                **s.cell(variable, spec["category"])}
        item["view"] = _view(item)
        for name, code in (spec.get("also") or {}).items():
            item[name] = s.cell(variable, code)
        items.append(item)
    return {"survey": s.name, "list": items, "by": {i["variable"]: i for i in items},
            "ranked": _ranked(items),
            "dont_know": _dont_know(s.meta, spec["items"], s.est.source.name)}


def _compare(base: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """One item of an `items` finding against each of `against`: higher than all of them?"""
    one = base["by"][spec["item"]]
    against = [base["by"][v] for v in spec["against"]]
    comparisons = [{**compare(one, t), "short": t["short"]} for t in against]
    shown = [t for t in against if not t["suppressed"]]
    return {
        "item": one,
        "comparisons": comparisons,
        # Higher than every other (95% CIs apart).
        "higher_than_all": bool(comparisons) and all(c["direction"] == "higher"
                                                     for c in comparisons),
        "against": against,
        "against_minority": [t for t in shown if t["view"] == "minority"],
        "against_other": [t for t in shown if t["view"] != "minority"],
        # Fewer than half for every one of them (each 95% CI wholly below 50%).
        "against_all_minority": bool(shown) and len(shown) == len(against)
        and all(t["view"] == "minority" for t in shown),
    }


def _contrast(base: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """Every shown item of `high` above every shown item of `low`, 95% CIs apart."""
    high = [base["by"][v] for v in spec["high"] if not base["by"][v]["suppressed"]]
    low = [base["by"][v] for v in spec["low"] if not base["by"][v]["suppressed"]]
    if not high or not low:
        return {"apart": False, "high_lowest": None, "low_highest": None}
    lo = min(high, key=lambda i: (i["pct"], i["variable"]))
    hi = max(low, key=lambda i: (i["pct"], i["variable"]))
    clear = min(i["ci_lower"] for i in high) > max(i["ci_upper"] for i in low)
    return {"apart": bool(clear), "high_lowest": lo, "low_highest": hi}


def _gap(rows: list[dict[str, Any]], title: str, test: dict[str, Any] | None) -> dict[str, Any]:
    """Comparison among the groups that are shown; suppressed groups are only counted.

    `differs` is the design-based test of the item by this breakdown (p < 0.05) when the
    estimate stage wrote one, otherwise whether the extremes' 95% CIs are apart.
    """
    shown = [r for r in rows if not r["suppressed"]]
    hidden = [r["group"] for r in rows if r["suppressed"]]
    out: dict[str, Any] = {
        "rows": rows, "title": title, "any_suppressed": bool(hidden),
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


def _breakdown(s: Survey, spec: Mapping[str, Any], labels: Labels,
               model: Mapping[str, Any] | None) -> dict[str, Any]:
    item, code = spec["item"], spec["category"]
    by: dict[str, Any] = {}
    for gv in spec["by"]:
        rows = []
        for row in s.est.by_group(item, code, gv):
            row["view"] = _view(row)
            row["phrase"] = labels.phrase(gv, row["group"])
            rows.append(row)
        gap = _gap(rows, labels.title(gv), s.test(item, gv))
        if model is not None:
            # What the model can say about groups too small to show as a percentage.
            hidden = {r["group_code"] for r in rows if r["suppressed"]}
            gap["model_for_suppressed"] = [t for t in model["terms"]
                                           if t["group_variable"] == gv
                                           and t["group_code"] in hidden]
        by[gv] = gap
    # Across every shown group of every breakdown.
    shown = [r for g in by.values() for r in g["rows"] if not r["suppressed"]]
    across: dict[str, Any] = {"lowest": None, "highest": None, "majority_everywhere": False}
    if shown:
        across = {"lowest": min(shown, key=lambda r: (r["pct"], r["group"])),
                  "highest": max(shown, key=lambda r: (r["pct"], r["group"])),
                  "majority_everywhere": all(r["view"] == "majority" for r in shown)}
    return {"survey": s.name, "variable": item, "label": s.est.label(item), "by": by,
            "across": across,
            "any_differs": any(g["differs"] for g in by.values()),
            "dont_know": _dont_know(s.meta, [item], s.est.source.name)}


def model_facts(model: pd.DataFrame, s: Survey, outcome: str, labels: Labels) -> dict[str, Any]:
    """Odds ratios of a survey-weighted logistic model, named as the estimates name groups.

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
        groups = s.group_labels(gv)
        group = groups.get(code, label)
        used = {str(t).split("=", 1)[1] for t in model["term"] if str(t).startswith(gv + "=")}
        ref_codes = [c for c in groups if c not in used]
        reference = groups[ref_codes[0]] if ref_codes else None
        lo, hi = float(r["or_lower"]), float(r["or_upper"])
        direction = "lower" if hi < 1 else "higher" if lo > 1 else "unclear"
        terms.append({
            "group_variable": gv, "group_code": code, "group": group, "title": labels.title(gv),
            "phrase": labels.phrase(gv, group),
            "reference": reference,
            "reference_phrase": labels.phrase(gv, reference) if reference else None,
            "odds_ratio": float(r["odds_ratio"]), "or_lower": lo, "or_upper": hi,
            "p_value": float(r["p_value"]), "direction": direction,
        })
    predictors = list(dict.fromkeys(t["group_variable"] for t in terms))
    return {
        "outcome": outcome,
        "outcome_label": s.est.label(outcome) if outcome in set(s.est.df["variable"]) else outcome,
        "terms": terms,
        "lower": [t for t in terms if t["direction"] == "lower"],
        "higher": [t for t in terms if t["direction"] == "higher"],
        "clear_terms": [t for t in terms if t["direction"] != "unclear"],
        "predictors": predictors,
        "predictor_titles": [labels.title(g) for g in predictors],
    }


def _code(freq: pd.DataFrame | None, spec: Mapping[str, Any], name: str) -> dict[str, Any]:
    """How many documents (of a type) carry a code, named by its name or its path."""
    if freq is None:
        fail(f"report.findings.{name}: the study has no document analysis (config documents).")
    doc_type = str(spec.get("doc_type") or DOC_TYPE_ALL)
    freq = freq.assign(parent_code=freq["parent_code"].fillna(""), code_path=_paths(freq))
    rows = freq[(freq["doc_type"] == doc_type)
                & ((freq["code"] == spec["code"]) | (freq["code_path"] == spec["code"]))]
    if rows.empty:
        known = sorted(set(freq["code"]))
        fail(f"report.findings.{name}: no code '{spec['code']}' in documents of type "
             f"'{doc_type}'; codes: {', '.join(known[:12])}{' …' if len(known) > 12 else ''}.")
    if len(rows) > 1:
        fail(f"report.findings.{name}: '{spec['code']}' names {len(rows)} codes; give its path "
             f"({', '.join(rows['code_path'].head(3))}).")
    r = rows.iloc[0]
    n, total = int(r["n_documents"]), int(r["n_documents_of_type"])
    return {"code": str(r["code"]), "code_path": str(r["code_path"]), "doc_type": doc_type,
            "n_documents": n, "n_of_type": total, "pct": 100 * n / total if total else None}


def findings(spec: Mapping[str, Mapping[str, Any]], surveys: Mapping[str, Survey],
             models: Mapping[str, tuple[pd.DataFrame, Mapping[str, Any]]],
             labels: Labels, code_frequencies: pd.DataFrame | None = None) -> dict[str, Any]:
    """Every named finding of report.findings, computed in KINDS order."""
    out: dict[str, Any] = {}

    def survey(name: str, f: Mapping[str, Any]) -> Survey:
        if f["survey"] not in surveys:
            fail(f"report.findings.{name}: survey '{f['survey']}' has no estimates; surveys: "
                 f"{', '.join(surveys)}.")
        return surveys[f["survey"]]

    def earlier(name: str, f: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
        ref = f.get("finding") or f.get("model")
        if ref not in out or spec[ref]["kind"] != kind:
            fail(f"report.findings.{name}: '{ref}' is not a finding of kind {kind}.")
        return dict(out[ref])

    for kind in KINDS:
        for name, f in spec.items():
            if f["kind"] != kind:
                continue
            if kind == "share":
                out[name] = {**_share(survey(name, f), f, labels), "finding": name}
            elif kind == "items":
                out[name] = _items(survey(name, f), f)
            elif kind == "groups":
                s = survey(name, f)
                out[name] = {"by": f["by"], "title": labels.title(f["by"]),
                             "labels": list(s.group_labels(f["by"]).values())}
            elif kind == "model":
                if f["model"] not in models:
                    fail(f"report.findings.{name}: no model '{f['model']}' in config models.")
                table, cfg = models[f["model"]]
                out[name] = model_facts(table, surveys[cfg["survey"]], cfg["outcome"], labels)
            elif kind == "breakdown":
                model = earlier(name, f, "model") if f.get("model") else None
                out[name] = _breakdown(survey(name, f), f, labels, model)
            elif kind == "compare":
                out[name] = _compare(earlier(name, f, "items"), f)
            elif kind == "contrast":
                out[name] = _contrast(earlier(name, f, "items"), f)
            elif kind == "code":
                out[name] = _code(code_frequencies, f, name)
    return {name: out[name] for name in spec}


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


def method_text(method: Any) -> str:
    """How the weights were made, in words, from the diagnostics' `method`."""
    text = str(method or "rake_trim")
    if text == "rake_trim":
        return "raked, then trimmed and re-raked (the pipeline's own trim loop)"
    calfun = text.split("(", 1)[1].rstrip(")") if "(" in text else "raking"
    return f"calibrated from the design weights as R's calibrate() does, calfun {calfun}"


def weighting_facts(diag: Mapping[str, Any], labels: Labels) -> dict[str, Any]:
    keys = [k for k in DIAGNOSTIC_KEYS if k != "margins"]
    try:
        variables = list(dict.fromkeys(str(m["variable"]) for m in diag["margins"]))
    except (TypeError, KeyError):
        fail("weighting diagnostics: 'margins' must be a list of objects with a 'variable'.")
    return {**{k: diag[k] for k in keys}, "method": method_text(diag.get("method")),
            "margin_variables": variables,
            "margin_titles": [labels.title(v) for v in variables]}


def _levels(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(leaf codes, themes): the documents stage writes level 'code' and 'parent'."""
    levels = set(df["level"].astype(str))
    if not levels <= {"code", "parent"}:
        fail(f"code frequencies: level must be 'code' or 'parent', found {sorted(levels)}.")
    return df["level"] == "code", df["level"] == "parent"


def document_facts(df: pd.DataFrame, type_labels: Mapping[str, str],
                   top: int = 5) -> dict[str, Any]:
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
            "doc_type_labels": {t: _type_label(type_labels, t) for t in by_type},
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


def _type_label(type_labels: Mapping[str, str], doc_type: str) -> str:
    return str(type_labels.get(doc_type) or doc_type.replace("_", " "))


def framing_facts(freq: pd.DataFrame, chains: pd.DataFrame, cfg: Mapping[str, Any]
                  ) -> dict[str, Any]:
    """How each kind of document frames the problem and the solution, and how often it raises
    concerns (codes under documents.concerns_root): per document type, and for the two groups
    of document types that documents.contrast names (e.g. companies against government)."""
    concerns_root = cfg.get("concerns_root")
    type_labels = cfg.get("type_labels") or {}
    problems = chains.drop_duplicates(["doc_type", "problem"])
    solutions = chains[chains["solution_level"] == "rationale"].drop_duplicates(
        ["doc_type", "solution"])
    freq = freq.assign(parent_code=freq["parent_code"].fillna(""), code_path=_paths(freq))
    root = freq[(freq["level"] == "parent") & (freq["code"] == concerns_root)
                & (freq["parent_code"] == "")]
    concern_codes = freq[(freq["level"] == "code")
                         & freq["code_path"].str.startswith(f"{concerns_root}/")]
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

    by_type = {t: summary(_type_label(type_labels, t), [t]) for t in types}
    out: dict[str, Any] = {"by_type": by_type, "contrast": None}
    groups = [{**g, "types": [t for t in g["types"] if t in totals]}
              for g in cfg.get("contrast") or []]
    if len(groups) == 2 and all(g["types"] for g in groups):
        a, b = (summary(g["label"], g["types"]) for g in groups)
        ac, bc = a["concerns"], b["concerns"]
        more = None
        if ac is not None and bc is not None and ac["pct"] is not None and bc["pct"] is not None:
            more = (groups[1]["name"] if bc["pct"] > ac["pct"] else groups[0]["name"]
                    if ac["pct"] > bc["pct"] else "same")
        out["contrast"] = {
            groups[0]["name"]: a, groups[1]["name"]: b, "names": [g["name"] for g in groups],
            "same_problem": a["problem"]["codes"] == b["problem"]["codes"],
            "same_solution": a["solution"]["codes"] == b["solution"]["codes"],
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
                            rel: pd.DataFrame, cfg: Mapping[str, Any]) -> dict[str, Any]:
    return {**document_facts(freq, cfg.get("type_labels") or {}),
            "cooccurrence": cooccurrence_facts(freq, cooc), "chains": chain_facts(chains),
            "framing": framing_facts(freq, chains, cfg), "reliability": reliability_facts(rel)}


# ----------------------------------------------------------------------------- assembly


@dataclass(frozen=True)
class SurveyResults:
    """The results files of one survey (docs/data-contract.md); weighting only when weighted."""

    estimates: Path
    tests: Path
    flow: Path
    meta: Path
    label: str
    weighted: bool
    diagnostics: Path | None = None
    audit: Path | None = None
    fieldwork: Mapping[str, str] | None = None  # config surveys.<name>.fieldwork


@dataclass(frozen=True)
class DocumentResults:
    code_frequencies: Path
    cooccurrence: Path
    chains: Path
    reliability: Path
    quotes: Path | None = None  # results/documents/quotes.json: its `reading` block


def reading_facts(path: Path | None) -> dict[str, Any] | None:
    """How the coded documents were read (results/documents/quotes.json `reading`): the
    exporting tool, the non-text sources skipped, the position units and the coder rule."""
    if path is None:
        return None
    if not path.is_file():
        fail(f"{path}: document quotes not found; run the documents stage first.")
    r = json.loads(path.read_text(encoding="utf-8")).get("reading") or {}
    return {"origin": str(r.get("origin") or ""),
            "n_skipped_sources": int(r.get("n_skipped_sources") or 0),
            "skipped_sources": {str(k): int(v) for k, v in (r.get("skipped_sources") or {}).items()},
            "position_units": sorted({str(u) for u in (r.get("position_units") or {}).values()}),
            "coder_rule": str(r.get("coder_rule") or "")}


def build_facts(
    *,
    report: Mapping[str, Any],
    surveys: Mapping[str, SurveyResults],
    models: Mapping[str, tuple[Path, Mapping[str, Any]]],
    documents: DocumentResults | None,
    documents_config: Mapping[str, Any],
    study: Mapping[str, Any],
    min_base: int,
) -> dict[str, Any]:
    """All numbers the documents quote: the named findings of `report.findings` (config/
    report.yaml) computed from the results files named in docs/data-contract.md, plus each
    survey's cleaning flow and weighting and the document analysis.

    The design-based tests decide whether a difference between groups is called clear, a
    survey-weighted logistic model speaks for groups too small to show, and the clean metadata
    says which bases leave out "don't know".
    """
    labels = Labels(str(report.get("population") or "respondents"),
                    report.get("breakdowns") or {})
    loaded: dict[str, Survey] = {}
    survey_facts: dict[str, Any] = {}
    for name, r in surveys.items():
        est = Estimates(read_estimates(r.estimates), r.estimates, min_base)
        loaded[name] = Survey(name, est, read_meta(r.meta), read_tests(r.tests), r.weighted)
        designs = est.df["design"].dropna().astype(str) if "design" in est.df else pd.Series([])
        survey_facts[name] = {
            "label": r.label, "weighted": r.weighted, "flow": flow_facts(read_flow(r.flow)),
            # The design the standard errors use (estimates' `design` column).
            "design": str(designs.iloc[0]) if len(designs) else None,
            "weighting": (weighting_facts(read_diagnostics(r.diagnostics), labels)
                          if r.diagnostics is not None else None),
            "disclosure": read_audit(r.audit) if r.audit is not None else None,
            "fieldwork": fieldwork_facts(loaded[name].meta, r.fieldwork)}
    tables = {name: (read_model(path), cfg) for name, (path, cfg) in models.items()}
    doc_facts, freq = None, None
    if documents is not None:
        freq = read_code_frequencies(documents.code_frequencies)
        doc_facts = document_analysis_facts(
            freq,
            read_cooccurrence(documents.cooccurrence), read_chains(documents.chains),
            read_reliability(documents.reliability), documents_config)
        doc_facts["reading"] = reading_facts(documents.quotes)
    return {
        "study": {k: study[k] for k in ("title", "short_title", "synthetic", "funder", "authors")
                  if k in study},
        "population": labels.population,
        "suppression_mark": SUPPRESSION_MARK,
        "min_base": min_base,
        "surveys": survey_facts,
        "findings": findings(report.get("findings") or {}, loaded, tables, labels, freq),
        "documents": doc_facts,
    }


def _day(d: dt.date, year: bool = True) -> str:
    return f"{d.day} {d:%B}" + (f" {d.year}" if year else "")


def _period(first: dt.date, last: dt.date) -> str:
    """'3 to 28 March 2021', '28 February to 14 March 2021', '30 December 2020 to 4 January
    2021'; English month names whatever the machine's locale (the C locale's)."""
    if first == last:
        return _day(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day} to {_day(last)}"
    return f"{_day(first, first.year != last.year)} to {_day(last)}"


def fieldwork_facts(meta: Mapping[str, Any], declared: Mapping[str, str] | None
                    ) -> dict[str, Any]:
    """When, how and by whom a survey was done: the interview dates of the respondents kept
    (clean metadata `fieldwork`, from the plan's timestamps.date) and what the config declares
    (agency, mode, response rate; `dates` in words overrides the computed period)."""
    found = dict(meta.get("fieldwork") or {})
    out: dict[str, Any] = {"first_date": found.get("first_date"),
                           "last_date": found.get("last_date"),
                           "agency": None, "mode": None, "response_rate": None, "dates": None}
    out.update({k: v for k, v in (declared or {}).items() if v})
    if out["dates"] is None and out["first_date"]:
        first = dt.date.fromisoformat(out["first_date"])
        last = dt.date.fromisoformat(out["last_date"])
        out["dates"] = _period(first, last)
    return out


def write_facts(facts: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Sorted keys keep the file byte-stable between runs.
    path.write_text(json.dumps(facts, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")
