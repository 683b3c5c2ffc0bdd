"""A starter cleaning plan for a new delivery: ``python -m parentlink.starter FILE --out PLAN.yaml``.

Reads the delivery (metadata and data) and writes a plan in the format of config/plans/ that
validates and that ingest and clean run on unchanged: every variable is listed with its label,
value labels and missing codes as comments; the id, the weight, the interview timestamps and
the open-text variables are guessed; likely direct identifiers (e-mail, phone, name, address,
postcode: by name or by content) are put under ``drop``. Missing codes get a meaning guessed from
their value labels, and labelled codes that read as "don't know" or "refused" but are not declared
user-missing in the file are declared missing for their variable. Guesses are marked ``CHECK``:
the plan is a start for a person to review, not a decision. Before writing, the plan is checked
by running ingest and clean on the delivery in memory. No data value is written to the plan.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from parentlink.clean import clean
from parentlink.errors import UserError
from parentlink.ingest import apply_privacy, codes_from_labels, read_raw
from parentlink.plan import load_plan
from parentlink.privacy import first_names

_ID = re.compile(r"(^|_)(id|serial|caseid|case|resp|respid|resp_id|respondent|uid|record)(_|$|no|num)|id$",
                 re.I)
_WEIGHT = re.compile(r"weight|wgt|^wt|wt$", re.I)
_IDENTIFIER_NAME = re.compile(
    r"e_?mail|phone|mobile|(^|_)tel(_|$)|telephone|(^|_)(first|last|sur|full|given|family)_?name|"
    r"name$|(^|_)name(_|$)|post_?code|zip_?code|(^|_)address|street|(^|_)nino?(_|$)|nhs_?n",
    re.I,
)
# Sample-design variables (PSUs, strata, clusters) name places or units but identify no one: a
# "primary sampling unit (postcode sector)" is kept for the design, not dropped.
_DESIGN = re.compile(r"(^|_)(psu|ssu|strat\w*|cluster|fpc)(_|$)|sampling unit|stratum|strata", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{8,}[0-9]$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$", re.I)
_START = re.compile(r"start|begin", re.I)
_END = re.compile(r"end|finish|stop|submit", re.I)
_KINDS = (
    ("dont_know", re.compile(r"don.?t know|\bdk\b|not sure|can.?t say|unsure", re.I)),
    ("refused", re.compile(r"refus|prefer not|rather not|declin|no answer|not stated", re.I)),
    ("not_asked", re.compile(r"not asked|not applicable|\bn/?a\b|inapplicable|skip|routed|missing", re.I)),
)


def _kind_of(label: str) -> str | None:
    for kind, pattern in _KINDS:
        if pattern.search(label):
            return kind
    return None


def _q(text: Any) -> str:
    """A YAML scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _looks_like(s: pd.Series, pattern: re.Pattern[str], share: float = 0.5) -> bool:
    text = s.dropna().astype(str).str.strip()
    text = text[text != ""]
    return len(text) > 0 and text.str.fullmatch(pattern.pattern, case=False).mean() >= share


def _lower_first_names() -> set[str]:
    return {n.lower() for n in first_names()}


def identifiers(df: pd.DataFrame, meta: dict[str, Any]) -> dict[str, str]:
    """Likely direct identifiers and why: by name, or (text variables) by what most values look like."""
    out = {}
    for col in df.columns:
        label = meta["variables"][col]["label"] or ""
        if _DESIGN.search(col) or _DESIGN.search(label):
            continue
        if _IDENTIFIER_NAME.search(col) or _IDENTIFIER_NAME.search(label):
            out[col] = "name or label suggests a direct identifier"
        elif meta["variables"][col]["type"] == "text":
            text = df[col].dropna().astype(str)
            if len(text) and text.str.contains(_EMAIL).mean() >= 0.5:
                out[col] = "values look like e-mail addresses"
            elif _looks_like(df[col], _PHONE):
                out[col] = "values look like phone numbers"
            elif _looks_like(df[col], _POSTCODE):
                out[col] = "values look like postcodes"
            elif len(text) and text.str.strip().str.lower().isin(_lower_first_names()).mean() >= 0.5:
                out[col] = "values look like first names"
    return out


def guess_id(df: pd.DataFrame, meta: dict[str, Any], skip: set[str]) -> tuple[str, str]:
    unique = [c for c in df.columns if c not in skip and df[c].notna().all() and df[c].is_unique
              and meta["variables"][c]["type"] in ("numeric", "text")]
    named = [c for c in unique if _ID.search(c)]
    if named:
        return named[0], "unique in every row and named like an id"
    if unique:
        return unique[0], "CHECK: the first variable unique in every row"
    named = [c for c in df.columns if _ID.search(c) and c not in skip]
    if named:
        return named[0], "CHECK: named like an id but repeats: a 'duplicate' exclusion keeps the first"
    raise UserError(f"{meta['file']}: no variable is unique in every row, so none can be the "
                    "respondent id: ask the agency which variable identifies respondents.")


def guess_weight(df: pd.DataFrame, meta: dict[str, Any], skip: set[str]) -> str | None:
    for c in df.columns:
        v = meta["variables"][c]
        if c in skip or v["type"] != "numeric" or v["value_labels"]:
            continue
        x = pd.to_numeric(df[c], errors="coerce")
        if (_WEIGHT.search(c) or _WEIGHT.search(v["label"] or "")) and x.notna().all() and (x > 0).all():
            return str(c)
    return None


# Names the starter proposes for the interview's length (seconds) and date, made from timestamps.
STAMP_NAMES = {"duration": "interview_seconds", "date": "interview_date"}


def guess_timestamps(meta: dict[str, Any], skip: set[str]) -> dict[str, str] | None:
    dated = [c for c, v in meta["variables"].items() if v["type"] == "datetime" and c not in skip]
    start = [c for c in dated if _START.search(c)]
    end = [c for c in dated if _END.search(c) and c not in start]
    return {"start": start[0], "end": end[0]} if start and end else None


def _analysis_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "v"
    if base[0].isdigit():
        base = "v_" + base
    out, i = base, 2
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


def _code(key: str) -> str:
    f = float(key)
    return str(int(f)) if f.is_integer() else repr(f)


def _in_ranges(s: pd.Series, ranges: list[list[float | None]]) -> list[float]:
    x = pd.to_numeric(s, errors="coerce")
    found: set[float] = set()
    for lo, hi in ranges:
        inside = x.notna() & (x >= (lo if lo is not None else -float("inf")))
        inside &= x <= (hi if hi is not None else float("inf"))
        found |= set(x[inside].tolist())
    return sorted(found)


def _describe(name: str, v: dict[str, Any], missing: dict[float, str]) -> list[str]:
    lines = [f"  # {name} {_q(v['label'])}, {v['type']}, format {v.get('format') or '?'}"]
    if v.get("string_codes"):
        lines.append("  #   string values as codes (codes_from_labels): " + ", ".join(
            f"{_q(text)} -> {code}" for text, code in v["string_codes"].items()))
    if v["value_labels"]:
        shown = []
        for k, lab in sorted(v["value_labels"].items(), key=lambda kv: float(kv[0])):
            mark = f" [missing: {missing[float(k)]}]" if float(k) in missing else ""
            shown.append(f"{_code(k)} {lab}{mark}")
        lines.append("  #   " + "; ".join(shown))
    others = [c for c in missing if _code(str(c)) not in {_code(k) for k in v["value_labels"]}]
    if others:
        lines.append("  #   missing codes without labels: " + ", ".join(
            f"{_code(str(c))} ({missing[c]})" for c in sorted(others)))
    if v.get("missing_ranges"):
        lines.append("  #   user-missing range(s): " + ", ".join(
            f"{'LO' if lo is None else _code(str(lo))} THRU {'HI' if hi is None else _code(str(hi))}"
            for lo, hi in v["missing_ranges"]))
    return lines


def _numeric_labels(v: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k, lab in v["value_labels"].items():
        try:
            float(k)
        except ValueError:
            continue
        out[k] = lab
    return out


def labelled_strings(df: pd.DataFrame, variables: dict[str, Any]) -> list[str]:
    """String variables whose every value is labelled or declared missing: coded, not free text."""
    out = []
    for col, v in variables.items():
        if v["type"] != "text" or not v["value_labels"]:
            continue
        values = set(df[col].dropna().astype(str).str.rstrip()) - {""}
        if values and values <= set(v["value_labels"]) | set(v.get("missing_strings", [])):
            out.append(col)
    return out


def starter_plan(path: str | Path, survey: str | None = None) -> str:
    """The text of a starter plan for one delivery (see the module docstring)."""
    df, meta = read_raw(path)
    variables = meta["variables"]
    coded = labelled_strings(df, variables)
    codes_from_labels(df, variables, {"codes_from_labels": coded}, Path(path).name)
    survey = survey or _analysis_name(Path(path).stem, set())
    drop = identifiers(df, meta)
    id_name, id_why = guess_id(df, meta, set(drop))
    drop.pop(id_name, None)
    weight = guess_weight(df, meta, {id_name, *drop})
    stamps = guess_timestamps(meta, {id_name, *drop})
    used = {id_name, *drop, *([weight] if weight else []), *(stamps or {}).values()}
    text, rename, numeric, notes = {}, {}, [], {}
    file_kinds: dict[float, Counter[str]] = {}
    unexplained: set[float] = set()  # declared codes no value label explains
    undeclared: dict[float, dict[str, str]] = {}  # code -> {variable: kind}
    per_var_missing: dict[str, dict[float, str]] = {}
    taken: set[str] = {"respondent_id", "design_weight", *STAMP_NAMES.values()}
    for col, v in variables.items():
        if col in used:
            continue
        if v["type"] == "text":
            if df[col].astype("string").fillna("").str.strip().ne("").any():
                text[col] = _analysis_name(col, taken)
            else:
                drop[col] = "empty text variable"
            continue
        if v["type"] != "numeric":
            drop[col] = f"{v['type']} variable: the plan analyses codes and numbers only"
            continue
        labels = _numeric_labels(v)
        declared = {float(c) for c in v["missing_codes"]} | set(_in_ranges(df[col], v["missing_ranges"]))
        mine: dict[float, str] = {}
        for code in declared:
            found = _kind_of(labels.get(_code(str(code)), ""))
            kind = found or "not_asked"
            if found is None:
                unexplained.add(code)
            file_kinds.setdefault(code, Counter())[kind] += 1
            mine[code] = kind
        for k, lab in labels.items():
            guess = _kind_of(lab)
            if guess and float(k) not in declared:
                undeclared.setdefault(float(k), {})[col] = guess
                mine[float(k)] = guess
        per_var_missing[col] = mine
        x = pd.to_numeric(df[col], errors="coerce").dropna()
        unlabelled = set(x) - {float(k) for k in labels} - set(mine)
        rename[col] = _analysis_name(col, taken)
        if not labels or unlabelled:
            numeric.append(rename[col])
            if labels and unlabelled:
                notes[col] = (f"CHECK: {len(unlabelled)} value(s) without a label, so it is listed as "
                              "numeric; if it is coded, ask the agency for the labels")
    study_missing = {c: k.most_common(1)[0][0] for c, k in sorted(file_kinds.items())}
    lines = [
        f"# Starter cleaning plan for {Path(path).name}, written by python -m parentlink.starter.",
        "# Every guess is a start for review: read it top to bottom, check each line marked CHECK.",
        f"survey: {_q(survey)}",
        f"id: {_q(id_name)}    # {id_why}",
    ]
    if drop:
        lines.append("drop:                # direct identifiers, and variables the pipeline cannot analyse")
        lines += [f"  - {_q(c)}    # {why}" for c, why in drop.items()]
    else:
        lines.append("drop: []")
    lines.append("text:                # open text: redacted at ingest" if text else "text: {}")
    lines += [f"  {_q(c)}: {_q(n)}" + (f"    # {_q(variables[c]['label'])}" if variables[c]["label"] else "")
              for c, n in text.items()]
    if coded:
        lines.append(f"codes_from_labels: [{', '.join(_q(c) for c in coded)}]    # labelled string "
                     "variables analysed as codes 1, 2, ... in the file's label order")
    if weight:
        label = variables[weight]["label"]
        lines.append(f"design_weight: {_q(weight)}    # {_q(label) + ' ' if label else ''}CHECK")
    if stamps:
        lines.append(f"timestamps: {{start: {_q(stamps['start'])}, end: {_q(stamps['end'])}, "
                     f"duration: {STAMP_NAMES['duration']}, date: {STAMP_NAMES['date']}}}    # CHECK")
    lines += ["", "# What each user-missing code the file declares means (guessed from its value labels)."]
    conflicts = {c for c, k in file_kinds.items() if len(k) > 1}
    lines.append("missing:" + ("" if study_missing else " {}"))
    for c, k in study_missing.items():
        why = ("labels disagree between variables" if c in conflicts
               else "no value label says what it means" if c in unexplained else "")
        lines.append(f"  {_code(str(c))}: {k}" + (f"    # CHECK: {why}" if why else ""))
    lines.append("exclude_from_base: [refused, not_asked]")
    declarations = _declarations(per_var_missing, study_missing, undeclared)
    if declarations:
        lines += ["", "# Codes missing for these variables though the file does not declare them (their",
                  "# value labels read as a missing answer), or that mean something else there. CHECK",
                  "declare_missing:"]
        lines += declarations
    lines += ["", "rename:             # agency name: analysis name"]
    for col, name in rename.items():
        lines += _describe(col, variables[col], per_var_missing[col])
        if col in notes:
            lines.append(f"  #   {notes[col]}")
        lines.append(f"  {_q(col)}: {_q(name)}")
    lines += ["", f"numeric: [{', '.join(_q(n) for n in numeric)}]    # counts and amounts, not codes",
              "", "# Exclusions, applied in order (see config/plans/main.yaml for the rules)."]
    if df[id_name].duplicated().any():
        order = "start" if stamps else "file"
        lines += ["exclusions:", f"  - {{step: duplicate, rule: duplicate, order_by: {order}}}    "
                  "# CHECK: the id repeats; the first interview is kept"]
    else:
        lines.append("exclusions: []")
    lines.append("")
    return "\n".join(lines)


def _declarations(per_var: dict[str, dict[float, str]], study: dict[float, str],
                  undeclared: dict[float, dict[str, str]]) -> list[str]:
    """'declare_missing' entries: for each variable, the codes the study-wide 'missing' does not
    cover (not declared in the file, or meaning something else there); variables that need the
    same codes share one entry."""
    groups: dict[tuple[tuple[float, str], ...], list[str]] = {}
    for col, codes in per_var.items():
        special = {c: k for c, k in codes.items() if study.get(c) != k or col in undeclared.get(c, {})}
        if special:
            groups.setdefault(tuple(sorted(special.items())), []).append(col)
    out = []
    for pairs, cols in groups.items():
        body = ", ".join(f"{_code(str(c))}: {k}" for c, k in pairs)
        out.append(f"  - codes: {{{body}}}")
        names = [_q(c) for c in cols]
        rows = [", ".join(names[i:i + 8]) for i in range(0, len(names), 8)]
        out.append("    variables: [" + ",\n                 ".join(rows) + "]")
    return out


def check(plan_path: Path, delivery: str | Path) -> None:
    """Run ingest and clean on the delivery with the written plan, in memory (a bug if it fails)."""
    plan = load_plan(plan_path)
    df, meta = read_raw(delivery, plan)
    df = apply_privacy(df, meta, plan, "starter-check", 1000)
    clean(df, meta, plan, weighted="design_weight" in plan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parentlink.starter", description=__doc__.split("\n")[0])
    parser.add_argument("delivery", help="the delivered .sav, .zsav, .por or .dta file")
    parser.add_argument("--out", required=True, help="where to write the starter plan (YAML)")
    parser.add_argument("--survey", help="survey id (default: from the file name)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        if out.exists():
            raise UserError(f"{out} exists: choose another --out; the starter never overwrites a plan.")
        text = starter_plan(args.delivery, args.survey)
        out.write_text(text, "utf-8")
        try:
            check(out, args.delivery)
        except UserError:
            out.unlink()
            raise
    except UserError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    print(f"Wrote {out}: review every line marked CHECK before using it.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
