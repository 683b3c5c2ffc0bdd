"""Clean: apply the declarative plan to ingested data.

Order: rename -> validate codes -> exclusions (declared order, each counted) -> recodes -> derived
variables -> typed output with metadata. Missing-value codes stay in the data as their codes; the
metadata says what each means and which are excluded from percentage bases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parentlink import csvio
from parentlink.errors import UserError
from parentlink.plan import STAMP_ROLES, declared_missing, resolve_names

FLOW_COLUMNS = ["step", "n_before", "n_excluded", "n_after"]


@dataclass
class Cleaned:
    data: pd.DataFrame
    meta: dict[str, Any]
    flow: pd.DataFrame
    scales: dict[str, Any] = field(default_factory=dict)


def _code_value(key: str) -> int | float:
    """A code's JSON key back to its number: '8' -> 8, '1.5' -> 1.5."""
    f = float(key)
    return int(f) if f.is_integer() else f


def _key(code: float | int) -> str:
    f = float(code)
    return str(int(f)) if f.is_integer() else repr(f)


class _Context:
    """The data being cleaned, its per-variable metadata, and where it came from (for messages)."""

    def __init__(self, df: pd.DataFrame, raw_meta: dict[str, Any], plan: dict[str, Any]) -> None:
        self.df = df
        self.plan = plan
        self.source = raw_meta["file"]
        self.kinds: dict[float, str] = plan["missing"]
        self.excluded_kinds = set(plan.get("exclude_from_base", []))
        self.vars: dict[str, dict[str, Any]] = {}
        self.raw_vars = raw_meta["variables"]

    def missing_of(self, name: str) -> dict[str, str]:
        return self.vars[name]["missing"]

    def missing_codes(self, name: str) -> set[float]:
        return {float(k) for k in self.missing_of(name)}

    def substantive(self, name: str) -> pd.Series:
        """Values that are real answers: not system-missing, not a user-missing code."""
        s = self.df[name]
        return s.where(~s.isin(list(self.missing_codes(name))))


def _rename(ctx: _Context) -> None:
    plan = ctx.plan
    absent = [a for a in plan["rename"] if a not in ctx.df.columns]
    if absent:
        raise UserError(
            f"Cleaning plan key 'rename' names {', '.join(absent)}, which {ctx.source} does not "
            "contain: fix the plan or check the delivery."
        )
    numeric = set(plan.get("numeric", []))
    unknown_numeric = numeric - set(plan["rename"].values())
    if unknown_numeric:
        raise UserError(
            f"Cleaning plan key 'numeric' names {', '.join(sorted(unknown_numeric))}, which are not "
            "renamed variables: use analysis names from 'rename'."
        )
    for agency, name in plan["rename"].items():
        raw = ctx.raw_vars[agency]
        kind = "numeric" if name in numeric else "categorical"
        if raw["type"] != "numeric":
            raise UserError(
                f"{ctx.source}: variable {agency} is {raw['type']}, but the plan renames it as a coded "
                "or numeric variable: drop it from 'rename' or fix the delivery."
            )
        missing = _missing_of(ctx, agency, raw)
        ctx.vars[name] = {
            "label": raw["label"],
            "type": kind,
            "source": agency,
            "derived_from": None,
            "value_labels": {k: v for k, v in raw["value_labels"].items()} if kind == "categorical" else {},
            "missing": missing,
            "measure": raw.get("measure", "unknown"),
            **_display(raw),
            **({"string_codes": dict(raw["string_codes"])} if raw.get("string_codes") else {}),
        }
    ctx.df = ctx.df.rename(columns=plan["rename"])


def _display(raw: dict[str, Any]) -> dict[str, Any]:
    """What SPSS users see of a delivered variable (format, display width, its missing ranges),
    carried to the clean .sav unchanged."""
    out: dict[str, Any] = {k: raw[k] for k in ("format", "display_width") if raw.get(k)}
    if raw.get("missing_ranges"):
        out["missing_ranges"] = [list(r) for r in raw["missing_ranges"]]
    return out


def _in_range(s: pd.Series, lo: float | None, hi: float | None) -> pd.Series:
    inside = s.notna()
    if lo is not None:
        inside &= s >= lo
    if hi is not None:
        inside &= s <= hi
    return inside


def _span(lo: float | None, hi: float | None) -> str:
    return f"{'LO' if lo is None else _key(lo)} THRU {'HI' if hi is None else _key(hi)}"


def _missing_of(ctx: _Context, agency: str, raw: dict[str, Any]) -> dict[str, str]:
    """Missing codes of one agency variable and what each means.

    Three sources, all given a meaning by the plan: codes the file declares user-missing (a
    discrete code, or each code of the data inside a declared range such as LO THRU -1) take it
    from 'missing'; codes under 'declare_missing' are missing whether or not the file declares them.
    """
    declared = declared_missing(ctx.plan, agency)
    missing: dict[str, str] = {}

    def meaning(code: float, why: str) -> str:
        kind = declared.get(code, ctx.kinds.get(code))
        if kind is None:
            raise UserError(
                f"{ctx.source}: variable {agency} has {why} {_key(code)}, which the plan's 'missing' "
                f"does not define: add '{_key(code)}: dont_know|refused|not_asked' under 'missing'."
            )
        return kind

    for code in raw["missing_codes"]:
        missing[_key(code)] = meaning(float(code), "SPSS user-missing code")
    s = pd.to_numeric(ctx.df[agency], errors="coerce") if raw["type"] == "numeric" else None
    for lo, hi in raw.get("missing_ranges", []):
        if s is None:
            continue
        for code in sorted(set(s[_in_range(s, lo, hi)].tolist())):
            missing[_key(code)] = meaning(float(code), f"a code in its user-missing range {_span(lo, hi)}:")
    for code, kind in declared.items():
        missing[_key(code)] = kind
    return dict(sorted(missing.items(), key=lambda kv: float(kv[0])))


def _validate_codes(ctx: _Context) -> None:
    """Every coded value must be a labelled code or a declared missing code."""
    for name, v in ctx.vars.items():
        if v["type"] != "categorical":
            continue
        if not v["value_labels"]:
            raise UserError(
                f"{ctx.source}: variable {v['source']} has no value labels, so its codes cannot be "
                "checked: add it to the plan's 'numeric' list if it is a count, or ask for the labels."
            )
        allowed = {float(k) for k in v["value_labels"]} | ctx.missing_codes(name)
        s = ctx.df[name]
        bad = s.notna() & ~s.isin(list(allowed))
        if bad.any():
            values = sorted(set(s[bad].tolist()))
            shown = ", ".join(_key(x) for x in values[:8])
            first = _key(values[0])
            raise UserError(
                f"{ctx.source}: variable {v['source']} ({name}) has unknown code(s) {shown} in "
                f"{int(bad.sum())} row(s): if a code means a missing answer, declare it with the plan's "
                f"'declare_missing: [{{variables: [{v['source']}], codes: {{{first}: "
                "dont_know|refused|not_asked}}]', otherwise ask the agency for its value label."
            )


def _validate_ranges(ctx: _Context) -> None:
    """Every answer of a variable under the plan's 'valid_range' lies inside it (missing codes,
    declared by the file or the plan, are not answers and are not checked)."""
    names = {v["source"]: n for n, v in ctx.vars.items() if v.get("source")}
    for agency, (lo, hi) in ctx.plan.get("valid_range", {}).items():
        if agency not in names:
            raise UserError(
                f"Cleaning plan key 'valid_range' names {agency}, which is not a variable under "
                "'rename': use the agency's name of a renamed variable."
            )
        x = ctx.substantive(names[agency])
        bad = x.notna() & ((x < lo) | (x > hi))
        if bad.any():
            values = sorted(set(x[bad].tolist()))
            shown = ", ".join(_key(c) for c in values[:8]) + (" …" if len(values) > 8 else "")
            codes = ", ".join(f"{_key(c)}: dont_know|refused|not_asked" for c in values[:3])
            raise UserError(
                f"{ctx.source}: variable {agency} has value(s) {shown} outside its valid range "
                f"{_key(lo)}-{_key(hi)} in {int(bad.sum())} row(s): if they mean a missing answer, "
                f"declare them with the plan's 'declare_missing: [{{variables: [{agency}], codes: "
                f"{{{codes}}}}}]', if they are valid widen 'valid_range', otherwise ask the agency."
            )


# --- exclusions -------------------------------------------------------------------------------


def _rule_not_equal(ctx: _Context, rule: dict[str, Any]) -> pd.Series:
    name = rule["variable"]
    if name not in ctx.df.columns:
        raise UserError(
            f"Cleaning plan exclusion '{rule['step']}' names variable '{name}', which is not in the "
            "renamed data: use a name from 'rename'."
        )
    s = ctx.df[name]
    flag = s.notna() & (s != rule["value"])
    if rule.get("missing", "exclude") == "exclude":
        flag |= s.isna()
    return flag


def _durations(ctx: _Context) -> pd.Series:
    ts = ctx.plan.get("timestamps")
    if not ts:
        raise UserError(
            "Cleaning plan uses a 'speeder' exclusion but has no 'timestamps': add timestamps: "
            "{start: ..., end: ...}."
        )
    return (ctx.df[ts["end"]] - ctx.df[ts["start"]]).dt.total_seconds()


def _rule_duplicate(ctx: _Context, rule: dict[str, Any]) -> pd.Series:
    df = ctx.df
    if rule.get("order_by", "file") == "start":
        start = ctx.plan["timestamps"]["start"]
        order = df.sort_values([start, "respondent_id"], kind="stable").index
    else:
        order = df.index
    dup = df.loc[order, "respondent_id"].duplicated(keep="first")
    return dup.reindex(df.index)


def _rule_speeder(ctx: _Context, rule: dict[str, Any]) -> pd.Series:
    dur = _durations(ctx)
    threshold = rule.get("fraction_of_median", 0.4) * float(dur.median())
    return dur.notna() & (dur < threshold)


def _grid(ctx: _Context, grid: str) -> list[str]:
    grids = ctx.plan.get("grids", {})
    if grid not in grids:
        raise UserError(
            f"Cleaning plan refers to grid '{grid}', which is not defined under 'grids': define it or "
            "fix the name."
        )
    items = grids[grid]
    absent = [i for i in items if i not in ctx.df.columns]
    if absent:
        raise UserError(
            f"Cleaning plan grid '{grid}' names {', '.join(absent)}, which are not renamed variables: "
            "fix the grid."
        )
    return list(items)


def _rule_straight_liner(ctx: _Context, rule: dict[str, Any]) -> pd.Series:
    """Same substantive answer to every item of every listed grid (at least 3 answers per grid)."""
    flag = np.ones(len(ctx.df), dtype=bool)
    for grid in rule["grids"]:
        block = np.column_stack(
            [ctx.substantive(i).to_numpy(dtype=float, na_value=np.nan) for i in _grid(ctx, grid)]
        )
        answered = (~np.isnan(block)).sum(axis=1)
        with np.errstate(invalid="ignore"):  # rows with no answer give NaN and are not flagged
            same = np.fmin.reduce(block, axis=1) == np.fmax.reduce(block, axis=1)
        flag &= same & (answered >= 3)
    return pd.Series(flag, index=ctx.df.index)


def _rule_incomplete(ctx: _Context, rule: dict[str, Any]) -> pd.Series:
    """Share of asked grid items that were answered (any answer incl. don't know) below the minimum."""
    items = [i for g in rule["grids"] for i in _grid(ctx, g)]
    not_asked = {i: [float(k) for k, kind in ctx.missing_of(i).items() if kind == "not_asked"] for i in items}
    asked = pd.DataFrame({i: ~ctx.df[i].isin(not_asked[i]) for i in items})
    answered = pd.DataFrame({i: ctx.df[i].notna() for i in items}) & asked
    share = answered.sum(axis=1) / asked.sum(axis=1).clip(lower=1)
    return share < rule.get("min_answered", 0.8)


RULES = {
    "not_equal": _rule_not_equal,
    "duplicate": _rule_duplicate,
    "speeder": _rule_speeder,
    "straight_liner": _rule_straight_liner,
    "incomplete": _rule_incomplete,
}


def _check_unique_ids(ctx: _Context) -> None:
    """Without a declared duplicate rule, a repeated id means a broken export, not a re-interview."""
    if any(r["rule"] == "duplicate" for r in ctx.plan["exclusions"]):
        return
    dup = ctx.df["respondent_id"].duplicated(keep=False)
    if dup.any():
        raise UserError(
            f"{ctx.source}: id variable '{ctx.plan['id']}' repeats in {int(dup.sum())} row(s) "
            f"({int(ctx.df.loc[dup, 'respondent_id'].nunique())} id(s)): ask the agency for a "
            "de-duplicated file, "
            "or add a 'duplicate' exclusion to the plan if repeated interviews are expected."
        )


def _exclude(ctx: _Context) -> pd.DataFrame:
    n0 = len(ctx.df)
    rows = [{"step": "delivered", "n_before": n0, "n_excluded": 0, "n_after": n0}]
    for rule in ctx.plan["exclusions"]:
        before = len(ctx.df)
        flag = RULES[rule["rule"]](ctx, rule).fillna(False).astype(bool)
        ctx.df = ctx.df.loc[~flag].reset_index(drop=True)
        rows.append(
            {"step": rule["step"], "n_before": before, "n_excluded": int(flag.sum()), "n_after": len(ctx.df)}
        )
    if len(ctx.df) == 0:
        raise UserError(
            f"{ctx.source}: the plan's exclusions removed every record: check the exclusion rules and codes."
        )
    return pd.DataFrame(rows, columns=FLOW_COLUMNS)


# --- recodes and derived variables ------------------------------------------------------------


def _recode(ctx: _Context) -> None:
    for spec in ctx.plan.get("recode", []):
        mapping = {float(k): float(v) for k, v in spec["map"].items()}
        for src in spec["from"]:
            if src not in ctx.vars:
                raise UserError(
                    f"Cleaning plan 'recode' names '{src}', which is not a renamed variable: fix the name."
                )
            into = spec["into"].format(name=src)
            s = ctx.df[src]
            miss = ctx.missing_codes(src)
            unmapped = s.notna() & ~s.isin(list(mapping)) & ~s.isin(list(miss))
            if unmapped.any():
                codes = ", ".join(sorted({_key(x) for x in s[unmapped]}))
                raise UserError(
                    f"Cleaning plan 'recode' of {src} does not map code(s) {codes}: add them to 'map'."
                )
            ctx.df[into] = s.astype(float).replace(mapping)
            src_meta = ctx.vars[src]
            labels = {str(k): v for k, v in spec["labels"].items()}
            labels.update(
                {k: src_meta["value_labels"][k] for k in src_meta["missing"] if k in src_meta["value_labels"]}
            )
            ctx.vars[into] = {
                "label": spec.get("label", src_meta["label"] + " (collapsed)"),
                "type": "categorical",
                "source": None,
                "derived_from": [src],
                "value_labels": labels,
                "missing": dict(src_meta["missing"]),
                "measure": "ordinal",
                "note": "recode " + ", ".join(f"{_key(k)}->{_key(v)}" for k, v in mapping.items()),
            }
            if "exclude_from_base" in spec:
                ctx.vars[into]["base_excludes"] = list(spec["exclude_from_base"])


def _derive_bands(ctx: _Context, spec: dict[str, Any]) -> None:
    src = spec["from"]
    breaks = spec["breaks"]
    labels = spec["labels"]
    if len(labels) != len(breaks):
        raise UserError(
            f"Cleaning plan 'derive' of {spec['into']}: 'labels' needs one label per break ({len(breaks)})."
        )
    x = ctx.substantive(src)
    below = x.notna() & (x < breaks[0])
    if below.any():
        raise UserError(
            f"{ctx.source}: {src} has {int(below.sum())} value(s) below the first band ({breaks[0]}): "
            "fix the data or the plan's 'breaks'."
        )
    codes = np.searchsorted(np.asarray(breaks, dtype=float), x.to_numpy(dtype=float), side="right").astype(
        float
    )
    ctx.df[spec["into"]] = np.where(x.notna(), codes, np.nan)
    ctx.vars[spec["into"]] = {
        "label": spec.get("label", src),
        "type": "categorical",
        "source": None,
        "derived_from": [src],
        "value_labels": {str(i + 1): lab for i, lab in enumerate(labels)},
        "missing": {},
        "measure": "ordinal",
        "note": f"bands of {src} starting at {breaks}",
    }


def cronbach_alpha(items: pd.DataFrame) -> float:
    """alpha = k/(k-1) * (1 - sum of item variances / variance of the total), on complete cases."""
    complete = items.dropna()
    k = complete.shape[1]
    if k < 2 or len(complete) < 2:
        return float("nan")
    item_var = complete.var(axis=0, ddof=1).sum()
    total_var = complete.sum(axis=1).var(ddof=1)
    return float(k / (k - 1) * (1 - item_var / total_var))


def _derive_index(ctx: _Context, spec: dict[str, Any]) -> dict[str, Any]:
    scored = {}
    for part in spec["index"]:
        best, worst = float(part["best"]), float(part["worst"])
        for item in _grid(ctx, part["grid"]):
            # Don't know is a real answer but carries no position on the scale, so it scores missing.
            scored[item] = (worst - ctx.substantive(item)) / (worst - best)
    block = pd.DataFrame(scored)
    enough = block.notna().mean(axis=1) >= spec.get("min_answered", 0.5)
    ctx.df[spec["into"]] = block.mean(axis=1).where(enough)
    alpha = cronbach_alpha(block)
    ctx.vars[spec["into"]] = {
        "label": spec.get("label", spec["into"]),
        "type": "numeric",
        "source": None,
        "derived_from": list(scored),
        "value_labels": {},
        "missing": {},
        "measure": "scale",
        "note": (
            f"mean of {len(scored)} items scored 0-1 (best answer 1); "
            f"Cronbach's alpha {alpha:.3f} on {int(block.dropna().shape[0])} complete cases"
        ),
    }
    return {
        "variable": spec["into"],
        "items": list(scored),
        "cronbach_alpha": round(alpha, 6),
        "n_complete": int(block.dropna().shape[0]),
    }


def _derive_threshold(ctx: _Context, spec: dict[str, Any]) -> None:
    x = ctx.df[spec["from"]]
    ctx.df[spec["into"]] = np.where(x.notna(), (x >= spec["threshold"]).astype(float), np.nan)
    ctx.vars[spec["into"]] = {
        "label": spec.get("label", spec["into"]),
        "type": "categorical",
        "source": None,
        "derived_from": [spec["from"]],
        "value_labels": {str(k): v for k, v in spec["labels"].items()},
        "missing": {},
        "measure": "nominal",
        "note": f"1 if {spec['from']} >= {spec['threshold']}",
    }


def _multi_response(ctx: _Context) -> None:
    """Multi-response sets: items where a listed code means 'selected' (e.g. acceptable).

    For each set, `{name}_count` is how many items were selected and `{name}_any` whether any was;
    both are missing where no item of the set has a substantive answer (don't know, refused and
    not asked are not answers here).
    """
    for spec in ctx.plan.get("multi_response", []):
        absent = [i for i in spec["items"] if i not in ctx.vars]
        if absent:
            raise UserError(
                f"Cleaning plan multi_response '{spec['name']}' names {', '.join(absent)}, "
                "which are not renamed variables: use names from 'rename'."
            )
        block = pd.DataFrame({i: ctx.substantive(i) for i in spec["items"]})
        selected = block.isin([float(c) for c in spec["codes"]])
        answered = block.notna().any(axis=1)
        count = selected.sum(axis=1).where(answered)
        label = spec.get("label", spec["name"])
        source: dict[str, Any] = {"source": None, "derived_from": list(spec["items"]), "missing": {}}
        note = f"codes {spec['codes']} count as selected"
        ctx.df[f"{spec['name']}_count"] = count.astype(float)
        ctx.vars[f"{spec['name']}_count"] = {
            "label": f"{label}: number selected", "type": "numeric", "value_labels": {},
            "measure": "scale", "note": note, **source,
        }  # fmt: skip
        ctx.df[f"{spec['name']}_any"] = (count > 0).astype(float).where(answered)
        ctx.vars[f"{spec['name']}_any"] = {
            "label": f"{label}: any selected", "type": "categorical", "measure": "nominal",
            "value_labels": {"0": "None selected", "1": "At least one selected"}, "note": note, **source,
        }  # fmt: skip


def _derive(ctx: _Context) -> dict[str, Any]:
    scales = {}
    for spec in ctx.plan.get("derive", []):
        src = spec.get("from")
        if src is not None and src not in ctx.df.columns:
            raise UserError(
                f"Cleaning plan 'derive' of {spec['into']} names '{src}', which does not exist at that "
                "point: fix 'from'."
            )
        if "breaks" in spec:
            _derive_bands(ctx, spec)
        elif "index" in spec:
            scales[spec["into"]] = _derive_index(ctx, spec)
        elif "threshold" in spec:
            _derive_threshold(ctx, spec)
        else:
            raise UserError(
                f"Cleaning plan 'derive' of {spec['into']} needs one of 'breaks', 'index' or 'threshold'."
            )
    return scales


# --- assembly ---------------------------------------------------------------------------------


def _whole(s: pd.Series) -> bool:
    x = s.dropna().astype(float)
    return bool((x == x.round()).all())


def _finish(ctx: _Context) -> pd.DataFrame:
    plan = ctx.plan
    out = pd.DataFrame({"respondent_id": ctx.df["respondent_id"].astype(str)})
    if "design_weight" in plan:
        w = ctx.df[plan["design_weight"]].astype(float)
        if w.isna().any() or (w <= 0).any():
            raise UserError(
                f"{ctx.source}: design weight {plan['design_weight']} is missing or not positive in "
                f"{int((w.isna() | (w <= 0)).sum())} row(s): ask the agency for complete weights."
            )
        out["design_weight"] = w.to_numpy()
    stamps = plan.get("timestamps") or {}
    if stamps.get("duration"):
        out[stamps["duration"]] = _durations(ctx).round().astype("Int64").to_numpy()
    if stamps.get("date"):
        out[stamps["date"]] = ctx.df[stamps["start"]].dt.normalize().to_numpy()
    for name, v in ctx.vars.items():
        if v["type"] == "categorical" and _whole(ctx.df[name]):
            out[name] = pd.array(ctx.df[name], dtype="Int64")
        elif v["type"] == "categorical":  # codes such as 1.5 are kept exact, never rounded
            out[name] = ctx.df[name].astype(float).to_numpy()
        else:
            out[name] = ctx.df[name].astype(float).to_numpy()
    for agency, name in plan.get("text", {}).items():
        out[name] = ctx.df[agency].astype(str).to_numpy()
    return out.sort_values("respondent_id", kind="stable").reset_index(drop=True)


def _meta(ctx: _Context, survey: str, n: int, weighted: bool) -> dict[str, Any]:
    excluded = ctx.excluded_kinds
    variables: dict[str, Any] = {}
    for name, v in ctx.vars.items():
        entry = dict(v)
        kinds = set(entry.pop("base_excludes", excluded))
        codes = [_code_value(k) for k, kind in v["missing"].items() if kind in kinds]
        entry["exclude_from_base"] = sorted(codes, key=float)
        variables[name] = entry
    for agency, name in ctx.plan.get("text", {}).items():
        variables[name] = {
            "label": ctx.raw_vars[agency]["label"] + " [redacted]",
            "type": "text",
            "source": agency,
            "derived_from": None,
            "value_labels": {},
            "missing": {},
            "exclude_from_base": [],
            "note": (
                "e-mail addresses, links, phone numbers, postcodes and personal names replaced; length capped"
            ),
        }
    weight = ctx.plan.get("design_weight")
    stamps = ctx.plan.get("timestamps") or {}
    stamp = stamps.get("start")
    paradata: dict[str, tuple[str, str, str | None, dict[str, Any]]] = {}
    if weight:
        # The agency's own label, format and width of its weight are kept.
        raw = ctx.raw_vars.get(weight, {})
        paradata["design_weight"] = (raw.get("label") or "Design weight", "numeric", weight,
                                     {"measure": "scale", **_display(raw)})
    if stamp and stamps.get("duration"):
        paradata[stamps["duration"]] = ("Interview duration (seconds)", "numeric", None,
                                        {"measure": "scale", "format": "F8.0"})
    if stamp and stamps.get("date"):
        paradata[stamps["date"]] = ("Interview date", "datetime", stamp,
                                    {"measure": "scale", "format": "DATE11"})
    for name, (label, kind, source, display) in paradata.items():
        variables[name] = {
            "label": label,
            "type": kind,
            "source": source,
            "derived_from": None,
            "value_labels": {},
            "missing": {},
            "exclude_from_base": [],
            **display,
        }
    return {"survey": survey, "n": n, "weighted": weighted, "source_file": ctx.source, "variables": variables}


def _check_timestamps(ctx: _Context) -> None:
    """The plan's start and end are date-times (a string column was parsed at ingest)."""
    stamps = ctx.plan.get("timestamps") or {}
    for role, agency in ((r, stamps[r]) for r in STAMP_ROLES if r in stamps):
        if agency not in ctx.df.columns:
            raise UserError(
                f"Cleaning plan key 'timestamps/{role}' names {agency}, which {ctx.source} does not "
                "contain: fix the plan or check the delivery."
            )
        kind = ctx.raw_vars.get(agency, {}).get("type")
        if not pd.api.types.is_datetime64_any_dtype(ctx.df[agency]):
            what = {"duration": "a time of day or duration", "numeric": "a number"}.get(str(kind), "text")
            raise UserError(
                f"{ctx.source}: timestamps/{role} variable {agency} is {what}, not a date-time "
                f"(format {ctx.raw_vars.get(agency, {}).get('format') or 'unknown'}): name date-time "
                "variables under 'timestamps', or ask the agency for a DATETIME format."
            )


def _checked(df: pd.DataFrame, raw_meta: dict[str, Any], plan: dict[str, Any]) -> _Context:
    plan = resolve_names(plan, list(raw_meta["variables"]), raw_meta["file"])
    ctx = _Context(df.copy(), raw_meta, plan)
    _check_timestamps(ctx)
    _rename(ctx)
    for grid in ctx.plan.get("grids", {}):
        _grid(ctx, grid)
    _validate_codes(ctx)
    _validate_ranges(ctx)
    _check_unique_ids(ctx)
    return ctx


def validate(df: pd.DataFrame, raw_meta: dict[str, Any], plan: dict[str, Any]) -> None:
    """Check a delivery against its plan (names, types, codes, grids) before anything is written."""
    _checked(df, raw_meta, plan)


def clean(df: pd.DataFrame, raw_meta: dict[str, Any], plan: dict[str, Any], weighted: bool) -> Cleaned:
    """Apply a cleaning plan (see config/plans/) to ingested data."""
    ctx = _checked(df, raw_meta, plan)
    flow = _exclude(ctx)
    _recode(ctx)
    scales = _derive(ctx)
    _multi_response(ctx)
    data = _finish(ctx)
    meta = _meta(ctx, plan["survey"], len(data), weighted)
    date = (plan.get("timestamps") or {}).get("date")
    if date and data[date].notna().any():
        # The fieldwork period of the respondents kept, for the documents' method notes.
        days = pd.to_datetime(data[date]).dropna()
        meta["fieldwork"] = {"first_date": days.min().date().isoformat(),
                             "last_date": days.max().date().isoformat()}
    return Cleaned(data=data, meta=meta, flow=flow, scales=scales)


TEXT_APART_NOTE = ("kept apart from the clean data and the .sav, in results/clean/{survey}_text"
                   ".parquet (plan text_in_clean: true keeps it in)")


def split_text(c: Cleaned, keep_in_clean: bool = False) -> tuple[Cleaned, pd.DataFrame]:
    """Open text (redacted at ingest) apart from the clean data: (the clean data without it, a
    table of respondent_id and the text columns). With `keep_in_clean` (a restricted-access
    deposit that the plan opts into) the clean data keeps the text as well."""
    names = [n for n, v in c.meta["variables"].items() if v.get("type") == "text"
             and n in c.data.columns]
    text = c.data[["respondent_id", *names]].copy()
    if keep_in_clean or not names:
        return c, text
    variables = {n: (dict(v, note="; ".join(x for x in (v.get("note"), TEXT_APART_NOTE.format(
                     survey=c.meta.get("survey", "<survey>"))) if x)) if n in names else v)
                 for n, v in c.meta["variables"].items()}
    return replace(c, data=c.data.drop(columns=names),
                   meta=dict(c.meta, variables=variables)), text


def write_cleaned(c: Cleaned, parquet: str | Path, meta: str | Path, flow: str | Path,
                  text: str | Path | None = None, keep_text: bool = False) -> None:
    """The clean parquet, metadata and flow; with `text`, the open text goes there instead of
    into the clean parquet (split_text)."""
    if text is not None:
        c, apart = split_text(c, keep_text)
        apart.to_parquet(text, index=False)
    c.data.to_parquet(parquet, index=False)
    m = dict(c.meta, scales=c.scales)
    Path(meta).write_text(json.dumps(m, indent=1, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    csvio.neutralise(c.flow).to_csv(flow, index=False, lineterminator="\n")
