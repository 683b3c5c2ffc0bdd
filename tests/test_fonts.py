"""fonts.py: the shipped fonts are the documented cut of the upstream DejaVu files, and draw every
kept character exactly as upstream does."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from parentlink import fonts as F
from parentlink.errors import UserError
from parentlink.wording import FONT_FILES, font_coverage

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT / F.UPSTREAM_DIR
SHIPPED = ROOT / F.SHIPPED_DIR


def test_shipped_fonts_are_remade_byte_for_byte_from_upstream(tmp_path: Path) -> None:
    """Anyone can check (and redo) the cut: the module makes the committed files again."""
    F.make_shipped_fonts(UPSTREAM, tmp_path)
    for name in FONT_FILES:
        assert (tmp_path / name).read_bytes() == (SHIPPED / name).read_bytes(), name
    assert (UPSTREAM / "LICENSE_DEJAVU").read_bytes() == (SHIPPED / "LICENSE_DEJAVU").read_bytes()


def test_every_kept_character_has_the_upstream_glyph_and_width() -> None:
    """Same outline and advance width per kept character, and the shaping tables kept: Pango
    lays out every word where the full font put it (checked on the documents when this was
    introduced: pdftotext -bbox identical, page images identical)."""
    for name in FONT_FILES:
        up, cut = TTFont(UPSTREAM / name), TTFont(SHIPPED / name)
        up_map, cut_map = up.getBestCmap(), cut.getBestCmap()
        kept = set(F.kept_code_points()) & set(up_map)
        assert set(cut_map) == kept, name
        for c in sorted(kept):
            g_up, g_cut = up_map[c], cut_map[c]
            assert up["hmtx"][g_up][0] == cut["hmtx"][g_cut][0], (name, hex(c))
            assert (up["glyf"][g_up].getCoordinates(up["glyf"])[0]
                    == cut["glyf"][g_cut].getCoordinates(cut["glyf"])[0]), (name, hex(c))
        for table in ("GSUB", "GPOS", "GDEF", "name"):
            assert table in cut, (name, table)
        assert str(cut["name"].getDebugName(1)) == "DejaVu Sans"
        assert "Bitstream" in str(cut["name"].getDebugName(0))  # copyright notice kept


def test_coverage_keeps_what_a_uk_survey_writes_and_drops_the_rest() -> None:
    cov = font_coverage(SHIPPED)
    for text in ("Ŵŵ Ŷŷ ẁẃẅ ỳ", "Łódź Şişli Ærø", "€£¥ № ™ ½ ≤ ≥ ± × → ✓ ★ ①", "Ελλάδα", "Україна",
                 "العربية", "עברית", "Հայերեն", "ქართული", "\ufffd"):
        assert all(ord(c) in cov for c in text.replace(" ", "")), text
    assert not {0x2800, 0x1401, 0x0E81, 0x2500} & cov  # Braille, Canadian syllabics, Lao, box


def test_a_missing_upstream_font_is_one_error_and_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / FONT_FILES[0]).write_bytes(b"old")
    up = tmp_path / "up"
    up.mkdir()
    (up / FONT_FILES[0]).write_bytes((UPSTREAM / FONT_FILES[0]).read_bytes())
    with pytest.raises(UserError, match=rf"{FONT_FILES[1]}: upstream font not found; restore "
                                        r"tools/fonts"):
        F.make_shipped_fonts(up, out)
    (up / FONT_FILES[1]).write_bytes(b"not a font")
    with pytest.raises(UserError, match=rf"{FONT_FILES[1]}: not a font fontTools can read"):
        F.make_shipped_fonts(up, out)
    assert (out / FONT_FILES[0]).read_bytes() == b"old"
    assert sorted(p.name for p in out.iterdir()) == [FONT_FILES[0]]
