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

_DATE_OFFSET = 92  # after the 4-byte magic, 60-byte product name and 28 bytes of header integers
DEFAULT_EPOCH = 1614556800  # 2021-03-01, used when SOURCE_DATE_EPOCH is not set


def source_date_epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))


def write_sav(df: pd.DataFrame, path: str | Path, **kwargs: Any) -> None:
    """pyreadstat.write_sav, then stamp the header with SOURCE_DATE_EPOCH (zsav too)."""
    pyreadstat.write_sav(df, str(path), **kwargs)
    stamp = time.gmtime(source_date_epoch())
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    date = f"{stamp.tm_mday:02d} {months[stamp.tm_mon - 1]} {stamp.tm_year % 100:02d}"
    clock = time.strftime("%H:%M:%S", stamp)
    with open(path, "r+b") as fh:
        fh.seek(_DATE_OFFSET)
        fh.write((date + clock).encode("ascii"))
