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
