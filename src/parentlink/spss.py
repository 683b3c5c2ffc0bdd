"""Byte-stable SPSS writing.

ReadStat stamps the wall-clock time into the .sav header (creation date "dd Mon yy" at byte 92 and
time "hh:mm:ss" at byte 101). We overwrite both with SOURCE_DATE_EPOCH so that two builds of the
same inputs give identical files.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from parentlink import FALLBACK_SOURCE_DATE_EPOCH

_DATE_OFFSET = 92  # after the 4-byte magic, 60-byte product name and 28 bytes of header integers


def source_date_epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH", FALLBACK_SOURCE_DATE_EPOCH))


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


def write_labelled(data: pd.DataFrame, meta: dict[str, Any], path: str | Path) -> None:
    """Write cleaned data as a labelled .sav for SPSS users: labels, value labels, missing codes."""
    variables = meta["variables"]
    df = data.copy()
    for col in df.columns:
        if str(df[col].dtype) == "Int64":
            df[col] = df[col].astype("float64")
    labels = {c: variables.get(c, {}).get("label", c) for c in df.columns}
    labels["respondent_id"] = "Respondent pseudonym"
    value_labels = {
        c: {int(k): v for k, v in variables[c]["value_labels"].items()}
        for c in df.columns
        if c in variables and variables[c].get("value_labels")
    }
    missing = {
        c: [int(k) for k in sorted(variables[c]["missing"], key=int)][:3]
        for c in df.columns
        if c in variables and variables[c].get("missing")
    }
    measure = {
        c: {"categorical": "nominal", "numeric": "scale", "text": "nominal"}.get(
            variables[c]["type"], "unknown"
        )
        for c in df.columns
        if c in variables
    }
    for c, v in variables.items():
        if c in measure and v.get("measure") in ("ordinal", "nominal", "scale"):
            measure[c] = v["measure"]
    write_sav(
        df,
        path,
        file_label=f"{meta['survey']} survey, cleaned by parentlink"[:64],
        column_labels=labels,
        variable_value_labels=value_labels,
        missing_ranges=missing,
        variable_measure=measure,
    )
