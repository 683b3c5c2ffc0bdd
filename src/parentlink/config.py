"""The study's configuration (config/config.yaml): strict validation, defaults, and a pre-flight
check of everything the config names, all before the first job runs.

* :func:`prepare` validates against ``config/schema.json`` (unknown keys are refused with a "did
  you mean", wrong types are refused, ``"false"`` is not a boolean) and fills every default from
  the schema, which is the one place defaults live. A problem is a :class:`UserError` of one
  sentence naming the file, the key path and the fix.
* :func:`check_study` checks that every file the config names exists, that each cleaning plan
  loads, that each plan's agency names are in the delivery (read as metadata only), and that every
  variable the config names (analysis items and breakdowns, model terms, the weighting survey's
  design weight and margin variables, the quoted text and item) is a variable of the cleaned data
  the plan produces (:func:`parentlink.plan.output_variables`).
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema

from parentlink.errors import UserError

CONFIG_FILE = "config/config.yaml"


# ----------------------------------------------------------------------------- schema


def load_schema(path: str | Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def key_path(parts: Iterable[Any]) -> str:
    """'weighting.trim.lower', 'analysis.main.items[2]'."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "empty (null)"
    return type(value).__name__


_TYPE_WORDS = {"boolean": "true or false (without quotes)", "integer": "a whole number",
               "number": "a number", "string": "text", "array": "a list [a, b, ...]",
               "object": "a mapping of keys to values"}


def _schema_at(schema: Mapping[str, Any], parts: Iterable[Any]) -> Mapping[str, Any]:
    node = schema
    for p in parts:
        if isinstance(p, int):
            node = node.get("items", {})
        else:
            props = node.get("properties", {})
            if p in props:
                node = props[p]
            elif isinstance(node.get("additionalProperties"), dict):
                node = node["additionalProperties"]
            else:
                return {}
    return node


def _message(err: jsonschema.ValidationError, schema: Mapping[str, Any], source: str) -> str:
    where = key_path(err.absolute_path)
    at = f"{source}: {where}" if where else f"{source}: (top level)"
    v = err.validator
    if "propertyNames" in err.schema_path:
        return (f"{at} has the key {err.instance!r}; names here start with a letter and hold only "
                "letters, digits and _ (e.g. y2022).")
    if v == "additionalProperties" and isinstance(err.instance, dict):
        known = list(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in known)
        name = extra[0] if extra else "?"
        full = key_path([*err.absolute_path, name])
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
        hint = f"did you mean {key_path([*err.absolute_path, close[0]])}?" if close else (
            f"the keys allowed here are {', '.join(known)}" if known else "remove it")
        return f"{source}: {full} is not a setting the pipeline knows; {hint}"
    if v == "required":
        missing = str(err.message).split("'")[1] if "'" in err.message else err.message
        node = _schema_at(schema, [*err.absolute_path, missing])
        about = f" ({node['description']})" if node.get("description") else ""
        return f"{at}: the setting {key_path([*err.absolute_path, missing])} is missing{about}; add it."
    if v == "type":
        want = err.validator_value
        wants = [want] if isinstance(want, str) else list(want)
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in wants)
        got = _json_type(err.instance)
        shown = json.dumps(err.instance, default=str)[:60]
        return f"{at} is {shown} ({got}) but must be {words}; fix its value."
    if v == "enum":
        choices = ", ".join(json.dumps(c, default=str) for c in err.validator_value)
        return f"{at} is {json.dumps(err.instance, default=str)[:60]}; choose one of {choices}."
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{at} is {err.instance}: {err.message}; change the value."
    if v == "pattern":
        node = _schema_at(schema, err.absolute_path)
        about = node.get("description") or f"it must match {err.validator_value}"
        return f"{at} is {json.dumps(err.instance, default=str)[:80]}: {about}."
    if v in ("minItems", "maxItems", "uniqueItems"):
        return f"{at}: {err.message}; fix the list."
    return f"{at}: {err.message}."


def _fill_defaults(value: Any, schema: Mapping[str, Any]) -> None:
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key, item in value.items():
            sub = props.get(key)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                _fill_defaults(item, sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _fill_defaults(item, schema["items"])


def prepare(config: Mapping[str, Any], schema: Mapping[str, Any],
            source: str = CONFIG_FILE) -> dict[str, Any]:
    """Validate `config` strictly and return a copy with every schema default filled in."""
    data = copy.deepcopy(dict(config))
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(data))
    if errors:
        # Report the shallowest problem first (an unknown section before its contents), and an
        # unknown key before a missing one at the same place: a typo ('weigthing') causes both.
        err = min(errors, key=lambda e: (len(e.absolute_path), e.validator != "additionalProperties",
                                         key_path(e.absolute_path)))
        best = jsonschema.exceptions.best_match([err]) or err
        raise UserError(_message(best, schema, source))
    _fill_defaults(data, schema)
    return data


def leaf_keys(schema: Mapping[str, Any], config: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Every leaf setting of the schema, expanded over the keys the config actually has where the
    schema allows any key (e.g. one entry per survey). Lists are leaves."""
    out: list[tuple[str, ...]] = []

    def walk(node: Mapping[str, Any], value: Any, prefix: tuple[str, ...]) -> None:
        if node.get("type") == "object" or "properties" in node:
            keys = list(node.get("properties", {}))
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) and isinstance(value, Mapping):
                keys += [k for k in value if k not in keys]
            for k in keys:
                sub = node.get("properties", {}).get(k)
                if sub is None:
                    sub = extra if isinstance(extra, dict) else {}
                walk(sub, value.get(k) if isinstance(value, Mapping) else None, (*prefix, k))
            return
        out.append(prefix)

    walk(schema, config, ())
    return out


# ----------------------------------------------------------------------------- pre-flight


def _delivered(path: Path, plan: dict[str, Any]) -> dict[str, str]:
    """Each variable of a delivery with its type, from its metadata only (no data read)."""
    from parentlink.ingest import read_metadata  # imported here: only a pre-flight needs it

    return {n: v.get("type", "") for n, v in read_metadata(path, plan)["variables"].items()}


def _one_of(names: Iterable[str], wanted: str) -> str:
    names = sorted(set(names))
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "choose one of " + ", ".join(names[:12]) + (" …" if len(names) > 12 else "")


def input_files(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key path, file) of every file the config names."""
    files: list[tuple[str, str]] = []
    for name, s in config["surveys"].items():
        files += [(f"surveys.{name}.raw", s["raw"]), (f"surveys.{name}.plan", s["plan"])]
    for i, t in enumerate((config.get("weighting") or {}).get("targets", [])):
        files.append((f"weighting.targets[{i}]", t))
    if config.get("documents"):
        files.append(("documents.source", config["documents"]["source"]))
    return files


def check_files(config: Mapping[str, Any], root: Path, source: str = CONFIG_FILE,
                made_by_workflow: tuple[str, ...] = ()) -> None:
    for key, rel in input_files(config):
        if rel.startswith(made_by_workflow):
            continue
        p = root / rel
        if not p.is_file():
            what = "file" if not p.exists() else "file (it is a folder)"
            raise UserError(f"{source}: {key} names {rel}, which is not a {what} here; put the "
                            f"file there or correct {key}.")


def _margin_variables(path: Path) -> list[str]:
    import csv

    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("#")]
    rows = list(csv.DictReader(lines))
    if not rows or "variable" not in rows[0]:
        return []
    out: list[str] = []
    for r in rows:
        for v in str(r["variable"]).split(":"):
            if v and v not in out:
                out.append(v)
    return out


def check_study(config: Mapping[str, Any], root: Path, source: str = CONFIG_FILE,
                made_by_workflow: tuple[str, ...] = ()) -> None:
    """Every file, plan and variable the config names exists (see module docstring).

    Inputs whose path starts with one of `made_by_workflow` are made by a rule (e.g. the scale
    scenario's synthetic survey): their existence and variable names are left to the run.
    """
    from parentlink.plan import load_plan, output_variables, resolve_names

    check_files(config, root, source, made_by_workflow)
    surveys = config["surveys"]
    cleaned: dict[str, dict[str, str]] = {}
    for name, s in surveys.items():
        plan_path = root / s["plan"]
        plan = load_plan(plan_path)
        cleaned[name] = output_variables(plan)
        if s["raw"].startswith(made_by_workflow):
            continue
        types = _delivered(root / s["raw"], plan)
        delivered = list(types)
        lower = {d.lower(): d for d in delivered}
        plan = resolve_names(plan, delivered, s["raw"])  # SPSS names match in any case, as at ingest
        needed = [("rename", k) for k in plan["rename"]] + [("id", plan["id"])]
        needed += [("text", k) for k in plan.get("text", {})]
        needed += [("drop", k) for k in plan.get("drop", [])]
        needed += [("codes_from_labels", k) for k in plan.get("codes_from_labels", [])]
        needed += [("valid_range", k) for k in plan.get("valid_range", {})]
        if "design_weight" in plan:
            needed.append(("design_weight", plan["design_weight"]))
        for k in ("start", "end"):
            if k in plan.get("timestamps", {}):
                needed.append((f"timestamps.{k}", plan["timestamps"][k]))
        for key, var in needed:
            if var not in delivered:
                near = lower.get(var.lower())
                hint = (f"the delivery spells it '{near}'" if near else _one_of(delivered, var))
                raise UserError(f"{s['plan']}: {key} names '{var}', which {s['raw']} does not "
                                f"contain; {hint}")
        coded = set(plan.get("codes_from_labels", []))
        for var in plan["rename"]:
            kind = types[var]
            if kind == "text" and var not in coded:
                raise UserError(f"{s['plan']}: rename names '{var}', a string variable of {s['raw']}: "
                                "list it under 'codes_from_labels' if its values are labelled codes, "
                                "otherwise under 'text' or 'drop' instead of 'rename'.")
            if kind in ("datetime", "duration"):
                raise UserError(f"{s['plan']}: rename names '{var}', a {kind} variable of {s['raw']}: "
                                "the plan analyses codes and numbers; name it under 'timestamps' or "
                                "'drop' instead.")

    def need(key: str, survey: str, var: str, kinds: tuple[str, ...] | None = None) -> None:
        have = cleaned[survey]
        if var not in have:
            plan = surveys[survey]["plan"]
            raise UserError(f"{source}: {key} '{var}' is not a variable of the cleaned {survey} "
                            f"data made by {plan}; {_one_of(have, var)}")
        if kinds is not None and have[var] not in kinds:
            raise UserError(f"{source}: {key} '{var}' is a {have[var]} variable of the cleaned "
                            f"{survey} data, but it must be {' or '.join(kinds)}; choose another.")

    for survey, spec in config.get("analysis", {}).items():
        if survey not in surveys:
            raise UserError(f"{source}: analysis.{survey} names no survey; "
                            f"{_one_of(surveys, survey)}")
        for i, v in enumerate(spec["items"]):
            need(f"analysis.{survey}.items[{i}]", survey, v, ("categorical",))
        for i, v in enumerate(spec.get("breakdowns", [])):
            need(f"analysis.{survey}.breakdowns[{i}]", survey, v, ("categorical",))
        for i, v in enumerate(spec.get("means", [])):
            need(f"analysis.{survey}.means[{i}]", survey, v, ("numeric",))
    missing_analysis = sorted(set(surveys) - set(config.get("analysis", {})))
    if missing_analysis:
        raise UserError(f"{source}: analysis has no entry for survey {missing_analysis[0]}; add "
                        f"analysis.{missing_analysis[0]} with its items and breakdowns.")
    weighted = [s for s, spec in surveys.items() if spec["weighted"]]
    w = config.get("weighting")
    if w is None:
        if weighted:
            raise UserError(f"{source}: surveys.{weighted[0]}.weighted is true but the config has "
                            f"no weighting section; add weighting (survey, design_weight, "
                            f"targets) or set weighted: false.")
        ws = None
    else:
        ws = w["survey"]
        if ws not in surveys:
            raise UserError(f"{source}: weighting.survey '{ws}' is not a survey; "
                            f"{_one_of(surveys, ws)}")
        if not surveys[ws]["weighted"]:
            raise UserError(f"{source}: weighting.survey '{ws}' is marked weighted: false in "
                            f"surveys.{ws}; set it to true or weight another survey.")
        others = [s for s in weighted if s != ws]
        if others:
            raise UserError(f"{source}: surveys.{others[0]}.weighted is true but weighting.survey "
                            f"is '{ws}'; one survey is weighted to the margins, so set "
                            f"surveys.{others[0]}.weighted: false or weighting.survey: "
                            f"{others[0]}.")
    if w is not None and ws is not None:
        _check_weighting(w, ws, surveys, cleaned, root, source, need)
    for name, m in (config.get("models") or {}).items():
        if m["survey"] not in surveys:
            raise UserError(f"{source}: models.{name}.survey '{m['survey']}' is not a survey; "
                            f"{_one_of(surveys, m['survey'])}")
        need(f"models.{name}.outcome", m["survey"], m["outcome"], ("categorical",))
        for i, v in enumerate(m["predictors"]):
            need(f"models.{name}.predictors[{i}]", m["survey"], v, ("categorical",))
    q = config.get("quotes")
    if q is None:
        return
    if q["survey"] not in surveys:
        raise UserError(f"{source}: quotes.survey '{q['survey']}' is not a survey; "
                        f"{_one_of(surveys, q['survey'])}")
    if q["n"] > 0:
        need("quotes.text", q["survey"], q["text"], ("text",))
        need("quotes.item", q["survey"], q["item"], ("categorical",))


def _check_weighting(w: Mapping[str, Any], ws: str, surveys: Mapping[str, Any],
                     cleaned: Mapping[str, Any], root: Path, source: str,
                     need: Any) -> None:
    """The weighting section: its design weight and margin variables exist in the survey."""
    from parentlink.plan import load_plan

    if w["design_weight"] not in cleaned[ws]:
        plan = load_plan(root / surveys[ws]["plan"])
        named = plan.get("design_weight")
        hint = (f"the plan {surveys[ws]['plan']} turns the delivered {named} into "
                "'design_weight'; use that" if named else
                f"the plan {surveys[ws]['plan']} declares no design_weight; add one")
        raise UserError(f"{source}: weighting.design_weight '{w['design_weight']}' is not a "
                        f"cleaned variable of {ws}; {hint}.")
    for i, t in enumerate(w["targets"]):
        for v in _margin_variables(root / t):
            need(f"weighting.targets[{i}] ({t}) variable", ws, v, ("categorical",))
