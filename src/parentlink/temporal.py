"""Dates, times and durations of SPSS and Stata files, converted from the stored numbers.

pyreadstat's own conversion is not used: it wraps SPSS TIME values over 24 hours (29:14 becomes
05:14), returns time-of-day as Python objects, leaves quarter, month-year and week-year formats as
seconds, and fails on a date beyond Python's range with an error that reads like a corrupt file.
Here every format is converted from the stored number by its documented epoch and unit:

- SPSS dates and date-times (DATE, ADATE, EDATE, SDATE, JDATE, DATETIME, YMDHMS, QYR, MOYR, WKYR)
  are seconds since 1582-10-14 -> ``datetime64``; TIME, DTIME and MTIME are seconds -> ``timedelta64``
  (a duration, any length). WKDAY and MONTH are day/month numbers and stay numeric.
- Stata %tc/%tC (milliseconds), %td and Stata 9's %d (days), %tw (weeks, 52 a year), %tm
  (months), %tq (quarters), %th (half years) are counted from 1960; %ty is a year number. %tC's
  leap seconds are not removed.

A value the conversion cannot place between the years 1 and 9999 is a :class:`TemporalError`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

SPSS_EPOCH = pd.Timestamp("1582-10-14")
STATA_EPOCH = pd.Timestamp("1960-01-01")
_SPSS_DATES = ("DATETIME", "YMDHMS", "DATE", "ADATE", "EDATE", "SDATE", "JDATE", "QYR", "MOYR", "WKYR")
_SPSS_DURATIONS = ("DTIME", "MTIME", "TIME")
_MIN, _MAX = pd.Timestamp("0001-01-01").as_unit("us"), pd.Timestamp("9999-12-31 23:59:59").as_unit("us")


class TemporalError(ValueError):
    """Stored values that are no date: the message says how many and shows one."""


def kind_of_format(fmt: str, stata: bool) -> str | None:
    """'datetime', 'duration' or None (not a date/time format) for a variable's display format."""
    f = (fmt or "").strip().upper()
    if stata:
        return "datetime" if _stata_unit(f) else None
    name = re.match(r"[A-Z]+", f)
    word = name.group(0) if name else ""
    if word in _SPSS_DURATIONS:
        return "duration"
    return "datetime" if word in _SPSS_DATES else None


def _stata_unit(fmt: str) -> str | None:
    """The unit letter of a Stata date format: %tc -> C, %td -> D, ...; Stata 9's %d (and %dD_m_Y,
    still read by Stata as %td) -> D."""
    m = re.match(r"%-?(?:T([CDWMQHY])|(D))", fmt.strip().upper())
    return (m.group(1) or m.group(2)) if m else None


def _check(values: pd.Series, out: pd.Series) -> pd.Series:
    bad = values.notna() & out.isna()
    if bad.any():
        raise TemporalError(f"{int(bad.sum())} value(s) such as {values[bad].iloc[0]!r} are not dates "
                            "between the years 1 and 9999")
    return out


def _seconds_after(epoch: pd.Timestamp, seconds: pd.Series) -> pd.Series:
    micro = (seconds.astype(float) * 1e6).round()
    lo = (_MIN - epoch) / pd.Timedelta(microseconds=1)
    hi = (_MAX - epoch) / pd.Timedelta(microseconds=1)
    inside = micro.between(lo, hi)
    delta = pd.to_timedelta(micro.where(inside), unit="us")
    return _check(seconds, (epoch + delta).astype("datetime64[us]"))


def _stata_calendar(values: pd.Series, unit: str) -> pd.Series:
    """Stata %tw/%tm/%tq/%th/%ty counts -> the first day of that period."""
    v = values.astype(float)
    whole = v.where(v == v.round())
    per_year = {"W": 52, "M": 12, "Q": 4, "H": 2, "Y": 1}[unit]
    year = (whole if unit == "Y" else 1960 + np.floor(whole / per_year))
    ok = year.between(1, 9999)
    y = year.where(ok, 1970).fillna(1970).astype("int64").to_numpy()
    k = (whole - (year - 1960) * per_year).where(ok, 0).fillna(0).astype("int64").to_numpy()
    first = (y - 1970).astype("timedelta64[Y]") + np.datetime64("1970", "Y")
    if unit == "W":
        stamp = first.astype("datetime64[D]") + (7 * k).astype("timedelta64[D]")
    else:
        step = {"M": 1, "Q": 3, "H": 6, "Y": 0}[unit]
        stamp = (first.astype("datetime64[M]") + (k * step).astype("timedelta64[M]")).astype("datetime64[D]")
    out = pd.Series(stamp.astype("datetime64[us]"), index=v.index).where(ok)
    return _check(v, out)


def convert(values: pd.Series, fmt: str, stata: bool) -> pd.Series:
    """Stored numbers of a date/time variable -> datetime64[us] or timedelta64[us]."""
    f = fmt.strip().upper()
    if not stata:
        if kind_of_format(f, stata=False) == "duration":
            return pd.to_timedelta((values.astype(float) * 1e6).round(), unit="us").astype("timedelta64[us]")
        return _seconds_after(SPSS_EPOCH, values)
    unit = _stata_unit(f) or ""
    if unit == "C":
        return _seconds_after(STATA_EPOCH, values.astype(float) / 1000)
    if unit == "D":
        return _seconds_after(STATA_EPOCH, values.astype(float) * 86400)
    return _stata_calendar(values, unit)
