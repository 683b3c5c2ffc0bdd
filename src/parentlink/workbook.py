"""The estimates as an Excel workbook for people: ``results/tables/{survey}_tables.xlsx``.

One sheet per item (rows: the groups of each breakdown, "All <population>" first; columns: the
unweighted base, then "%" and "95% CI" per answer category), after a "Notes" sheet that explains
bases, weighting, the confidence intervals, suppression and sources, and lists the sheets.

Layout follows the UK Government Analysis Function guidance for accessible spreadsheets: no merged
cells, one header row per table, the breakdown repeated on every row (so the table can be sorted
and filtered), ``[c]`` for values withheld for confidentiality or quality.

Disclosure: a row with ``suppressed`` true is written as ``[c]`` and its estimate, SE and interval
are never read, even if the input (wrongly) carries them. Bases are shown for every group, as the
disclosure rules allow (``parentlink.disclosure``).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from parentlink import csvio
from parentlink.errors import fail
from parentlink.spss import source_date_epoch

REQUIRED_COLUMNS = [
    "survey", "variable", "variable_label", "category_code", "category", "group_variable",
    "group_code", "group", "base_unweighted", "estimate", "ci_lower", "ci_upper", "suppressed",
]
SUPPRESSED = "[c]"
NOT_AVAILABLE = "[x]"
NOTES_SHEET = "Notes"
ALL_GROUP_VARIABLE = "all"
MAX_SHEET_NAME = 31
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_RESERVED_SHEET_NAMES = {"history"}  # Excel reserves "History" (any case)
_ZIP_MIN_EPOCH = 315532800  # 1980-01-01, the earliest date a zip entry can hold
_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
WARNING = Font(bold=True, color="C00000")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")


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


# --------------------------------------------------------------------------- sheet names


def safe_sheet_names(names: Iterable[str], taken: Iterable[str] = (NOTES_SHEET,)) -> dict[str, str]:
    """Map each name to a valid, unique Excel sheet name: no []:*?/\\, at most 31 characters,
    not blank, not starting or ending with an apostrophe, not "History", unique ignoring case
    (also against `taken`). Clashes get " (2)", " (3)", ... within the 31 characters."""
    used = {t.casefold() for t in taken}
    out: dict[str, str] = {}
    for name in names:
        if name in out:
            continue
        base = _BAD_SHEET_CHARS.sub("_", str(name)).strip().strip("'").strip() or "Sheet"
        base = base[:MAX_SHEET_NAME].rstrip("'")
        if base.casefold() in _RESERVED_SHEET_NAMES:
            base = f"{base}_"
        candidate, n = base, 1
        while candidate.casefold() in used:
            n += 1
            suffix = f" ({n})"
            candidate = base[: MAX_SHEET_NAME - len(suffix)].rstrip("'") + suffix
        used.add(candidate.casefold())
        out[name] = candidate
    return out


# --------------------------------------------------------------------------- formatting


def pct_value(p: float) -> float:
    """A proportion as a percentage rounded to 1 dp (stored as a number, shown as 0.0)."""
    return float(f"{100 * p:.1f}")


def ci_text(lower: float, upper: float) -> str:
    return f"{100 * lower:.1f}\u2013{100 * upper:.1f}"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x)


def _cells(row: Mapping[str, Any] | None) -> tuple[Any, str]:
    """(% cell, CI cell) for one estimate row. Suppressed rows never reach their values."""
    if row is None:
        return NOT_AVAILABLE, NOT_AVAILABLE
    if bool(row["suppressed"]):
        return SUPPRESSED, SUPPRESSED
    est, lo, hi = row["estimate"], row["ci_lower"], row["ci_upper"]
    if _missing(est):
        return NOT_AVAILABLE, NOT_AVAILABLE
    ci = NOT_AVAILABLE if _missing(lo) or _missing(hi) else ci_text(float(lo), float(hi))
    return pct_value(float(est)), ci


# --------------------------------------------------------------------------- building


def build_workbook(estimates: pd.DataFrame, meta: Mapping[str, Any], ctx: Context) -> Workbook:
    """The workbook (not yet saved): Notes first, then one sheet per item in table order."""
    table = estimates[estimates["survey"].astype(str) == ctx.survey] if "survey" in estimates else estimates
    if table.empty:
        fail(f"The estimates table has no rows for survey {ctx.survey!r}; nothing to put in the workbook.")
    items = list(dict.fromkeys(table["variable"].astype(str)))
    names = safe_sheet_names(items)
    variables: Mapping[str, Any] = meta.get("variables", {})

    wb = Workbook()
    notes = wb.active
    assert notes is not None
    notes.title = NOTES_SHEET
    used_not_available = False
    contents: list[tuple[str, str]] = []
    for item in items:
        rows = table[table["variable"].astype(str) == item]
        label = str(rows["variable_label"].iloc[0])
        ws = wb.create_sheet(names[item])
        used_not_available |= _item_sheet(ws, item, label, rows, variables, ctx)
        contents.append((names[item], label))
    _notes_sheet(notes, meta, ctx, contents, used_not_available)

    props = wb.properties
    props.creator = "parentlink"
    props.lastModifiedBy = "parentlink"
    props.title = f"{ctx.study.get('short_title') or ctx.study.get('title', '')}: tables ({ctx.survey})"
    props.created = props.modified = build_datetime()
    return wb


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


def _header_block(ws: Worksheet, lines: list[tuple[str, Font | None]]) -> int:
    """Write the lines in column A from row 1; returns the next free row."""
    for r, (text, font) in enumerate(lines, start=1):
        cell = ws.cell(row=r, column=1, value=text)
        if font is not None:
            cell.font = font
    return len(lines) + 1


def _design_line(ctx: Context, design: str) -> str:
    if ctx.weighted:
        return (f"Weighted estimates, design: {design or 'calibrated weights'}. Bases are "
                "unweighted counts of respondents.")
    return ("Unweighted convenience sample: percentages describe the people who took part and "
            f"cannot be generalised to all {ctx.population}.")


def _item_sheet(ws: Worksheet, item: str, label: str, rows: pd.DataFrame,
                variables: Mapping[str, Any], ctx: Context) -> bool:
    """Fill one item's sheet; returns whether any cell is "[x]" (not available)."""
    design = str(rows["design"].iloc[0]) if "design" in rows and not _missing(rows["design"].iloc[0]) else ""
    lines: list[tuple[str, Font | None]] = [
        (label, TITLE),
        (f"Variable {item}: {_item_source(item, variables)}.", None),
        (ctx.survey_label, None),
        (_design_line(ctx, design), None),
    ]
    if ctx.study.get("synthetic"):
        lines.append(("SYNTHETIC DATA: these figures are not real survey results.", WARNING))
    lines.append((f"{SUPPRESSED} = suppressed (unweighted base under {ctx.min_base}, or a cell of "
                  f"fewer than {ctx.min_cell} respondents, or to protect such a cell); see Notes.", None))
    header_row = _header_block(ws, lines) + 1

    categories = list(dict.fromkeys(zip(rows["category_code"].tolist(),
                                        rows["category"].astype(str).tolist(), strict=True)))
    pct_head = "%" if not ctx.weighted else "% (weighted)"
    headers = ["Breakdown", "Group", "Unweighted base"]
    for _, cat in categories:
        headers += [f"{cat}: {pct_head}", f"{cat}: 95% CI"]
    for c, text in enumerate(headers, start=1):
        cell = ws.cell(row=header_row, column=c, value=text)
        cell.font = BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="bottom")

    # Category codes as numbers, exactly (1.5 "Middle" is not 1 "Low").
    lookup: dict[tuple[str, int, float], dict[str, Any]] = {}
    groups: dict[tuple[str, int], tuple[str, Any]] = {}
    for rec in rows.to_dict("records"):
        gkey = (str(rec["group_variable"]), int(rec["group_code"]))
        groups.setdefault(gkey, (str(rec["group"]), rec["base_unweighted"]))
        lookup[(gkey[0], gkey[1], float(rec["category_code"]))] = rec
    ordered = sorted(groups, key=lambda g: g[0] != ALL_GROUP_VARIABLE)  # stable: "all" first

    any_na = False
    r = header_row
    for gvar, gcode in ordered:
        r += 1
        group, base = groups[(gvar, gcode)]
        values: list[Any] = [_group_label(gvar, variables, ctx.population), group,
                             NOT_AVAILABLE if _missing(base) else int(base)]
        for code, _ in categories:
            values += list(_cells(lookup.get((gvar, gcode, float(code)))))
        for c, v in enumerate(values, start=1):
            cell = ws.cell(row=r, column=c, value=v)
            if c > 3 and isinstance(v, float):
                cell.number_format = "0.0"
            elif c == 3 and isinstance(v, int):
                cell.number_format = "#,##0"
            if isinstance(v, str) and c > 2:
                cell.alignment = Alignment(horizontal="right")
            any_na |= v == NOT_AVAILABLE
        if gvar == ALL_GROUP_VARIABLE:
            for c in range(1, len(values) + 1):
                ws.cell(row=r, column=c).font = BOLD

    ws.freeze_panes = ws.cell(row=header_row + 1, column=4)
    body = [[str(ws.cell(row=i, column=c).value or "") for i in range(header_row + 1, r + 1)]
            for c in (1, 2)]
    ws.column_dimensions["A"].width = _width(body[0], 12, 40)
    ws.column_dimensions["B"].width = _width(body[1], 12, 40)
    ws.column_dimensions["C"].width = 11
    for c in range(4, len(headers) + 1):
        ws.column_dimensions[get_column_letter(c)].width = 12 if (c - 4) % 2 == 0 else 13
    lines_needed = max(math.ceil(len(h) / 11) for h in headers)
    ws.row_dimensions[header_row].height = 15 * max(1, min(lines_needed, 6))
    return any_na


def _width(texts: Sequence[str], low: int, high: int) -> int:
    return max(low, min(high, max((len(t) for t in texts), default=0) + 2))


def _notes_sheet(ws: Worksheet, meta: Mapping[str, Any], ctx: Context,
                 contents: Sequence[tuple[str, str]], used_not_available: bool) -> None:
    study = ctx.study
    variables: Mapping[str, Any] = meta.get("variables", {})
    title = str(study.get("title") or study.get("short_title") or "Survey tables")
    rows: list[tuple[str, str, Font | None]] = [(f"{title}: tables", "", TITLE),
                                                (ctx.survey_label, "", None)]
    if study.get("synthetic"):
        rows.append(("SYNTHETIC DATA", "Every figure in this workbook comes from synthetic (simulated) "
                     "data generated for testing the analysis pipeline. They are not real survey "
                     "results and must not be quoted as findings.", WARNING))
    n = meta.get("n")
    rows += [
        ("", "", None),
        ("About these tables", f"One sheet per survey question. Each row is a group of "
         f"{ctx.population} (all {ctx.population} first, then the groups of each breakdown); for "
         "each answer category the "
         "sheet gives the percentage and its 95% confidence interval. Percentages are rounded to "
         "one decimal place, so a row may not add to exactly 100.", BOLD),
        ("Respondents", f"{n:,} respondents after cleaning." if isinstance(n, int) else "", None),
        ("Bases", "'Unweighted base' is the number of respondents in the group who gave a valid "
         "answer to the question. Answers outside the base (for example 'prefer not to say' or "
         "'not asked') are left out of both the base and the percentages; the codebook lists them "
         "for each question.", None),
    ]
    if ctx.weighted:
        margins = ", ".join(str(variables.get(m, {}).get("label") or m) for m in ctx.margins)
        rows.append(("Weighting", "Percentages are weighted: the design weights were "
                     "raked (iterative proportional fitting) to population totals"
                     + (f" of {margins}" if margins else "")
                     + ", and the standard errors treat the weights as calibrated to those totals "
                     "(linearisation). Bases are unweighted.", None))
    else:
        rows.append(("Weighting", "None. This is an unweighted convenience sample (a voluntary "
                     "online survey): percentages describe the people who took part and cannot be "
                     f"generalised to all {ctx.population}. Confidence intervals assume simple random "
                     "sampling and understate the real uncertainty.", None))
    rows += [
        ("Confidence intervals", "95% confidence intervals on the logit scale (as R survey's "
         "svyciprop, method = \"logit\"): expit(logit(p) \u00b1 t \u00d7 SE / (p(1 \u2212 p))), "
         "with t from the t distribution on (unweighted base \u2212 1) degrees of freedom and SE "
         "the linearised (Taylor series) standard error. A percentage of 0 or 100 has the interval "
         "0.0\u20130.0 or 100.0\u2013100.0.", None),
        (f"Suppression {SUPPRESSED}", _suppression_text(ctx), None),
    ]
    if used_not_available:
        rows.append((f"Not available {NOT_AVAILABLE}", "No estimate could be computed for this cell.",
                     None))
    sources = [f"Survey data: {meta.get('source_file') or ctx.survey} ({ctx.survey_label})."]
    if ctx.estimates_name:
        sources.append(f"Figures: {ctx.estimates_name} (the same estimates unrounded, with standard "
                       "errors and design effects; suppressed values are empty there too).")
    sources.append(f"Question wording and answer codes: the codebook, results/codebook/{ctx.survey}.html.")
    if study.get("funder"):
        sources.append(f"Funding: {study['funder']}.")
    rows.append(("Sources", " ".join(sources), None))
    rows += [("", "", None), ("Contents", "Question", BOLD)]

    r = 0
    for r, (key, text, font) in enumerate(rows, start=1):
        a = ws.cell(row=r, column=1, value=key or None)
        b = ws.cell(row=r, column=2, value=text or None)
        a.alignment = b.alignment = WRAP_TOP
        if font is not None:
            a.font = font
        if font is WARNING or (key == "Contents" and font is BOLD):
            b.font = font
        if text and len(text) > 95:
            ws.row_dimensions[r].height = 15 * math.ceil(len(text) / 95)
    for sheet, label in contents:
        r += 1
        link = ws.cell(row=r, column=1, value=sheet)
        link.hyperlink = Hyperlink(ref=link.coordinate, location=f"{quote_sheetname(sheet)}!A1",
                                   display=sheet)
        link.font = Font(color="0563C1", underline="single")
        ws.cell(row=r, column=2, value=label).alignment = WRAP_TOP
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 100


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
                   ctx: Context) -> None:
    """Estimates CSV + clean meta JSON -> the workbook at `out_path`."""
    wb = build_workbook(read_estimates(estimates_path), read_meta(meta_path), ctx)
    save_workbook(wb, out_path)
