"""Rule `charts`: facts.json -> results/figures/*.svg and alt_text.json."""

# No `from __future__` import: Snakemake prepends its own preamble to scripts.
import sys
from pathlib import Path

from parentlink.charts import make_charts
from parentlink.errors import run_stage
from parentlink.wording import load_facts

sm = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)


def main() -> None:
    out_dir = Path(sm.output.svg[0]).parent
    make_charts(load_facts(Path(sm.input.facts)), sm.params.config["report.charts"], out_dir,
                Path(sm.input.fonts[0]).parent, Path(sm.output.alt))


with open(sm.log[0], "w", encoding="utf-8") as log:
    sys.stderr = log
    run_stage(main, outputs=list(sm.output))
