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

import csv
import re
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas loads lazily: a job that only reads small tables need not import it
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
    import pandas as pd

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
    import pandas as pd

    return unescape(pd.read_csv(path, **kwargs))


_INT = re.compile(r"[-+]?\d+")


def _column_type(values: list[str]) -> type:
    """int when every non-empty value is a whole number, float when every one is a number,
    else str (pandas' inference for the plain CSVs write_csv makes)."""
    filled = [v for v in values if v != ""]
    if filled and all(_INT.fullmatch(v) for v in filled):
        return int if len(filled) == len(values) else float  # an empty cell makes it float
    if filled and all(_NUMBER.fullmatch(v) or v.lower() in ("nan", "inf", "-inf")
                      for v in filled):
        return float
    return str


def read_records(path: str | Path, text: Collection[str] = (), empty: Any = None
                 ) -> list[dict[str, Any]]:
    """A small CSV written by :func:`write_csv` as one dict per row, without pandas: numeric
    columns as int or float (as :func:`read_csv` types them), the `text` columns and every other
    column as text with neutralisation undone, and an empty cell as `empty`."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = [unescape_text(h) for h in next(reader, [])]
        rows = list(reader)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    kinds = [str if name in text else _column_type(list(col))
             for name, col in zip(header, columns, strict=True)]
    out = []
    for row in rows:
        record: dict[str, Any] = {}
        for name, kind, value in zip(header, kinds, row, strict=True):
            if value == "":
                record[name] = empty
            elif kind is str:
                record[name] = unescape_text(value)
            else:
                record[name] = kind(value)
        out.append(record)
    return out
