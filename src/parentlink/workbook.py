"""The estimates as an Excel workbook for people: ``results/tables/{survey}_tables.xlsx``.

Laid out to the UK Government Analysis Function guidance "Releasing statistics in spreadsheets"
(as its packages gptables and aftables lay it out):

* **Cover** (not a table): title, what the data are, source, the SYNTHETIC statement, the build
  date, the next update, the contact, and the shorthand used ([c], [x], [note N]).
* **Contents**: a table listing every other sheet (linked) with a description.
* **Notes**: a table of ``[note N]`` and its text; every table sheet says which notes it cites.
* **Table sheets**, one Excel table each (openpyxl ``Table``: one header row, no merged cells, no
  blank rows or columns inside), the title in A1 and the number of tables and the notes stated
  above the table: one sheet per survey question (rows: the groups of each breakdown, all
  respondents first; per answer category the percentage and its lower and upper 95% limits as
  three numeric columns), then the figures the briefings quote (``results/report/facts.json``),
  each model (``results/models/*_glm.csv``), the Rao-Scott tests and, for a weighted survey, the
  weighting diagnostics.

Sheet names are readable labels ("T3 Identify families who might"), at most 31 characters and
unique, never a variable code. Numbers are stored as numbers; a withheld value is the text
``[c]`` (not available: ``[x]``).

Disclosure: a row with ``suppressed`` true is written as ``[c]`` and its estimate, SE and interval
are never read, even if the input (wrongly) carries them; a withheld test likewise. Bases are
shown for every group, as the disclosure rules allow (``parentlink.disclosure``). No cell is a
formula: text that a spreadsheet would take for one stays text (:func:`text_cells_stay_text`).

Byte-stable: openpyxl stamps the wall-clock time into ``docProps/core.xml`` (created/modified) and
into every zip entry. Both are replaced by SOURCE_DATE_EPOCH (fallback
``parentlink.FALLBACK_SOURCE_DATE_EPOCH``), and the zip is rewritten in the order openpyxl wrote it
with one fixed date, mode and compression.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import re
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from parentlink import csvio, source_date_epoch
from parentlink.errors import fail

REQUIRED_COLUMNS = [
    "survey", "variable", "variable_label", "category_code", "category", "group_variable",
    "group_code", "group", "base_unweighted", "estimate", "ci_lower", "ci_upper", "suppressed",
]
TEST_COLUMNS = ["variable", "group_variable", "chisq", "f", "ndf", "ddf", "p_value", "n", "withheld"]
MEAN_COLUMNS = ["variable", "label", "group_variable", "group", "base_unweighted", "mean", "se",
                "ci_lower", "ci_upper", "total", "total_se", "suppressed"]
MODEL_COLUMNS = ["term", "estimate", "se", "t", "p_value", "odds_ratio", "or_lower", "or_upper",
                 "label"]
SUPPRESSED = "[c]"
NOT_AVAILABLE = "[x]"
COVER_SHEET, CONTENTS_SHEET, NOTES_SHEET = "Cover", "Contents", "Notes"
META_SHEETS = (COVER_SHEET, CONTENTS_SHEET, NOTES_SHEET)
ALL_GROUP_VARIABLE = "all"
MAX_SHEET_NAME = 31
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_RESERVED_SHEET_NAMES = {"history"}  # Excel reserves "History" (any case)
_ZIP_MIN_EPOCH = 315532800  # 1980-01-01, the earliest date a zip entry can hold
_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")
_TABLE_STYLE = TableStyleInfo(name="TableStyleLight1", showRowStripes=False)

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
HEADING = Font(bold=True, size=12)
WARNING = Font(bold=True, color="C00000")
LINK = Font(color="0563C1", underline="single")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
PCT, COUNT, DECIMAL, PROB = "0.0", "#,##0", "0.000", "0.0000"


@dataclass(frozen=True)
class Context:
    """Everything the workbook says about the survey besides the estimates."""

    survey: str
    survey_label: str
    weighted: bool
    study: Mapping[str, Any]
    min_base: int = 50
    min_cell: int = 10
    suppress_zeros: bool = False
    margins: Sequence[str] = ()
    estimates_name: str = ""
    population: str = "respondents"  # report.population: "parents", "schools"
    contact: str = ""  # study.contact
    next_update: str = ""  # study.next_update
    language: str = "en-GB"  # study.language


@dataclass(frozen=True)
class Extras:
    """The other results the workbook tabulates (each optional): the Rao-Scott tests, the models
    by name, the weighting diagnostics and the briefings' facts with each finding's survey."""

    tests: str | Path | None = None
    models: Mapping[str, str | Path] = field(default_factory=dict)
    diagnostics: str | Path | None = None
    facts: str | Path | None = None
    means: str | Path | None = None
    finding_surveys: Mapping[str, str] = field(default_factory=dict)


@dataclass
class TableSheet:
    """One table sheet before it is written: notes are cited by key, numbered when written."""

    name: str
    title: str
    description: str
    header: list[str]
    rows: list[list[Any]]
    notes: list[str]
    lines: list[str] = field(default_factory=list)
    formats: Mapping[int, str] = field(default_factory=dict)  # column index (0-based) -> format
    widths: Mapping[int, int] = field(default_factory=dict)
    bold_first_row: bool = False


# --------------------------------------------------------------------------- inputs


def read_estimates(path: str | Path) -> pd.DataFrame:
    """The estimates CSV (docs/data-contract.md), with `suppressed` as a real boolean."""
    table = csvio.read_csv(path, dtype={"category": str, "group": str, "variable_label": str})
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        fail(f"{path}: the estimates table lacks column(s) {', '.join(missing)}; "
             "re-run the estimate stage.")
    table["suppressed"] = _as_bool(table["suppressed"], path)
    return table


def _as_bool(col: pd.Series, path: str | Path) -> pd.Series:
    if col.dtype == bool:
        return col
    text = col.astype(str).str.strip().str.lower()
    known = text.isin(["true", "false", "1", "0"])
    if not known.all():
        fail(f"{path}: column suppressed has values other than True/False "
             f"(e.g. {col[~known].iloc[0]!r}).")
    return text.isin(["true", "1"])


def read_meta(path: str | Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return meta


def _read_table(path: str | Path, columns: Sequence[str], stage: str) -> pd.DataFrame:
    table = csvio.read_csv(path, keep_default_na=False, na_values=[""])
    missing = [c for c in columns if c not in table.columns]
    if missing:
        fail(f"{path}: lacks column(s) {', '.join(missing)}; re-run the {stage} stage.")
    return table


def finding_surveys(findings: Mapping[str, Mapping[str, Any]],
                    models: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Each finding's survey (config report.findings): its own `survey`, else that of the
    finding it builds on (`finding`), else that of its model; findings of no survey are left out."""
    out: dict[str, str] = {}

    def resolve(name: str, seen: tuple[str, ...] = ()) -> str | None:
        f = findings.get(name, {})
        if f.get("survey"):
            return str(f["survey"])
        if f.get("finding") and f["finding"] not in seen:
            return resolve(str(f["finding"]), (*seen, name))
        if f.get("model") and f["model"] in models:
            return str(models[f["model"]].get("survey") or "") or None
        return None

    for name in findings:
        if (s := resolve(name)) is not None:
            out[name] = s
    return out


# --------------------------------------------------------------------------- sheet names


def safe_sheet_names(names: Iterable[str], taken: Iterable[str] = META_SHEETS) -> dict[str, str]:
    """Map each name to a valid, unique Excel sheet name: no []:*?/\\, at most 31 characters,
    not blank, not starting or ending with an apostrophe, not "History", unique ignoring case
    (also against `taken`). Clashes get " (2)", " (3)", ... within the 31 characters."""
    used = {t.casefold() for t in taken}
    out: dict[str, str] = {}
    for name in names:
        if name in out:
            continue
        base = _BAD_SHEET_CHARS.sub("_", str(name)).strip().strip("'").strip() or "Sheet"
        base = base[:MAX_SHEET_NAME].rstrip("'").rstrip()
        if base.casefold() in _RESERVED_SHEET_NAMES:
            base = f"{base}_"
        candidate, n = base, 1
        while candidate.casefold() in used:
            n += 1
            suffix = f" ({n})"
            candidate = base[: MAX_SHEET_NAME - len(suffix)].rstrip("'").rstrip() + suffix
        used.add(candidate.casefold())
        out[name] = candidate
    return out


def readable_name(prefix: str, label: str) -> str:
    """A sheet name from a label: `prefix`, then as many whole words of the label's most telling
    part (after its last ': ', without "(collapsed)") as fit in 31 characters."""
    text = re.sub(r"\s*\((collapsed|net)\)\s*$", "", str(label)).strip()
    text = text.rsplit(": ", 1)[-1].strip() or text
    text = _BAD_SHEET_CHARS.sub(" ", text).replace("'", "")
    text = text[:1].upper() + text[1:]
    out = prefix
    for word in text.split():
        if len(out) + 1 + len(word) > MAX_SHEET_NAME:
            if len(out) < MAX_SHEET_NAME - 8:  # a long word: cut it rather than leave space
                out = f"{out} {word}"[:MAX_SHEET_NAME]
            break
        out = f"{out} {word}"
    return out


# --------------------------------------------------------------------------- formatting


def pct_value(p: float) -> float:
    """A proportion as a percentage rounded to 1 dp (stored as a number, shown as 0.0)."""
    return float(f"{100 * p:.1f}")


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or bool(pd.isna(x))


def _cells(row: Mapping[str, Any] | None) -> list[Any]:
    """[%, lower, upper] for one estimate row, as numbers. Suppressed rows never reach their
    values."""
    if row is None:
        return [NOT_AVAILABLE] * 3
    if bool(row["suppressed"]):
        return [SUPPRESSED] * 3
    est, lo, hi = row["estimate"], row["ci_lower"], row["ci_upper"]
    if _missing(est):
        return [NOT_AVAILABLE] * 3
    limits = [NOT_AVAILABLE if _missing(x) else pct_value(float(x)) for x in (lo, hi)]
    return [pct_value(float(est)), *limits]


def _number(x: Any, digits: int | None = None) -> Any:
    if _missing(x):
        return NOT_AVAILABLE
    value = float(x)
    return value if digits is None else round(value, digits)


def _unique(headers: Sequence[str]) -> list[str]:
    """Excel table column names must be unique (ignoring case) and not blank."""
    seen: set[str] = set()
    out = []
    for h in headers:
        base = str(h).strip() or "Column"
        name, n = base, 1
        while name.casefold() in seen:
            n += 1
            name = f"{base} ({n})"
        seen.add(name.casefold())
        out.append(name)
    return out


# --------------------------------------------------------------------------- notes


def _notes(meta: Mapping[str, Any], ctx: Context) -> dict[str, str]:
    """Every note the sheets may cite, by key, in the order they are numbered."""
    variables: Mapping[str, Any] = meta.get("variables", {})
    notes: dict[str, str] = {}
    if ctx.study.get("synthetic"):
        notes["synthetic"] = ("SYNTHETIC DATA: every figure in this workbook comes from synthetic "
                              "(simulated) data generated for testing the analysis pipeline. They "
                              "are not real survey results and must not be quoted as findings.")
    if ctx.weighted:
        margins = ", ".join(str(variables.get(m, {}).get("label") or m) for m in ctx.margins)
        notes["weighting"] = ("Percentages are weighted: the design weights were raked "
                              "(iterative proportional fitting) to population totals"
                              + (f" of {margins}" if margins else "")
                              + ", and the standard errors treat the weights as calibrated to "
                              "those totals (linearisation). Bases are unweighted.")
    else:
        notes["weighting"] = ("Unweighted convenience sample (a voluntary online survey): "
                              "percentages describe the people who took part and cannot be "
                              f"generalised to all {ctx.population}. Confidence intervals assume "
                              "simple random sampling and understate the real uncertainty.")
    notes["bases"] = ("The unweighted base is the number of respondents in the group who gave a "
                      "valid answer to the question. Answers outside the base (for example "
                      "'prefer not to say' or 'not asked') are left out of both the base and the "
                      "percentages; the codebook lists them for each question.")
    notes["ci"] = ("Lower and upper limits of 95% confidence intervals on the logit scale (as R "
                   "survey's svyciprop, method = \"logit\"): expit(logit(p) \u00b1 t \u00d7 SE / "
                   "(p(1 \u2212 p))), with t from the t distribution on (unweighted base \u2212 1) "
                   "degrees of freedom and SE the linearised (Taylor series) standard error. A "
                   "percentage of 0 or 100 has both limits equal to it.")
    notes["rounding"] = ("Percentages and their limits are rounded to one decimal place, so a "
                         "row may not add to exactly 100.")
    notes["suppression"] = _suppression_text(ctx)
    notes["not_available"] = (f"{NOT_AVAILABLE} = not available: no estimate could be computed "
                              "for this cell.")
    sources = [f"Survey data: {meta.get('source_file') or ctx.survey} ({ctx.survey_label})."]
    if ctx.estimates_name:
        sources.append(f"Figures: {ctx.estimates_name} (the same estimates unrounded, with "
                       "standard errors and design effects; suppressed values are empty there too).")
    sources.append("Question wording and answer codes: the codebook, "
                   f"results/codebook/{ctx.survey}.html.")
    if ctx.study.get("funder"):
        sources.append(f"Funding: {ctx.study['funder']}.")
    notes["sources"] = " ".join(sources)
    notes["figures"] = ("The figures the briefings quote, each as the briefing's finding computed "
                        "it from the same estimates (percentages and 95% limits rounded here to "
                        "one decimal place). 'Where' names the part of the finding the figure "
                        "comes from; a group is all respondents unless named.")
    notes["model"] = ("Survey-weighted logistic regression (R survey's svyglm, family = "
                      "quasibinomial) with linearised standard errors. Coefficients are log odds "
                      "relative to each predictor's reference group (the intercept's group); odds "
                      "ratios are exp(coefficient), with 95% limits from the t distribution on the "
                      "model's residual degrees of freedom.")
    notes["tests"] = ("Design-based tests of independence between each question and each "
                      "breakdown (R survey's svychisq, statistic = \"F\": the Rao-Scott "
                      "second-order correction). The F statistic is referred to the F distribution "
                      "on the numerator and denominator degrees of freedom shown. Respondents: "
                      "those valid on both. A test is withheld [c] when the table it tests has "
                      "hidden shares, since its statistic could help recover them.")
    notes["means"] = ("Means and totals of numeric answers (R survey's svymean and svytotal, by "
                      "group with svyby) with linearised standard errors; 95% limits from the t "
                      "distribution on the group's design degrees of freedom. Missing and "
                      "user-missing values are left out. A mean is not shown [c] where fewer than "
                      "the minimum base of respondents gave a value.")
    notes["diagnostics"] = ("Weighting diagnostics: each raking margin's population target, the "
                            "unweighted sample share and the weighted share achieved; and the "
                            "weights' spread, Kish's design effect due to weighting "
                            "(1 + CV\u00b2 of the weights), the effective sample size (n / design "
                            "effect) and the efficiency (effective n / n).")
    return notes


def _suppression_text(ctx: Context) -> str:
    zeros = ("Empty cells (0%) are suppressed too." if ctx.suppress_zeros else
             "Empty cells (0%) are shown: they identify nobody.")
    return (f"{SUPPRESSED} marks a value withheld to protect confidentiality or because it is too "
            f"uncertain. Percentages are not shown where the unweighted base is under "
            f"{ctx.min_base} (the whole row is {SUPPRESSED}). A cell with 1 to {ctx.min_cell - 1} "
            f"respondents is suppressed, and further cells are then suppressed so that a hidden "
            f"value cannot be worked out from the published figures: every build solves, for "
            f"each hidden small cell, the range a reader could derive by combining all "
            f"percentages and weighted bases of the item (all {ctx.population} and every breakdown), and "
            f"fails unless that range spans at least {ctx.min_cell - 1} respondents (or as much as "
            f"the whole-sample figure allows). Combinations with other publications, and with the "
            f"unweighted bases, are not covered. {zeros} Unweighted bases are always shown.")


# --------------------------------------------------------------------------- table sheets


def _group_label(group_variable: str, variables: Mapping[str, Any], population: str) -> str:
    if group_variable == ALL_GROUP_VARIABLE:
        return f"All {population}"
    return str(variables.get(group_variable, {}).get("label") or group_variable)


def _item_source(item: str, variables: Mapping[str, Any]) -> str:
    info = variables.get(item, {})
    if info.get("source"):
        return f"question {info['source']}"
    derived = info.get("derived_from") or []
    if derived:
        parts = []
        for name in derived:
            src = variables.get(name, {}).get("source")
            parts.append(f"{name} (question {src})" if src else str(name))
        return "derived from " + ", ".join(parts)
    return "derived variable"


def _item_sheet(n: int, item: str, rows: pd.DataFrame, variables: Mapping[str, Any],
                ctx: Context) -> TableSheet:
    label = str(rows["variable_label"].iloc[0])
    categories = list(dict.fromkeys(zip(rows["category_code"].tolist(),
                                        rows["category"].astype(str).tolist(), strict=True)))
    pct = "% (weighted)" if ctx.weighted else "%"
    header = ["Breakdown", "Group", "Unweighted base"]
    for _, cat in categories:
        header += [f"{cat}: {pct}", f"{cat}: lower 95% limit", f"{cat}: upper 95% limit"]

    # Category codes as numbers, exactly (1.5 "Middle" is not 1 "Low").
    lookup: dict[tuple[str, int, float], dict[str, Any]] = {}
    groups: dict[tuple[str, int], tuple[str, Any]] = {}
    for rec in rows.to_dict("records"):
        gkey = (str(rec["group_variable"]), int(rec["group_code"]))
        groups.setdefault(gkey, (str(rec["group"]), rec["base_unweighted"]))
        lookup[(gkey[0], gkey[1], float(rec["category_code"]))] = rec
    ordered = sorted(groups, key=lambda g: g[0] != ALL_GROUP_VARIABLE)  # stable: "all" first
    body: list[list[Any]] = []
    for gvar, gcode in ordered:
        group, base = groups[(gvar, gcode)]
        values: list[Any] = [_group_label(gvar, variables, ctx.population), group,
                             NOT_AVAILABLE if _missing(base) else int(base)]
        for code, _ in categories:
            values += _cells(lookup.get((gvar, gcode, float(code))))
        body.append(values)
    notes = ["synthetic", "weighting", "bases", "ci", "rounding", "suppression"]
    if any(v == NOT_AVAILABLE for r in body for v in r):
        notes.append("not_available")
    notes.append("sources")
    formats = {2: COUNT, **{c: PCT for c in range(3, len(header))}}
    return TableSheet(
        name=readable_name(f"T{n}", label), title=label,
        description=f"{label} (variable {item}: {_item_source(item, variables)}), by group",
        header=header, rows=body, notes=notes,
        lines=[f"Variable {item}: {_item_source(item, variables)}. {ctx.survey_label}."],
        formats=formats, widths={0: _width([r[0] for r in body], 14, 40),
                                 1: _width([r[1] for r in body], 12, 40)},
        bold_first_row=bool(ordered) and ordered[0][0] == ALL_GROUP_VARIABLE)


def _width(texts: Sequence[Any], low: int, high: int) -> int:
    return max(low, min(high, max((len(str(t)) for t in texts), default=0) + 2))


def _figure_rows(node: Any, where: list[str], label: str, population: str,
                 out: list[list[Any]]) -> None:
    """Every percentage in a finding (a dict with `base` and `pct`, or withheld), depth first."""
    if isinstance(node, list):
        for i, v in enumerate(node):
            _figure_rows(v, [*where, str(i + 1)], label, population, out)
        return
    if not isinstance(node, dict):
        return
    label = str(node.get("label") or label)
    if "base" in node and ("pct" in node or node.get("suppressed") is True):
        group = str(node.get("group") or f"All {population}")
        if node.get("suppressed") is True:
            values: list[Any] = [SUPPRESSED] * 3
        else:
            values = [_number(node.get(k), 1) for k in ("pct", "ci_lower", "ci_upper")]
        base = node["base"]
        out.append([" / ".join(where), label, group, *values,
                    NOT_AVAILABLE if _missing(base) else int(base)])
    for key in sorted(node):
        if isinstance(node[key], dict | list):
            _figure_rows(node[key], [*where, str(key)], label, population, out)


def _figures_sheet(facts: Mapping[str, Any], surveys: Mapping[str, str],
                   ctx: Context) -> TableSheet | None:
    found: list[list[Any]] = []
    for name, finding in (facts.get("findings") or {}).items():
        if surveys.get(name) == ctx.survey:
            _figure_rows(finding, [name], "", ctx.population, found)
    # A figure a finding repeats (its list and its lookup by item; a comparison quoting another
    # finding) is listed once, where it first appears.
    seen: set[tuple[Any, ...]] = set()
    rows: list[list[Any]] = []
    for row in found:
        if tuple(row[1:]) not in seen:
            seen.add(tuple(row[1:]))
            rows.append(row)
    if not rows:
        return None
    pct = "% (weighted)" if ctx.weighted else "%"
    return TableSheet(
        name="Briefing figures", title="Figures quoted in the briefings",
        description="Every percentage the briefings quote from this survey, with its 95% limits "
                    "and base", header=["Where", "Question", "Group", pct, "Lower 95% limit",
                                        "Upper 95% limit", "Unweighted base"],
        rows=rows, notes=["synthetic", "figures", "weighting", "ci", "suppression"],
        formats={3: PCT, 4: PCT, 5: PCT, 6: COUNT}, widths={0: 28, 1: 60, 2: 30})


def _model_sheet(name: str, table: pd.DataFrame, ctx: Context) -> TableSheet:
    rows = [[str(r["label"] or r["term"]), str(r["term"]), _number(r["estimate"]), _number(r["se"]),
             _number(r["t"]), _number(r["p_value"]), _number(r["odds_ratio"]),
             _number(r["or_lower"]), _number(r["or_upper"])] for r in table.to_dict("records")]
    title = f"Model {name.replace('_', ' ')}: survey-weighted logistic regression"
    return TableSheet(
        name=readable_name("Model", name.replace("_", " ")), title=title,
        description=f"{title}: coefficients, standard errors, tests and odds ratios",
        header=["Term", "Term code", "Coefficient (log odds)", "Standard error", "t", "p-value",
                "Odds ratio", "Odds ratio lower 95% limit", "Odds ratio upper 95% limit"],
        rows=rows, notes=["synthetic", "model", "weighting"],
        formats={2: DECIMAL, 3: DECIMAL, 4: "0.00", 5: PROB, 6: DECIMAL, 7: DECIMAL, 8: DECIMAL},
        widths={0: 50, 1: 18})


def _tests_sheet(table: pd.DataFrame, variables: Mapping[str, Any], ctx: Context) -> TableSheet:
    rows: list[list[Any]] = []
    for r in table.to_dict("records"):
        withheld = "" if _missing(r["withheld"]) else str(r["withheld"]).strip()
        stats = [SUPPRESSED] * 5 if withheld else [
            _number(r[k]) for k in ("chisq", "f", "ndf", "ddf", "p_value")]
        item, group = str(r["variable"]), str(r["group_variable"])
        rows.append([str(variables.get(item, {}).get("label") or item), item,
                     _group_label(group, variables, ctx.population), *stats,
                     NOT_AVAILABLE if _missing(r["n"]) else int(r["n"]),
                     f"Withheld: {withheld}" if withheld else "Shown"])
    return TableSheet(
        name="Tests", title="Tests of independence between each question and each breakdown",
        description="Rao-Scott F tests of each question by each breakdown",
        header=["Question", "Variable", "Breakdown", "Chi-square (Pearson)", "F (Rao-Scott)",
                "Numerator df", "Denominator df", "p-value", "Respondents", "Status"],
        rows=rows, notes=["synthetic", "tests", "weighting", "suppression"],
        formats={3: "0.00", 4: DECIMAL, 5: "0.00", 6: "0.0", 7: PROB, 8: COUNT},
        widths={0: 50, 1: 18, 2: 30, 9: 24})


def _means_sheet(table: pd.DataFrame, variables: Mapping[str, Any], ctx: Context) -> TableSheet:
    rows: list[list[Any]] = []
    for r in table.to_dict("records"):
        hidden = str(r["suppressed"]).strip().lower() in ("true", "1")
        values = ([SUPPRESSED] * 6 if hidden else
                  [_number(r[k]) for k in ("mean", "se", "ci_lower", "ci_upper", "total",
                                           "total_se")])
        group = str(r["group_variable"])
        rows.append([str(r["label"] or r["variable"]), str(r["variable"]),
                     _group_label(group, variables, ctx.population), str(r["group"]),
                     int(r["base_unweighted"]), *values])
    return TableSheet(
        name="Means", title="Means and totals of numeric answers, by group",
        description="Means and totals of numeric answers with 95% confidence limits, by group",
        header=["Question", "Variable", "Breakdown", "Group", "Respondents", "Mean",
                "Standard error", "Mean lower 95% limit", "Mean upper 95% limit", "Total",
                "Total standard error"],
        rows=rows, notes=["synthetic", "means", "weighting", "suppression"],
        formats={4: COUNT, 5: DECIMAL, 6: DECIMAL, 7: DECIMAL, 8: DECIMAL, 9: "#,##0", 10: "#,##0"},
        widths={0: 40, 1: 16, 2: 28, 3: 28})


def _weighting_sheets(diag: Mapping[str, Any], variables: Mapping[str, Any]) -> list[TableSheet]:
    sources = diag.get("sources") or {}
    margins = [[str(variables.get(m["variable"], {}).get("label") or m["variable"]),
                str(m.get("label") or m.get("category")),
                _number(m.get("target"), None), _number(m.get("unweighted")),
                _number(m.get("weighted")),
                str((sources.get(m["variable"]) or {}).get("file") or "not recorded")]
               for m in diag.get("margins") or []]
    for row in margins:
        row[2:5] = [v if isinstance(v, str) else round(100 * v, 1) for v in row[2:5]]
    summary: list[list[Any]] = []
    for key, label, digits in [
        ("n", "Respondents", 0), ("sum_weights", "Sum of final weights", 2),
        ("weight_min", "Smallest weight", 4), ("weight_max", "Largest weight", 4),
        ("weight_ratio", "Largest / smallest weight", 2),
        ("design_effect", "Design effect due to weighting (Kish)", 3),
        ("effective_n", "Effective sample size", 1), ("efficiency", "Efficiency", 3),
        ("iterations", "Raking iterations", 0), ("trim_rounds", "Trimming rounds", 0),
        ("trimmed", "Weights trimmed", 0),
        ("max_margin_error", "Largest margin error (share)", None),
    ]:
        if key in diag:
            summary.append([label, _number(diag[key], digits)])
    for key, label in [("method", "Method"), ("converged", "Converged")]:
        if key in diag:
            value = diag[key]
            summary.append([label, ("Yes" if value else "No") if isinstance(value, bool)
                            else str(value)])
    out = []
    if margins:
        out.append(TableSheet(
            name="Weighting margins", title="Weighting: raking margins, target and achieved",
            description="Each raking margin: population target, unweighted and weighted shares",
            header=["Variable", "Category", "Target %", "Unweighted sample %", "Weighted %",
                    "Target source"], rows=margins, notes=["synthetic", "diagnostics", "weighting"],
            formats={2: PCT, 3: PCT, 4: PCT}, widths={0: 36, 1: 30, 5: 34}))
    if summary:
        out.append(TableSheet(
            name="Weighting summary", title="Weighting: the final weights summarised",
            description="Spread of the final weights, design effect and effective sample size",
            header=["Measure", "Value"], rows=summary, notes=["synthetic", "diagnostics"],
            widths={0: 40, 1: 16}))
    return out


# --------------------------------------------------------------------------- building


def table_sheets(estimates: pd.DataFrame, meta: Mapping[str, Any], ctx: Context,
                 extras: Extras = Extras()) -> list[TableSheet]:
    """Every table sheet, in workbook order: the questions, then the briefings' figures, the
    models, the tests and the weighting diagnostics (those whose input is given)."""
    table = estimates[estimates["survey"].astype(str) == ctx.survey] if "survey" in estimates else estimates
    if table.empty:
        fail(f"The estimates table has no rows for survey {ctx.survey!r}; nothing to put in the workbook.")
    variables: Mapping[str, Any] = meta.get("variables", {})
    items = list(dict.fromkeys(table["variable"].astype(str)))
    sheets = [_item_sheet(n, item, table[table["variable"].astype(str) == item], variables, ctx)
              for n, item in enumerate(items, start=1)]
    if extras.facts is not None:
        facts = json.loads(Path(extras.facts).read_text(encoding="utf-8"))
        if (figures := _figures_sheet(facts, extras.finding_surveys, ctx)) is not None:
            sheets.append(_sourced(figures, extras.facts))
    for name, path in sorted(extras.models.items()):
        model = _read_table(path, MODEL_COLUMNS, "model")
        if not model.empty:
            sheets.append(_sourced(_model_sheet(name, model, ctx), path))
    for source, columns, sheet in ((extras.tests, TEST_COLUMNS, _tests_sheet),
                                   (extras.means, MEAN_COLUMNS, _means_sheet)):
        if source is None:
            continue
        rows = _read_table(source, columns, "estimate")
        if "survey" in rows:
            rows = rows[rows["survey"].astype(str) == ctx.survey]
        if not rows.empty:
            sheets.append(_sourced(sheet(rows, variables, ctx), source))
    if extras.diagnostics is not None:
        sheets += [_sourced(w, extras.diagnostics) for w in _weighting_sheets(
            json.loads(Path(extras.diagnostics).read_text("utf-8")), variables)]
    names = safe_sheet_names([s.name for s in sheets])
    taken = set(variables) | set(items)
    for s in sheets:
        s.name = names[s.name] if names[s.name] not in taken else f"Sheet {s.name}"[:MAX_SHEET_NAME]
    return sheets


def _sourced(sheet: TableSheet, path: str | Path) -> TableSheet:
    """The source statement above a table: the results file it shows."""
    sheet.lines.append(f"Source: {Path(path).as_posix()}.")
    return sheet


def build_workbook(estimates: pd.DataFrame, meta: Mapping[str, Any], ctx: Context,
                   extras: Extras = Extras()) -> Workbook:
    """The workbook (not yet saved): Cover, Contents, Notes, then one sheet per table."""
    sheets = table_sheets(estimates, meta, ctx, extras)
    texts = _notes(meta, ctx)
    cited = {k for s in sheets for k in s.notes if k in texts}
    numbers = {k: n for n, k in enumerate((k for k in texts if k in cited), start=1)}

    wb = Workbook()
    cover = wb.active
    assert cover is not None
    cover.title = COVER_SHEET
    _cover_sheet(cover, meta, ctx)
    contents = wb.create_sheet(CONTENTS_SHEET)
    notes = wb.create_sheet(NOTES_SHEET)
    for i, sheet in enumerate(sheets, start=1):
        _write_table_sheet(wb.create_sheet(sheet.name), sheet, numbers, ctx, f"table_{i}")
    _write_table_sheet(contents, TableSheet(
        name=CONTENTS_SHEET, title="Contents", description="",
        header=["Sheet name", "Description"],
        rows=[[NOTES_SHEET, "Notes that the tables cite as [note N]"],
              *[[s.name, s.description] for s in sheets]],
        notes=[], widths={0: 32, 1: 100}), {}, ctx, "contents", links=True)
    _write_table_sheet(notes, TableSheet(
        name=NOTES_SHEET, title="Notes", description="", header=["Note number", "Note text"],
        rows=[[f"[note {n}]", texts[k]] for k, n in numbers.items()], notes=[],
        widths={0: 14, 1: 110}), {}, ctx, "notes")

    props = wb.properties
    props.creator = "parentlink"
    props.lastModifiedBy = "parentlink"
    props.title = f"{ctx.study.get('short_title') or ctx.study.get('title', '')}: tables ({ctx.survey})"
    props.subject = ctx.survey_label
    props.language = ctx.language
    props.keywords = "statistics, survey" + (", SYNTHETIC DATA" if ctx.study.get("synthetic") else "")
    props.created = props.modified = build_datetime()
    return wb


def _about(meta: Mapping[str, Any], ctx: Context) -> str:
    n = meta.get("n")
    who = f" from {n:,} respondents after cleaning" if isinstance(n, int) else ""
    kind = "Weighted" if ctx.weighted else "Unweighted"
    return (f"{kind} percentages of {ctx.population} giving each answer to each question of the "
            f"survey{who}, for all {ctx.population} and by group, with 95% confidence intervals "
            "and unweighted bases; then the figures the briefings quote, the models, the tests "
            "of each question by each breakdown and, for a weighted survey, the weighting.")


def _long_date(when: dt.datetime) -> str:
    return f"{when.day} {when:%B %Y}"


def _cover_sheet(ws: Worksheet, meta: Mapping[str, Any], ctx: Context) -> None:
    """Cover (not a table, as in gptables/aftables): headings in bold, each followed by its text."""
    study = ctx.study
    title = str(study.get("title") or study.get("short_title") or "Survey tables")
    lines: list[tuple[str, Font | None]] = [(f"{title}: tables", TITLE), (ctx.survey_label, None)]
    if study.get("synthetic"):
        lines.append(("SYNTHETIC DATA: every figure in this workbook comes from simulated data made "
                      "to test the analysis pipeline. They are not real survey results and must "
                      "not be quoted as findings.", WARNING))
    sections = [
        ("About these tables", _about(meta, ctx)),
        ("Source", f"{meta.get('source_file') or ctx.survey} ({ctx.survey_label})."
         + (f" Funding: {study['funder']}." if study.get("funder") else "")),
        ("Date", _long_date(build_datetime())),
        ("Next update", str(ctx.next_update or "Not announced.")),
        ("Contact", str(ctx.contact or "No contact is given for this release.")),
        ("Shorthand", f"{SUPPRESSED} = withheld to protect confidentiality or because it is too "
                      f"uncertain; {NOT_AVAILABLE} = not available; [note N] = see the Notes sheet."),
        ("Contents", "The Contents sheet lists every sheet; each table sheet holds one table."),
    ]
    for heading, text in sections:
        lines += [(heading, HEADING), (text, None)]
    for r, (text, font) in enumerate(lines, start=1):
        cell = ws.cell(row=r, column=1, value=text)
        cell.alignment = WRAP_TOP
        if font is not None:
            cell.font = font
        if len(text) > 100:
            ws.row_dimensions[r].height = 15 * math.ceil(len(text) / 100)
    ws.column_dimensions["A"].width = 110


def _write_table_sheet(ws: Worksheet, sheet: TableSheet, numbers: Mapping[str, int], ctx: Context,
                       table_name: str, links: bool = False) -> None:
    """Title in A1, the table count and the notes above, then the sheet's one Excel table."""
    cited = [f"[note {n}]" for n in sorted({numbers[k] for k in sheet.notes if k in numbers})]
    lines: list[tuple[str, Font | None]] = [(sheet.title, TITLE),
                                            ("This worksheet contains one table.", None)]
    if cited:
        lines.append((f"This table has notes: {', '.join(cited)} (see the Notes sheet).", None))
    if ctx.study.get("synthetic") and sheet.name not in META_SHEETS:
        lines.append(("SYNTHETIC DATA: these figures are not real survey results.", WARNING))
    if any(v == SUPPRESSED for r in sheet.rows for v in r):
        lines.append((f"Some cells are {SUPPRESSED}: withheld to protect confidentiality or because "
                      "they are too uncertain.", None))
    lines += [(text, None) for text in sheet.lines]
    for r, (text, font) in enumerate(lines, start=1):
        cell = ws.cell(row=r, column=1, value=text)
        if font is not None:
            cell.font = font
    top = len(lines) + 1
    header = _unique(sheet.header)
    for c, text in enumerate(header, start=1):
        cell = ws.cell(row=top, column=c, value=text)
        cell.font = BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="bottom")
    for i, values in enumerate(sheet.rows, start=1):
        for c, v in enumerate(values, start=1):
            cell = ws.cell(row=top + i, column=c, value=v)
            if isinstance(v, int | float) and not isinstance(v, bool) and c - 1 in sheet.formats:
                cell.number_format = sheet.formats[c - 1]
            elif isinstance(v, str) and c - 1 in sheet.formats:
                cell.alignment = Alignment(horizontal="right")
            if i == 1 and sheet.bold_first_row:
                cell.font = BOLD
        if links:
            link = ws.cell(row=top + i, column=1)
            target = str(values[0])
            link.hyperlink = Hyperlink(ref=link.coordinate,
                                       location=f"{quote_sheetname(target)}!A1", display=target)
            link.font = LINK
            ws.cell(row=top + i, column=2).alignment = WRAP_TOP
    last = top + max(len(sheet.rows), 1)
    if not sheet.rows:  # a table needs a body row; say why it is empty rather than leave it blank
        ws.cell(row=last, column=1, value="No rows")
    ref = f"A{top}:{get_column_letter(len(header))}{last}"
    table = Table(displayName=table_name, ref=ref)
    table.tableStyleInfo = _TABLE_STYLE
    ws.add_table(table)
    for c in range(1, len(header) + 1):
        ws.column_dimensions[get_column_letter(c)].width = sheet.widths.get(c - 1, 14)
    lines_needed = max(math.ceil(len(h) / max(sheet.widths.get(i, 14) - 2, 8))
                       for i, h in enumerate(header))
    ws.row_dimensions[top].height = 15 * max(1, min(lines_needed, 6))


# --------------------------------------------------------------------------- byte-stable save


def build_datetime(epoch: int | None = None) -> dt.datetime:
    """SOURCE_DATE_EPOCH as a naive UTC datetime (what openpyxl's core properties hold)."""
    value = source_date_epoch() if epoch is None else epoch
    return dt.datetime.fromtimestamp(value, tz=dt.UTC).replace(tzinfo=None)


def zip_date_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(max(epoch, _ZIP_MIN_EPOCH))
    return (min(t.tm_year, 2107), t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2)


def normalise_xlsx(data: bytes, epoch: int) -> bytes:
    """Rewrite an xlsx: core.xml created/modified = epoch; every entry in openpyxl's order with
    one fixed date, unix mode 0644, deflate level 6, no extra fields or comments."""
    stamp = build_datetime(epoch).strftime("%Y-%m-%dT%H:%M:%SZ").encode("ascii")
    date_time = zip_date_time(epoch)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for old in src.infolist():
            body = src.read(old.filename)
            if old.filename == "docProps/core.xml":
                body = _CORE_DATES.sub(lambda m: m.group(1) + stamp + m.group(3), body)
            info = zipfile.ZipInfo(old.filename, date_time=date_time)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
    return out.getvalue()


def text_cells_stay_text(wb: Workbook) -> int:
    """No cell is a formula: the workbook writes none, so a value that openpyxl took for one (a
    label starting with '=' from a delivery) is stored as the text it is. Returns how many."""
    n = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                    n += 1
    return n


def save_workbook(wb: Workbook, path: str | Path, epoch: int | None = None) -> None:
    """Save byte-stably (see the module docstring), atomically; every text cell stays text."""
    text_cells_stay_text(wb)
    value = source_date_epoch() if epoch is None else epoch
    wb.properties.created = build_datetime(value)
    buf = io.BytesIO()
    wb.save(buf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(normalise_xlsx(buf.getvalue(), value))
    os.replace(tmp, path)


def write_workbook(estimates_path: str | Path, meta_path: str | Path, out_path: str | Path,
                   ctx: Context, extras: Extras = Extras()) -> None:
    """Estimates CSV + clean meta JSON (+ tests, models, diagnostics, facts) -> the workbook."""
    wb = build_workbook(read_estimates(estimates_path), read_meta(meta_path), ctx, extras)
    save_workbook(wb, out_path)
