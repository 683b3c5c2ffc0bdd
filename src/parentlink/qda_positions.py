"""Text positions in REFI-QDA exports: which unit the exporting tool counted in, and checking it.

The standard says ``startPosition``/``endPosition`` are character positions in the plain text,
but tools count differently:

* NVivo (Windows, .NET strings) counts **UTF-16 code units**: a character outside the Basic
  Multilingual Plane (most emoji) counts as two; a Windows line end (CRLF) counts as two.
* ATLAS.ti counts a CRLF in the exported text file as **one** character (QualCoder's importer
  makes the same allowance for ATLAS.ti, and the opposite one for other Windows exports).
* QualCoder and MAXQDA count code points (Python/Unicode characters).

For every source the reader tries the units that give different answers for its text (UTF-16
only matters when the text has characters beyond U+FFFF, CRLF only when it has CRLFs) and keeps
the one under which every selection is inside the text and lands on whole characters and, where
selections carry a ``name`` holding their text (NVivo and MAXQDA write the selected text there),
the most of those names agree with the text selected. A tie goes to the exporting tool's own unit
(Project ``origin``), else to code points. If the names are text (at least half agree under the
chosen unit) every named selection must agree, or the read stops naming the first that does not.

Positions handed on are code-point offsets into the text with CRLF turned into LF, so a quote
is always ``text[start:end]`` of the text as documented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

CODE_POINTS = "code points"
CODE_POINTS_LF = "code points, CRLF as one"
UTF16 = "UTF-16 code units"
UTF16_LF = "UTF-16 code units, CRLF as one"
UNITS = (CODE_POINTS, UTF16, CODE_POINTS_LF, UTF16_LF)
# What each tool is known to count in (matched in Project@origin, lower case). MAXQDA is not
# listed: the project has no export showing its unit, so its positions are decided by the
# selection names, or by documents.position_unit.
TOOL_UNIT = {"nvivo": UTF16, "atlas": CODE_POINTS_LF, "qualcoder": CODE_POINTS}
CONFIG_UNITS = {"code_points": CODE_POINTS, "utf16": UTF16, "code_points_crlf_one": CODE_POINTS_LF,
                "utf16_crlf_one": UTF16_LF}
NAME_MIN = 3  # a name shorter than this cannot show which text was meant


def tool_unit(origin: str) -> str | None:
    """The unit the exporting tool (Project ``origin``) is known to use, if it is known."""
    low = origin.lower()
    return next((unit for key, unit in TOOL_UNIT.items() if key in low), None)


@dataclass(frozen=True)
class Mapped:
    """Selections mapped under one unit: offsets into the LF text, and which are usable."""

    unit: str
    start: np.ndarray
    end: np.ndarray
    ok: np.ndarray  # inside the text, on whole characters, start < end


class TextIndex:
    """Maps positions in any of UNITS to code-point offsets into the CRLF->LF text."""

    def __init__(self, raw: str) -> None:
        cps = np.frombuffer(raw.encode("utf-32-le"), dtype="<u4")
        self.cr_before_lf = np.zeros(len(cps), dtype=bool)
        if len(cps) > 1:
            self.cr_before_lf[:-1] = (cps[:-1] == 13) & (cps[1:] == 10)
        self.astral = cps > 0xFFFF
        self.text = raw.replace("\r\n", "\n")
        self.dropped = np.concatenate(([0], np.cumsum(self.cr_before_lf)))
        self.has_crlf, self.has_astral = bool(self.cr_before_lf.any()), bool(self.astral.any())

    def units(self) -> list[str]:
        """The units that can give different offsets for this text."""
        out = [CODE_POINTS]
        if self.has_astral:
            out.append(UTF16)
        if self.has_crlf:
            out.append(CODE_POINTS_LF)
            if self.has_astral:
                out.append(UTF16_LF)
        return out

    def cumulative(self, unit: str) -> np.ndarray:
        width = np.ones(len(self.astral), dtype=np.int64)
        if unit in (UTF16, UTF16_LF):
            width += self.astral
        if unit in (CODE_POINTS_LF, UTF16_LF):
            width[self.cr_before_lf] = 0  # the CR of a CRLF takes no room
        return np.concatenate(([0], np.cumsum(width)))

    def map(self, unit: str, start: np.ndarray, end: np.ndarray) -> Mapped:
        cum = self.cumulative(unit)
        s_raw, s_ok = self.locate(cum, start)
        e_raw, e_ok = self.locate(cum, end)
        s, e = s_raw - self.dropped[s_raw], e_raw - self.dropped[e_raw]
        return Mapped(unit, s, e, s_ok & e_ok & (s < e))

    @staticmethod
    def locate(cum: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw code-point index of each unit offset; ok is False inside a character or outside."""
        idx = np.searchsorted(cum, pos, side="left")
        inside = (pos >= 0) & (idx < len(cum))
        idx = np.minimum(idx, len(cum) - 1)
        return idx, inside & (cum[idx] == pos)


def normal(text: str) -> str:
    """Whitespace runs as one space (names cannot hold line ends), case folded; ends kept, so a
    selection one character early (a leading line end) does not pass for the name."""
    return re.sub(r"\s+", " ", text).casefold()


def name_agrees(name: str, quote: str) -> bool:
    """Does a selection's name spell (the start of) the text it selects?"""
    n = normal(name).strip().rstrip(".…").rstrip()
    q = normal(quote)
    return bool(n) and bool(q) and (q.startswith(n) or n.startswith(q))


@dataclass(frozen=True)
class Choice:
    mapped: Mapped
    named: int  # selections whose name can be checked
    agree: int  # of those, how many agree with the text under the chosen unit
    ambiguous: tuple[str, ...] = ()  # units that fit equally well and select different text


def choose_unit(index: TextIndex, start: np.ndarray, end: np.ndarray, names: list[str],
                origin: str, forced: str | None = None) -> Choice:
    """The unit every selection fits with most names agreeing; a tie between units that select
    different text goes to the exporting tool's known unit, else is reported as ambiguous."""
    named = [i for i, n in enumerate(names) if len(normal(n).strip()) >= NAME_MIN]
    tried: list[tuple[Mapped, int]] = []
    for unit in [forced] if forced else index.units():
        mapped = index.map(unit, start, end)
        agree = sum(name_agrees(names[i], index.text[mapped.start[i]:mapped.end[i]])
                    for i in named if mapped.ok[i])
        tried.append((mapped, agree))
    fits = [t for t in tried if t[0].ok.all()] or tried
    top = max(agree for _, agree in fits)
    best = [m for m, agree in fits if agree == top]
    differ = [m for m in best[1:] if not (np.array_equal(m.start, best[0].start)
                                          and np.array_equal(m.end, best[0].end))]
    if not differ:
        return Choice(best[0], len(named), top)
    known = tool_unit(origin)
    pick = next((m for m in best if m.unit == known), None)
    if pick is not None:
        return Choice(pick, len(named), top)
    return Choice(best[0], len(named), top, tuple(m.unit for m in best))
