"""How figures are printed in prose, charts and tables, and loading facts.json.

Kept free of pandas and matplotlib: a briefing's render job imports only this module, jinja2 and
WeasyPrint, which saves about 0.3 s per job (see bench/bench_render.py).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parentlink.errors import fail

SUPPRESSION_MARK = "[c]"
# The shipped font files (workflow/fonts): regular and bold, as the templates' @font-face uses.
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
# Printed in place of a character the shipped font cannot draw (DejaVu has this glyph).
REPLACEMENT_CHAR = "\ufffd"
# Emoji: Pango draws these from an emoji font even when the shipped font has a glyph, so they
# count as not covered. Everything from U+1F000 up, the BMP characters with the Unicode property
# Emoji_Presentation or Emoji_Modifier_Base (emoji-data.txt), and the emoji variation selector
# and keycap mark. tests/test_render.py renders every covered character to check the list.
EMOJI = frozenset([
    *range(0x1F000, 0x20000), 0x231A, 0x231B, *range(0x23E9, 0x23ED), 0x23F0, 0x23F3, 0x25FD,
    0x25FE, 0x2614, 0x2615, *range(0x2648, 0x2654), 0x261D, 0x267F, 0x2693, 0x26A1, 0x26AA,
    0x26AB, 0x26BD, 0x26BE, 0x26C4, 0x26C5, 0x26CE, 0x26D4, 0x26EA, 0x26F2, 0x26F3, 0x26F5,
    0x26F9, 0x26FA, 0x26FD, 0x2705, *range(0x270A, 0x270E), 0x2728, 0x274C, 0x274E,
    *range(0x2753, 0x2756), 0x2757, *range(0x2795, 0x2798), 0x27B0, 0x27BF, 0x2B1B, 0x2B1C,
    0x2B50, 0x2B55, 0xFE0F, 0x20E3,
])


def pct_text(cell: Mapping[str, Any], mark: str = SUPPRESSION_MARK) -> str:
    """A percentage as printed: whole number and '%', or the suppression mark alone."""
    if cell.get("suppressed", True):
        return mark
    return f"{cell['pct']:.0f}%"


def one_in(pct: float) -> str:
    """A natural frequency for plain English on one scale (out of 10): 46% -> 'about 5 in 10'."""
    if pct < 5:
        return "fewer than 1 in 20"
    if pct < 10:
        return "fewer than 1 in 10"
    if pct > 95:
        return "almost all"
    return f"about {round(pct / 10)} in 10"


_FRACTIONS = [(1 / 2, "half"), (1 / 3, "a third"), (1 / 4, "a quarter"), (1 / 5, "a fifth"),
              (1 / 6, "a sixth"), (1 / 7, "a seventh"), (1 / 8, "an eighth"), (1 / 10, "a tenth")]


def odds_words(odds_ratio: float) -> str:
    """An odds ratio in words, for readers who do not read odds ratios: 0.19 -> 'about a fifth
    the odds', 0.34 -> 'about a third the odds', 4.5 -> 'about 4.5 times the odds', 1.1 ->
    'about the same odds'. Below 1 the nearest simple fraction (half to a tenth; under a tenth:
    'less than a tenth'); above 1 a multiple rounded to one decimal under 10, whole above.
    It says odds, not likelihood: odds ratios overstate risk ratios when the outcome is common."""
    if not odds_ratio > 0:
        raise ValueError(f"odds ratio must be positive, got {odds_ratio!r}")
    if 0.87 <= odds_ratio <= 1.15:
        return "about the same odds"
    if odds_ratio < 1:
        if odds_ratio < 0.09:
            return "less than a tenth the odds"
        if odds_ratio > 0.6:
            return f"about {round(odds_ratio * 100):d}% of the odds"
        best = min(_FRACTIONS, key=lambda f: abs(f[0] - odds_ratio) / f[0])
        return f"about {best[1]} the odds"
    times = f"{odds_ratio:.1f}".removesuffix(".0") if odds_ratio < 10 else f"{odds_ratio:.0f}"
    return f"about {times} times the odds"


def load_facts(path: Path) -> dict[str, Any]:
    if not path.is_file():
        fail(f"{path}: facts file not found; run the 'facts' rule first.")
    return dict(json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def font_coverage(fonts_dir: Path) -> frozenset[int]:
    """Code points every shipped font (FONT_FILES in fonts_dir) draws (emoji excluded)."""
    from fontTools.ttLib import TTFont  # a WeasyPrint and matplotlib dependency

    sets = []
    for name in FONT_FILES:
        path = fonts_dir / name
        if not path.is_file():
            fail(f"{path}: shipped font not found; restore workflow/fonts from the repository.")
        with TTFont(path, lazy=True) as font:
            sets.append(set(font.getBestCmap()))
    return frozenset(set.intersection(*sets) - EMOJI)


def printable(text: str, coverage: frozenset[int]) -> str:
    """`text` with each character the shipped font cannot draw replaced by U+FFFD.

    Without this, an emoji or a CJK character in a label or code name makes the renderer take a
    glyph from whatever fonts the operating system has, so the PDF would differ between machines
    (and embed a font the project does not ship). Control characters (tabs, newlines) are kept:
    they are layout, not glyphs.
    """
    if all(ord(c) in coverage or ord(c) < 0x20 for c in text):
        return text
    return "".join(c if ord(c) in coverage or ord(c) < 0x20 else REPLACEMENT_CHAR for c in text)


def printable_tree(value: Any, coverage: frozenset[int]) -> Any:
    """printable() applied to every string (keys too) in nested dicts and lists."""
    if isinstance(value, str):
        return printable(value, coverage)
    if isinstance(value, Mapping):
        return {printable_tree(k, coverage): printable_tree(v, coverage) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable_tree(v, coverage) for v in value]
    return value
