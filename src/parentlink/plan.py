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
        "design_weight": {"type": "string"},
        "timestamps": {
            "type": "object",
            "required": ["start", "end"],
            "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
            "additionalProperties": False,
        },
        "missing": {"type": "object", "additionalProperties": {"enum": list(MISSING_KINDS)}},
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
    plan["missing"] = {int(k): v for k, v in plan["missing"].items()}
    return plan


def output_variables(plan: dict[str, Any]) -> dict[str, str]:
    """Every variable of the cleaned data a plan produces, with its kind: 'categorical',
    'numeric', 'text', 'id', 'weight' or 'paradata'.

    Read from the plan alone, so the config's variable names can be checked before any job runs;
    ``tests/test_config.py`` checks it against what :func:`parentlink.clean.clean` really makes.
    """
    out: dict[str, str] = {"respondent_id": "id"}
    if "design_weight" in plan:
        out["design_weight"] = "weight"
    if "timestamps" in plan:
        out["duration_sec"] = "paradata"
        out["fieldwork_date"] = "paradata"
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
