"""WCAG 2.2 contrast checks for the colours the documents and charts use.

Text needs a contrast ratio of at least 4.5:1 with its background (success criterion 1.4.3,
level AA); bars and other graphics that carry meaning need 3:1 (1.4.11). The ratio is WCAG's:
(L1 + 0.05) / (L2 + 0.05) of the relative luminances of the lighter and the darker colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEXT_MIN = 4.5
GRAPHIC_MIN = 3.0
PAGE = "#ffffff"

_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_NAMED = {"white": "#ffffff", "black": "#000000"}


def _expand(colour: str) -> str:
    colour = _NAMED.get(colour.strip().lower(), colour.strip())
    if not _HEX.fullmatch(colour):
        raise ValueError(f"not a hex colour: {colour!r}")
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return "#" + digits.lower()


def luminance(colour: str) -> float:
    """WCAG relative luminance of an sRGB colour given as #rrggbb or #rgb."""
    digits = _expand(colour)[1:]
    channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio, from 1 (same colour) to 21 (black on white); symmetric."""
    hi, lo = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@dataclass(frozen=True)
class TextColour:
    selector: str
    foreground: str
    background: str
    ratio: float


def css_text_colours(css: str, page: str = PAGE) -> list[TextColour]:
    """Every rule of a stylesheet that sets a text `color`, with the background it sets itself
    (`background` or `background-color`), or the page's when it sets none. Comments and
    at-rule wrappers (`@page`, `@media`) are read through; `color` values that are not hex
    colours (inherit, currentColor) are skipped."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"\{#.*?#\}", "", css, flags=re.S)  # Jinja comments in included templates
    found = []
    for selector, body in _RULE.findall(css):
        decl = {}
        for part in body.split(";"):
            if ":" in part:
                key, value = part.split(":", 1)
                decl[key.strip().lower()] = value.strip()
        fg = decl.get("color")
        if fg is None:
            continue
        try:
            fg = _expand(fg)
        except ValueError:
            continue
        bg_value = decl.get("background-color") or decl.get("background") or page
        match = _HEX.search(bg_value) or (
            _HEX.search(_NAMED.get(bg_value.strip().lower(), "")) if bg_value else None)
        bg = _expand(match.group(0)) if match else _expand(page)
        sel = " ".join(selector.split()).split("@")[-1].strip()
        found.append(TextColour(sel, fg, bg, contrast(fg, bg)))
    return found
