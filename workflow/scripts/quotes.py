"""Rule `quotes`: cleaned survey (+ weights) -> results/report/parent_quotes.json."""

# No `from __future__` import: Snakemake prepends its own preamble to scripts.
import sys
from pathlib import Path

from parentlink.comments import build_quotes
from parentlink.errors import run_stage

sm = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)


def main() -> None:
    weights = Path(sm.input.weights) if "weights" in sm.input.keys() else None
    build_quotes(data=Path(sm.input.data), meta=Path(sm.input.meta), weights=weights,
                 text=Path(sm.input.text),
                 settings=dict(sm.params.config["quotes"]), out=Path(sm.output.quotes),
                 review=Path(sm.output.review))


with open(sm.log[0], "w", encoding="utf-8") as log:
    sys.stderr = log
    run_stage(main, outputs=list(sm.output))
