"""CSV files the pipeline publishes, safe to open in a spreadsheet (docs/data-contract.md).

A spreadsheet treats a field beginning with ``=``, ``+``, ``-``, ``@``, tab or carriage return as
a formula (CSV injection), so a text field beginning with one of those is written with a leading
apostrophe, the convention spreadsheets show as text (OWASP). A text field that itself begins with
an apostrophe followed by one of those characters or by another apostrophe gets one more, so that
:func:`unescape` gives back exactly what was written. Plain numbers written as text (a code
``-1``) are left alone: a spreadsheet reads them as numbers, which they are. Numeric columns are
never changed. Every CSV writer of the pipeline goes through :func:`write_csv` (or
:func:`neutralise`), and every reader inside the pipeline through :func:`read_csv` (or
:func:`unescape`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def neutralise_text(value: Any) -> Any:
    """One field: an apostrophe before a text that a spreadsheet would run as a formula."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    if value[0] == "'" and len(value) > 1 and value[1] in (*FORMULA_START, "'"):
        return "'" + value
    return value


def unescape_text(value: Any) -> Any:
    """The inverse of :func:`neutralise_text`."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" \
            and value[1] in (*FORMULA_START, "'"):
        return value[1:]
    return value


def _map_text(frame: pd.DataFrame, fn: Any) -> pd.DataFrame:
    """A copy with `fn` applied to every text field and column name (numeric columns untouched)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(fn)
    out.columns = [fn(str(c)) for c in out.columns]
    return out


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text field neutralised (numeric columns untouched)."""
    return _map_text(frame, neutralise_text)


def unescape(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame read back from a published CSV, with :func:`neutralise` undone."""
    return _map_text(frame, unescape_text)


def write_csv(table: pd.DataFrame, path: str | Path, float_format: str | None = "%.12g") -> None:
    """Deterministic CSV: no index, '\\n' line ends, floats with 12 significant digits, text fields
    neutralised for spreadsheets."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    neutralise(table).to_csv(path, index=False, float_format=float_format, lineterminator="\n")


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv`` of a file written by :func:`write_csv`, neutralisation undone."""
    return unescape(pd.read_csv(path, **kwargs))
