"""Rule `workbook`: estimates CSV + clean meta -> results/tables/{survey}_tables.xlsx."""

# No `from __future__` import: Snakemake prepends its own preamble to scripts.
import logging
from pathlib import Path

from parentlink.errors import run_stage
from parentlink.workbook import Context, write_workbook

sm = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)


def main() -> None:
    logging.basicConfig(filename=sm.log[0], level=logging.INFO, force=True)
    survey = sm.wildcards.survey
    disclosure = dict(sm.params.disclosure)
    ctx = Context(
        survey=survey,
        survey_label=str(sm.params.survey_label),
        weighted=bool(sm.params.weighted),
        study=dict(sm.params.study),
        min_base=int(disclosure.get("min_base", 50)),
        min_cell=int(disclosure.get("min_cell", 10)),
        suppress_zeros=bool(disclosure.get("suppress_zeros", False)),
        margins=[Path(t).stem for t in sm.params.targets],
        estimates_name=str(sm.input.estimates),
    )
    write_workbook(sm.input.estimates, sm.input.meta, sm.output[0], ctx)
    logging.info("%s: wrote %s", survey, sm.output[0])


run_stage(main, outputs=list(sm.output))
