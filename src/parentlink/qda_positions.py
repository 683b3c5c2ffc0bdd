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


ASTRAL = re.compile("[\U00010000-\U0010FFFF]")
CRLF = re.compile("\r\n")


class TextIndex:
    """Maps positions in any of UNITS to code-point offsets into the CRLF->LF text.

    Only the characters where the units part ways are stored (those beyond U+FFFF, which take
    two UTF-16 units, and the CR of each CRLF, which takes none when CRLF counts as one), so
    memory grows with them, not with the text.
    """

    def __init__(self, raw: str) -> None:
        self.n = len(raw)
        self.astral = np.fromiter((m.start() for m in ASTRAL.finditer(raw)), dtype=np.int64)
        self.crs = np.fromiter((m.start() for m in CRLF.finditer(raw)), dtype=np.int64)
        self.has_crlf, self.has_astral = bool(len(self.crs)), bool(len(self.astral))
        self.text = raw.replace("\r\n", "\n") if self.has_crlf else raw

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

    def events(self, unit: str) -> tuple[np.ndarray, np.ndarray]:
        """Raw indices where the unit's count departs from code points, and by how much."""
        parts = []
        if unit in (UTF16, UTF16_LF):
            parts.append((self.astral, 1))  # two units for one character
        if unit in (CODE_POINTS_LF, UTF16_LF):
            parts.append((self.crs, -1))  # the CR of a CRLF takes no room
        if not parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        pos = np.concatenate([p for p, _ in parts])
        delta = np.concatenate([np.full(len(p), d, dtype=np.int64) for p, d in parts])
        order = np.argsort(pos, kind="stable")
        return pos[order], delta[order]

    def map(self, unit: str, start: np.ndarray, end: np.ndarray) -> Mapped:
        pos, delta = self.events(unit)
        s_raw, s_ok = self.locate(pos, delta, start)
        e_raw, e_ok = self.locate(pos, delta, end)
        s = s_raw - np.searchsorted(self.crs, s_raw, side="left")
        e = e_raw - np.searchsorted(self.crs, e_raw, side="left")
        return Mapped(unit, s, e, s_ok & e_ok & (s < e))

    def locate(self, pos: np.ndarray, delta: np.ndarray, u: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Raw code-point index of each unit offset ``u``; ok is False inside a character or
        outside the text.

        With events at raw indices e_j and shifts D_j (summed up to and including j), the unit
        offset of raw index i is i + D_j for e_j < i <= e_(j+1). So i = u - D_j for the last
        event whose own offset F_j = e_j + D_(j-1) is below u, valid only if i > e_j (else u
        points inside a two-unit character).
        """
        shift = np.cumsum(delta)
        offset = pos + shift - delta
        j = np.searchsorted(offset, u, side="left") - 1
        has = j >= 0
        jj = np.maximum(j, 0)
        applied = np.where(has, shift[jj], 0) if len(pos) else np.zeros_like(u)
        i = u - applied
        after = np.where(has, i > pos[jj], True) if len(pos) else np.ones(len(u), dtype=bool)
        ok = (u >= 0) & (i >= 0) & (i <= self.n) & after
        return np.clip(i, 0, self.n), ok


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
