"""Byte-stable SPSS writing.

ReadStat stamps the wall-clock time into the .sav header (creation date "dd Mon yy" at byte 92 and
time "hh:mm:ss" at byte 101). We overwrite both with SOURCE_DATE_EPOCH so that two builds of the
same inputs give identical files.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from parentlink import source_date_epoch
from parentlink.errors import UserError

_DATE_OFFSET = 92  # after the 4-byte magic, 60-byte product name and 28 bytes of header integers


def write_sav(df: pd.DataFrame, path: str | Path, *, epoch: int | None = None, **kwargs: Any) -> None:
    """pyreadstat.write_sav, then stamp the header with `epoch` (default SOURCE_DATE_EPOCH)."""
    pyreadstat.write_sav(df, str(path), **kwargs)
    stamp = time.gmtime(source_date_epoch() if epoch is None else epoch)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    date = f"{stamp.tm_mday:02d} {months[stamp.tm_mon - 1]} {stamp.tm_year % 100:02d}"
    clock = time.strftime("%H:%M:%S", stamp)
    with open(path, "r+b") as fh:
        fh.seek(_DATE_OFFSET)
        fh.write((date + clock).encode("ascii"))


_SPSS_FORMAT = re.compile(r"^[A-Z]+[0-9]+(\.[0-9]+)?$")
Range = dict[str, float]


def _number(key: str) -> int | float:
    f = float(key)
    return int(f) if f.is_integer() else f


def _inside(code: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or code >= lo) and (hi is None or code <= hi)


def spss_missing(name: str, v: dict[str, Any], valid: set[float]) -> list[float | Range]:
    """A variable's missing declaration as an SPSS file can hold it: at most three codes, or one
    range and one code. The delivery's own ranges are kept (LO/HI ends are infinite); codes they do
    not cover are added. More than three codes with no range become one range from the lowest to
    the highest if no valid code (`valid`: labelled or present answers) falls inside it."""
    codes = sorted(float(k) for k in v.get("missing", {}))
    ranges = [(lo, hi) for lo, hi in v.get("missing_ranges", [])][:1]
    rest = [c for c in codes if not any(_inside(c, lo, hi) for lo, hi in ranges)]
    if not ranges and len(rest) > 3:
        for single in [None, *rest]:  # one code may sit outside the range
            span = [c for c in rest if c != single]
            lo, hi = span[0], span[-1]
            if not any(lo <= x <= hi for x in valid):
                ranges, rest = [(lo, hi)], [] if single is None else [single]
                break
    if (ranges and len(rest) > 1) or len(rest) > 3:
        raise UserError(
            f"clean .sav export: variable {name} has missing codes {', '.join(map(_key, codes))}, more "
            "than an SPSS file can declare (three codes, or one range and one code) without also "
            "declaring valid answers missing: declare fewer codes missing for it in the plan."
        )
    out: list[float | Range] = [
        {"lo": -math.inf if lo is None else float(lo), "hi": math.inf if hi is None else float(hi)}
        for lo, hi in ranges
    ]
    return out + [float(c) for c in rest]


def _key(code: float) -> str:
    return str(int(code)) if float(code).is_integer() else repr(float(code))


def _whole_numbers(series: pd.Series) -> bool:
    values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(float)
    return bool(len(values)) and bool((values == values.round()).all())


def _format(v: dict[str, Any], series: pd.Series) -> str | None:
    """The delivery's SPSS display format (F8.4, DATETIME20, ADATE10), except that a variable
    holding whole numbers only (answer codes, counts) is shown with no decimals, F<w>.0 (the
    delivery's width, else 8): SPSS shows code 1 as "1", not "1.00". Stata formats (%9.0g) and
    text widths are left to the writer."""
    fmt = str(v.get("format") or "").upper()
    if fmt.startswith("A"):
        return None
    whole = v.get("type") in ("categorical", "numeric") \
        and pd.api.types.is_numeric_dtype(series) and _whole_numbers(series)
    if _SPSS_FORMAT.match(fmt):
        if whole and fmt.startswith("F") and not fmt.endswith(".0"):
            return f"F{fmt[1:].split('.')[0]}.0"
        return fmt
    return "F8.0" if whole or (v.get("type") == "categorical" and str(series.dtype) == "Int64") \
        else None


FINAL_WEIGHT = "final_weight"
FINAL_WEIGHT_LABEL = "Final weight (calibrated): WEIGHT BY this to reproduce the published percentages"
MEASURES = ("nominal", "ordinal", "scale")


def file_label(survey: str, synthetic: bool) -> str:
    """The .sav file label (at most 64 characters), stamped SYNTHETIC for a synthetic study."""
    label = f"{survey} survey, cleaned by parentlink"
    return (f"SYNTHETIC DATA: {label}" if synthetic else label)[:64]


def with_final_weight(data: pd.DataFrame, weights: pd.Series, source: str) -> pd.DataFrame:
    """`data` with the final weight (indexed by respondent_id) as its last column, row for row."""
    ids = data["respondent_id"].astype(str)
    if len(weights) != len(data) or not ids.isin(weights.index).all():
        raise UserError(f"{source} does not hold one final weight per respondent of the clean "
                        "data; rerun the weight rule.")
    out = data.copy()
    out[FINAL_WEIGHT] = weights.loc[ids].to_numpy(float)
    return out


def with_final_weight_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """`meta` with the final weight described (for the codebook, which lists the .sav's
    variables)."""
    weight = {"label": FINAL_WEIGHT_LABEL, "type": "numeric", "source": "",
              "note": "from the weight stage (results/weights)"}
    return {**meta, "variables": {**meta["variables"], FINAL_WEIGHT: weight}}


def write_labelled(data: pd.DataFrame, meta: dict[str, Any], path: str | Path, *,
                   synthetic: bool = False, design_variables: Sequence[str] = ()) -> None:
    """Write cleaned data as a labelled .sav for SPSS users: variable and value labels, missing
    codes and ranges, the delivery's display widths and measurement levels (every variable gets
    one: nominal, ordinal or scale), whole-number formats for codes, and the file label (stamped
    SYNTHETIC when `synthetic`). A ``final_weight`` column (:func:`with_final_weight`) is written
    as a scale variable so that ``WEIGHT BY final_weight`` gives the published percentages; the
    design's strata and cluster variables (`design_variables`) must be in `data`."""
    absent = [v for v in design_variables if v not in data.columns]
    if absent:
        raise UserError(f"clean .sav export: the survey design names {', '.join(absent)}, which "
                        "the clean data lack; keep them in the cleaning plan (config surveys.<survey>"
                        ".plan) or correct surveys.<survey>.design.")
    variables = meta["variables"]
    df = data.copy()
    for col in df.columns:
        if str(df[col].dtype) == "Int64":
            df[col] = df[col].astype("float64")
    labels = {c: variables.get(c, {}).get("label", c) for c in df.columns}
    labels["respondent_id"] = "Respondent pseudonym"
    if FINAL_WEIGHT in df.columns:
        labels[FINAL_WEIGHT] = FINAL_WEIGHT_LABEL
    value_labels = {
        c: {_number(k): v for k, v in variables[c]["value_labels"].items()}
        for c in df.columns
        if c in variables and variables[c].get("value_labels")
    }
    missing = {}
    for c in df.columns:
        v = variables.get(c, {})
        if v.get("missing") and pd.api.types.is_numeric_dtype(df[c]):
            valid = {float(k) for k in v.get("value_labels", {}) if k not in v["missing"]}
            valid |= set(df[c].dropna().astype(float)) - {float(k) for k in v["missing"]}
            missing[c] = spss_missing(c, v, valid)
    measure: dict[str, str] = {}
    for c in df.columns:
        v = variables.get(c, {})
        default = "scale" if v.get("type") == "numeric" or c == FINAL_WEIGHT else "nominal"
        measure[c] = v["measure"] if v.get("measure") in MEASURES else default
    formats = {c: f for c in df.columns if (f := _format(variables.get(c, {}), data[c]))}
    if FINAL_WEIGHT in df.columns:
        formats[FINAL_WEIGHT] = "F12.6"
    widths = {c: int(variables[c]["display_width"]) for c in df.columns
              if c in variables and variables[c].get("display_width")}
    write_sav(
        df,
        path,
        file_label=file_label(str(meta["survey"]), synthetic),
        column_labels=labels,
        variable_value_labels=value_labels,
        missing_ranges=missing,
        variable_measure=measure,
        variable_format=formats,
        variable_display_width=widths,
    )
