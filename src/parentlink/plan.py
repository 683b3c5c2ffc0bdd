"""The declarative cleaning plan (config/plans/{survey}.yaml): loading and checking its shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from parentlink.errors import UserError

MISSING_KINDS = ("dont_know", "refused", "not_asked")
EXCLUSION_RULES = ("not_equal", "duplicate", "speeder", "straight_liner", "incomplete")

_CODE_MAP = {"type": "object", "additionalProperties": {"type": ["integer", "string"]}}

PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["survey", "id", "rename", "missing", "exclusions"],
    "additionalProperties": False,
    "properties": {
        "survey": {"type": "string"},
        "id": {"type": "string"},
        "drop": {"type": "array", "items": {"type": "string"}},
        "text": {"type": "object", "additionalProperties": {"type": "string"}},
        "undeclared_text": {"enum": ["error", "drop"]},
        # Opt-in for a restricted-access deposit: redacted open text also in the clean data and
        # .sav. By default it is kept apart in results/clean/<survey>_text.parquet.
        "text_in_clean": {"type": "boolean"},
        "design_weight": {"type": "string"},
        # Interview start and end (the agency's names); `duration` and `date` name the cleaned
        # columns of the interview's length in seconds and its date (left out: not kept).
        "timestamps": {
            "type": "object",
            "required": ["start", "end"],
            "properties": {"start": {"type": "string"}, "end": {"type": "string"},
                           "duration": {"type": "string"}, "date": {"type": "string"}},
            "additionalProperties": False,
        },
        "missing": {"type": "object", "additionalProperties": {"enum": list(MISSING_KINDS)}},
        "declare_missing": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["variables", "codes"],
                "properties": {
                    "variables": {"anyOf": [{"const": "all"},
                                            {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
                    "except": {"type": "array", "items": {"type": "string"}},
                    "codes": {"anyOf": [
                        {"type": "array", "items": {"type": "number"}, "minItems": 1},
                        {"type": "object", "minProperties": 1,
                         "additionalProperties": {"enum": list(MISSING_KINDS)}},
                    ]},
                },
                "additionalProperties": False,
            },
        },
        "encoding": {"type": "string", "minLength": 1},
        "stata_missing": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z]$"},
            "additionalProperties": {"type": "integer"},
        },
        "id_leading_zeros": {"enum": ["keep", "strip"]},
        # Labelled string variables analysed as codes (1, 2, ... in the file's value-label order).
        "codes_from_labels": {"type": "array", "items": {"type": "string"}},
        # The valid answers of a numeric or coded variable, e.g. AGE: [16, 99]; others stop the run.
        "valid_range": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "number"},
                                     "minItems": 2, "maxItems": 2},
        },
        "exclude_from_base": {"type": "array", "items": {"enum": list(MISSING_KINDS)}},
        "rename": {"type": "object", "additionalProperties": {"type": "string"}},
        "numeric": {"type": "array", "items": {"type": "string"}},
        "grids": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        },
        "exclusions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["step", "rule"],
                "properties": {
                    "step": {"type": "string"},
                    "rule": {"enum": list(EXCLUSION_RULES)},
                    "variable": {"type": "string"},
                    "value": {"type": "number"},
                    "missing": {"enum": ["exclude", "keep"]},
                    "order_by": {"enum": ["start", "file"]},
                    "fraction_of_median": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                    "grids": {"type": "array", "items": {"type": "string"}},
                    "min_answered": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "additionalProperties": False,
            },
        },
        "recode": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["from", "into", "map", "labels"],
                "properties": {
                    "from": {"type": "array", "items": {"type": "string"}},
                    "into": {"type": "string"},
                    "map": _CODE_MAP,
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "label": {"type": "string"},
                    "exclude_from_base": {"type": "array", "items": {"enum": list(MISSING_KINDS)}},
                },
                "additionalProperties": False,
            },
        },
        "derive": {"type": "array", "items": {"type": "object", "required": ["into"]}},
        "multi_response": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "items", "codes"],
                "properties": {
                    "name": {"type": "string"},
                    "label": {"type": "string"},
                    "items": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                    "codes": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                },
                "additionalProperties": False,
            },
        },
        "published": {"type": "array", "items": {"type": "object"}},
    },
}


def load_plan(path: str | Path) -> dict[str, Any]:
    """Read and shape-check a cleaning plan; a malformed plan is a UserError naming the key."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"Cleaning plan {p} does not exist: check surveys.*.plan in config/config.yaml.")
    try:
        plan = yaml.safe_load(p.read_text("utf-8"))
    except yaml.YAMLError as err:
        raise UserError(
            f"Cleaning plan {p} is not valid YAML ({err.__class__.__name__}): fix the syntax."
        ) from None
    try:
        jsonschema.validate(plan, PLAN_SCHEMA)
    except jsonschema.ValidationError as err:
        where = "/".join(str(x) for x in err.absolute_path) or "(top level)"
        raise UserError(f"Cleaning plan {p}, key '{where}': {err.message}.") from None
    plan["missing"] = {_code(k, p, "missing"): v for k, v in plan["missing"].items()}
    plan["declare_missing"] = [_declaration(d, i, plan["missing"], p)
                               for i, d in enumerate(plan.get("declare_missing", []))]
    for name, (lo, hi) in plan.get("valid_range", {}).items():
        if lo > hi:
            raise UserError(f"Cleaning plan {p}, key 'valid_range/{name}': [{lo}, {hi}] is empty: write "
                            "the lowest valid value first.")
    return plan


def _code(key: Any, p: Path, where: str) -> float:
    """A code as written in the plan ('8', '-1', '1.5') -> its number; integers stay exact."""
    try:
        f = float(key)
    except (TypeError, ValueError):
        raise UserError(f"Cleaning plan {p}, key '{where}': '{key}' is not a numeric code.") from None
    return int(f) if f.is_integer() else f


def _declaration(d: dict[str, Any], i: int, kinds: dict[float, str], p: Path) -> dict[str, Any]:
    """One 'declare_missing' entry with its codes as {code: kind}; a listed code takes its meaning
    from the study-wide 'missing'."""
    codes = d["codes"]
    if isinstance(codes, list):
        unknown = [c for c in codes if _code(c, p, "declare_missing") not in kinds]
        if unknown:
            raise UserError(
                f"Cleaning plan {p}, key 'declare_missing/{i}': code(s) {', '.join(map(str, unknown))} "
                "have no meaning under 'missing': add them there, or give the meaning here as "
                "'codes: {CODE: dont_know|refused|not_asked}'."
            )
        mapped = {_code(c, p, "declare_missing"): kinds[_code(c, p, "declare_missing")] for c in codes}
    else:
        mapped = {_code(c, p, "declare_missing"): kind for c, kind in codes.items()}
    return {"variables": d["variables"], "except": list(d.get("except", [])), "codes": mapped}


def declared_missing(plan: dict[str, Any], agency: str) -> dict[float, str]:
    """Codes the plan declares missing for one agency variable, whether or not the file does;
    later entries of 'declare_missing' win. Names are matched case-insensitively, like SPSS."""
    out: dict[float, str] = {}
    low = agency.lower()
    for d in plan.get("declare_missing", []):
        named = d["variables"] == "all" or low in {v.lower() for v in d["variables"]}
        if named and low not in {v.lower() for v in d["except"]}:
            out.update(d["codes"])
    return out


# The timestamps keys that name the agency's variables (duration and date name cleaned columns).
STAMP_ROLES = ("start", "end")


# Keys of a plan that hold the agency's variable names (before renaming).
def _agency_names(plan: dict[str, Any]) -> list[str]:
    names = [plan["id"], *plan.get("drop", []), *plan.get("text", {}), *plan["rename"]]
    names += [v for v in (plan.get("design_weight"),) if v]
    names += [*plan.get("codes_from_labels", []), *plan.get("valid_range", {})]
    names += [v for k, v in (plan.get("timestamps") or {}).items() if k in STAMP_ROLES]
    for d in plan.get("declare_missing", []):
        names += ([] if d["variables"] == "all" else d["variables"]) + d["except"]
    return names


def resolve_names(plan: dict[str, Any], columns: Any, source: str) -> dict[str, Any]:
    """The plan with its agency names spelled as the delivery spells them.

    SPSS names are case-insensitive (one round writes NOCALL_1Other, the next NOCALL_1OTHER), so a
    plan name matches a column exactly or, failing that, the one column that differs only in case.
    Two such columns are ambiguous: a UserError. Names that match nothing are left for the checks
    that name the missing variable.
    """
    cols = [str(c) for c in columns]
    exact = set(cols)
    by_lower: dict[str, list[str]] = {}
    for c in cols:
        by_lower.setdefault(c.lower(), []).append(c)
    fix: dict[str, str] = {}
    for name in _agency_names(plan):
        if name in exact or name in fix:
            continue
        found = by_lower.get(name.lower(), [])
        if len(found) > 1:
            raise UserError(
                f"{source}: the plan's '{name}' matches {' and '.join(sorted(found))}, which differ only "
                "in case: write the name exactly as one of them."
            )
        if found:
            fix[name] = found[0]
    if not fix:
        return plan

    def f(n: str) -> str:
        return fix.get(n, n)

    out = dict(plan, id=f(plan["id"]), rename={f(k): v for k, v in plan["rename"].items()})
    for key in ("drop",):
        if key in plan:
            out[key] = [f(n) for n in plan[key]]
    if "text" in plan:
        out["text"] = {f(k): v for k, v in plan["text"].items()}
    if plan.get("design_weight"):
        out["design_weight"] = f(plan["design_weight"])
    if "codes_from_labels" in plan:
        out["codes_from_labels"] = [f(n) for n in plan["codes_from_labels"]]
    if "valid_range" in plan:
        out["valid_range"] = {f(k): v for k, v in plan["valid_range"].items()}
    if plan.get("timestamps"):
        out["timestamps"] = {k: f(v) if k in STAMP_ROLES else v for k, v in plan["timestamps"].items()}
    out["declare_missing"] = [
        dict(d, variables=d["variables"] if d["variables"] == "all" else [f(n) for n in d["variables"]],
             **{"except": [f(n) for n in d["except"]]})
        for d in plan.get("declare_missing", [])
    ]
    return out


def output_variables(plan: dict[str, Any]) -> dict[str, str]:
    """Every variable of the cleaned data a plan produces, with its kind: 'categorical',
    'numeric', 'text', 'id', 'weight' or 'paradata'.

    Read from the plan alone, so the config's variable names can be checked before any job runs;
    ``tests/test_config.py`` checks it against what :func:`parentlink.clean.clean` really makes.
    """
    out: dict[str, str] = {"respondent_id": "id"}
    if "design_weight" in plan:
        out["design_weight"] = "weight"
    for key in ("duration", "date"):
        if (plan.get("timestamps") or {}).get(key):
            out[plan["timestamps"][key]] = "paradata"
    numeric = set(plan.get("numeric", []))
    for name in plan["rename"].values():
        out[name] = "numeric" if name in numeric else "categorical"
    for spec in plan.get("recode", []):
        for src in spec["from"]:
            out[spec["into"].format(name=src)] = "categorical"
    for spec in plan.get("derive", []):
        out[spec["into"]] = "numeric" if "index" in spec else "categorical"
    for spec in plan.get("multi_response", []):
        out[f"{spec['name']}_count"] = "numeric"
        out[f"{spec['name']}_any"] = "categorical"
    for name in plan.get("text", {}).values():
        out[name] = "text"
    return out
