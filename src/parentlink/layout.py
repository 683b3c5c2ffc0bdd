"""Layout check of rendered PDFs: no text printed over other text, none outside the page.

What a reader sees as overprinting — a chart label drawn across an axis label, a long variable
name running into the next column of a table — shows in the PDF as two words whose boxes overlap
although they belong to different lines. This module reads every word's box with poppler's
``pdftotext -bbox-layout`` (the same text a screen reader or a search gets) and reports

* two words of *different* lines whose boxes overlap by more than a tolerance (words of one line
  never overlap unless the font is broken, and kerning can make neighbours touch), and
* a word that runs outside the page, or into the left/right page margin by more than the
  tolerance (the top and bottom margins hold the running banner and the page number).

and (text_over_lines) a word crossed by a drawn line, or with a vertical line spanning its height
closer than 3 pt to it (a chart label jammed against the axis).

Not covered: text over a filled area (a label on a bar or a shaded cell is often meant to be
there), diagonal text (dropped: poppler splits it into fragments that would seem to overlap),
words wholly outside the page (poppler does not extract them; a word crossing the page edge is
caught), and text clipped by an SVG's own clip path.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from parentlink.errors import fail

__all__ = ["Word", "layout_problems", "read_words"]

XHTML = "{http://www.w3.org/1999/xhtml}"
MM = 72 / 25.4  # points per millimetre


@dataclass(frozen=True)
class Word:
    """One word's box on a page, in points from the page's top left corner."""

    page: int
    line: int  # index of its line on the page (pdftotext's <line>)
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass(frozen=True)
class Page:
    number: int
    width: float
    height: float
    words: tuple[Word, ...]


def read_words(pdf: Path) -> list[Page]:
    """Every page of `pdf` with its words' boxes (poppler's pdftotext must be installed)."""
    exe = shutil.which("pdftotext")
    if exe is None:
        fail("pdftotext not found: install poppler-utils to check the layout of the PDFs.")
    xml = subprocess.run([exe, "-nodiag", "-bbox-layout", str(pdf), "-"], capture_output=True,
                         check=True).stdout
    root = ElementTree.fromstring(xml)
    pages = []
    for number, page in enumerate(root.iter(f"{XHTML}page"), start=1):
        words = []
        for line_no, line in enumerate(page.iter(f"{XHTML}line")):
            for w in line.iter(f"{XHTML}word"):
                words.append(Word(number, line_no, float(w.attrib["xMin"]),
                                  float(w.attrib["yMin"]), float(w.attrib["xMax"]),
                                  float(w.attrib["yMax"]), w.text or ""))
        pages.append(Page(number, float(page.attrib["width"]), float(page.attrib["height"]),
                          tuple(words)))
    return pages


def _overlaps(words: Sequence[Word], tol: float) -> Iterable[tuple[Word, Word]]:
    """Pairs of words of different lines whose boxes share more than `tol` points each way
    (a sweep down the page: only words whose vertical extents meet are compared)."""
    ordered = sorted(words, key=lambda w: (w.y0, w.x0))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b.y0 >= a.y1 - tol:
                break
            if a.line == b.line:
                continue
            dx = min(a.x1, b.x1) - max(a.x0, b.x0)
            dy = min(a.y1, b.y1) - max(a.y0, b.y0)
            if dx > tol and dy > tol:
                yield a, b


def layout_problems(pdf: Path, *, side_margin_mm: float = 17.0, tol: float = 1.0,
                    lines: bool = True) -> list[str]:
    """One sentence per overprint or overflow in `pdf`; empty when the layout is clean.

    `side_margin_mm`: the left and right page margins text must stay inside (briefing.css's
    @page margin); `tol`: points of overlap tolerated (glyph boxes of kerned neighbours touch).
    """
    out = []
    pages = read_words(pdf)
    for page in pages:
        left, right = side_margin_mm * MM - tol, page.width - side_margin_mm * MM + tol
        for w in page.words:
            if w.x0 < left or w.x1 > right or w.y0 < -tol or w.y1 > page.height + tol:
                out.append(f"{pdf.name} page {page.number}: {w.text!r} runs outside the "
                           f"text area (x {w.x0:.0f}–{w.x1:.0f} of {left:.0f}–{right:.0f} pt)")
        for a, b in _overlaps(page.words, tol):
            out.append(f"{pdf.name} page {page.number}: {a.text!r} and {b.text!r} overprint "
                       f"each other at ({max(a.x0, b.x0):.0f}, {max(a.y0, b.y0):.0f}) pt")
    return out + (text_over_lines(pdf, pages) if lines else [])


# ----------------------------------------------------------------------------- text over lines


def _without_text(pdf: Path, out: Path) -> None:
    """`pdf` with every text object (BT … ET) removed from pages and form XObjects: what is
    left is the drawing (rules, axes, bars) that text might be printed across."""
    import pikepdf

    with pikepdf.open(pdf) as doc:
        streams = [p.obj for p in doc.pages] + [
            o for o in doc.objects
            if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Form"]
        for s in streams:
            kept: list[Any] = []
            in_text = False
            for instruction in pikepdf.parse_content_stream(s):
                name = str(instruction.operator)
                if name == "BT":
                    in_text = True
                elif name == "ET":
                    in_text = False
                elif not in_text:
                    kept.append(instruction)
            data = pikepdf.unparse_content_stream(kept)
            if isinstance(s, pikepdf.Stream):
                s.write(data)
            else:  # a page: its /Contents may be an array of streams
                s.Contents = doc.make_stream(data)
        doc.save(out, deterministic_id=True)


def _crossed(core: Any, sides: Any, dark: int = 100, fill: float = 0.6) -> bool:
    """Whether a line runs across a word's core (a row dark from edge to edge), or a vertical
    line runs through or against it (a dark column in the core widened by the clearance on each
    side), without the core being a filled area (text on a shaded cell or band is meant to be
    there)."""
    mask, wide = core < dark, sides < dark
    if mask.size == 0 or mask.mean() > fill:
        return False
    return bool(mask.all(axis=1).any() or wide.all(axis=0).any())


def text_over_lines(pdf: Path, pages: Sequence[Page], *, dpi: int = 100, clear: float = 3.0,
                    top_bottom_mm: tuple[float, float] = (22.0, 18.0)) -> list[str]:
    """Words of the text area crossed by a drawn line (an axis through a chart label, a rule
    through a cell) or with a vertical line closer than `clear` points to their first or last
    letter (a label jammed against an axis). The page bands above and below the text area hold
    the running banner, text on a coloured band by design, and are not checked."""
    import tempfile

    import numpy as np
    from PIL import Image

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.pdf"
        _without_text(pdf, bare)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(bare),
                        str(Path(tmp) / "p")], check=True, capture_output=True)
        images = sorted(Path(tmp).glob("p-*.png"))
        scale = dpi / 72
        for page, png in zip(pages, images, strict=True):
            ink = np.asarray(Image.open(png).convert("L"))
            top, bottom = top_bottom_mm[0] * MM, page.height - top_bottom_mm[1] * MM
            for w in page.words:
                if w.y0 < top or w.y1 > bottom:
                    continue
                # The core: inside the glyph box, away from ascenders and descenders.
                h = w.y1 - w.y0
                x0, x1 = int((w.x0 + 1) * scale) + 1, int((w.x1 - 1) * scale)
                y0, y1 = int((w.y0 + 0.3 * h) * scale) + 1, int((w.y1 - 0.3 * h) * scale)
                if x1 - x0 < 2 or y1 - y0 < 2:
                    continue
                # A vertical line counts when it spans the word's whole height (an axis, a rule),
                # not a short mark beside it (a confidence interval's cap).
                c0, c1 = int((w.x0 - clear) * scale), int((w.x1 + clear) * scale) + 1
                side = ink[int(w.y0 * scale) + 1:int(w.y1 * scale), max(c0, 0):c1]
                if _crossed(ink[y0:y1, x0:x1], side):
                    out.append(f"{pdf.name} page {page.number}: a line is drawn across "
                               f"{w.text!r} at ({w.x0:.0f}, {w.y0:.0f}) pt")
    return out
