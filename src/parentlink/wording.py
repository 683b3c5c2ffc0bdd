"""How figures are printed in prose, charts and tables, and loading facts.json.

Kept free of pandas and matplotlib: a briefing's render job imports only this module, jinja2 and
WeasyPrint, which saves about 0.3 s per job (see bench/bench_render.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parentlink.errors import fail

SUPPRESSION_MARK = "[c]"


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


def load_facts(path: Path) -> dict[str, Any]:
    if not path.is_file():
        fail(f"{path}: facts file not found; run the 'facts' rule first.")
    return dict(json.loads(path.read_text(encoding="utf-8")))
