"""The shipped fonts (workflow/fonts): DejaVu Sans cut down from the upstream files in tools/fonts.

    PYTHONPATH=src .venv/bin/python -m parentlink.fonts [UPSTREAM_DIR [OUT_DIR]]

Why: every PDF embeds a subset of the fonts it uses, and WeasyPrint makes that subset with
fontTools, which reads the whole font each time (glyphs, metrics and the OpenType layout tables).
With the full DejaVu Sans (6,241 glyphs) that cost 0.2-0.5 s of CPU per document; with this cut
(3,423 glyphs) about a third less. The text of every document is laid out exactly as before: the
glyph outlines, advance widths and the OpenType shaping tables (GSUB, GPOS, GDEF) of every kept
character are kept, so Pango places every word where it did (tests/test_fonts.py).

What is kept (SCRIPTS): the scripts a UK survey's labels and comments are written in — Latin
(Basic to Extended-B and Extended Additional: every European language, Welsh and Irish included;
IPA and combining marks), Greek, Cyrillic, Armenian, Hebrew, Arabic and Georgian — with
punctuation, super- and subscripts, currency, letter-like symbols, number forms, arrows, mathematical
operators, enclosed alphanumerics, geometric shapes, miscellaneous symbols, dingbats, the Latin
ligatures and U+FFFD (what wording.printable prints for a character the font lacks): 2,980 of
the 5,515 characters the upstream files print (wording.font_coverage). Dropped: polytonic Greek,
phonetic extensions, Latin Extended-C/D/E, N'Ko, Lao, Canadian syllabics, Ogham, Tifinagh, Lisu,
Braille, box drawing, technical and supplemental mathematical symbols, Yijing symbols, Old Italic,
mathematical alphanumerics, game tiles, private-use glyphs, emoji (Pango never takes emoji from DejaVu;
wording.EMOJI) and TrueType hinting (the renderer switches hinting off). A label or quote in a
dropped block prints as U+FFFD in PDFs, as one in CJK always has (wording.font_coverage reads the
shipped files, so the check follows this list); the HTML briefings keep every character. A project
that needs one of those blocks adds it to SCRIPTS and re-runs this module.

Also dropped: the legacy `kern` table and `MATH` (HarfBuzz reads GPOS when a font has one; Pango
does not lay out maths) and the glyph names (`post` format 3; PDFs do not use them). The name
table, with its copyright and licence strings, is kept; the family is still "DejaVu Sans", which
the Bitstream Vera licence allows (a modified font must not be named "Bitstream" or "Vera";
tools/fonts/LICENSE_DEJAVU). Deterministic: the head table keeps the upstream dates, so the same
upstream files give byte-identical output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from parentlink.errors import fail, run_stage
from parentlink.wording import FONT_FILES

UPSTREAM_DIR = Path("tools/fonts")  # DejaVu Sans 2.37, as released
SHIPPED_DIR = Path("workflow/fonts")

# Unicode blocks kept, (first, last) code point: see the module docstring.
SCRIPTS: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x036F),  # Latin-1, Extended-A/B, IPA, spacing modifiers, combining marks
    (0x0370, 0x03FF),  # Greek and Coptic
    (0x0400, 0x052F),  # Cyrillic and its supplement
    (0x0530, 0x058F),  # Armenian
    (0x0590, 0x05FF),  # Hebrew
    (0x0600, 0x06FF),  # Arabic (its contextual forms come with it: shaping keeps them)
    (0x0750, 0x077F),  # Arabic supplement
    (0x10A0, 0x10FF),  # Georgian
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Welsh ŵ ŷ ẁ ẃ ẅ, Vietnamese)
    (0x2000, 0x22FF),  # punctuation, currency, letter-like, number forms, arrows, maths
    (0x2460, 0x24FF),  # enclosed alphanumerics (① Ⓐ)
    (0x25A0, 0x27BF),  # geometric shapes, miscellaneous symbols, dingbats (■ ● ★ ☐ ✓ ✗)
    (0xFB00, 0xFB06),  # Latin ligatures
    (0xFFFD, 0xFFFD),  # replacement character (wording.REPLACEMENT_CHAR)
)
DROPPED_TABLES = ("kern", "MATH", "FFTM")


def kept_code_points() -> list[int]:
    return [c for first, last in SCRIPTS for c in range(first, last + 1)]


def subset_font(upstream: Path) -> bytes:
    """`upstream` cut to SCRIPTS (shaping tables kept, hinting dropped), as font file bytes."""
    import io

    from fontTools import subset
    from fontTools.ttLib import TTFont, TTLibError

    options = subset.Options()
    options.layout_features = ["*"]  # every OpenType feature of the kept glyphs
    options.name_IDs = ["*"]  # copyright, licence and version strings included
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.hinting = False
    options.drop_tables += list(DROPPED_TABLES)
    if not upstream.is_file():
        fail(f"{upstream}: upstream font not found; restore tools/fonts from the repository.")
    try:
        # recalcTimestamp off: the head table keeps the upstream dates (same bytes every run).
        font = TTFont(str(upstream), recalcTimestamp=False)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=kept_code_points())
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
    except TTLibError as err:
        fail(f"{upstream}: not a font fontTools can read ({err}); restore tools/fonts from the "
             "repository.")
    return out.getvalue()


def make_shipped_fonts(upstream_dir: Path = UPSTREAM_DIR, out_dir: Path = SHIPPED_DIR) -> None:
    """Every shipped font file (wording.FONT_FILES) from its upstream file. All are made before
    any is written: a failure leaves the shipped fonts as they were."""
    made = {name: subset_font(upstream_dir / name) for name in FONT_FILES}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in made.items():
        (out_dir / name).write_bytes(data)


def main(argv: list[str]) -> None:
    run_stage(lambda: make_shipped_fonts(*[Path(a) for a in argv[:2]]))


if __name__ == "__main__":
    main(sys.argv[1:])
