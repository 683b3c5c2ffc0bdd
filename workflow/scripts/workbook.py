"""Rule `workbook`: estimates CSV + clean meta -> results/tables/{survey}_tables.xlsx."""

# No `from __future__` import: Snakemake prepends its own preamble to scripts.
import logging
import os
from pathlib import Path

from parentlink.errors import run_stage
from parentlink.workbook import Context, Extras, finding_surveys, write_workbook

sm = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)


def main() -> None:
    logging.basicConfig(filename=sm.log[0], level=logging.INFO, force=True)
    os.environ["SOURCE_DATE_EPOCH"] = str(sm.params.build_epoch)
    survey = sm.wildcards.survey
    cfg = sm.params.config
    disclosure = dict(cfg["disclosure"])
    ctx = Context(
        survey=survey,
        survey_label=str(cfg[f"surveys.{survey}.label"] or survey),
        weighted=bool(cfg[f"surveys.{survey}.weighted"]),
        study=dict(cfg["study"]),
        min_base=int(disclosure["min_base"]),
        min_cell=int(disclosure["min_cell"]),
        suppress_zeros=bool(disclosure["suppress_zeros"]),
        margins=[Path(t).stem for t in cfg["weighting.targets"] or []],
        population=str(cfg["report.population"]),
        estimates_name=str(sm.input.estimates),
        contact=str(cfg["study"].get("contact") or ""),
        next_update=str(cfg["study"].get("next_update") or ""),
        language=str(cfg["study"].get("language") or "en-GB"),
    )
    models = {name: path for name, path in sm.input.items() if name.startswith("model_")}
    extras = Extras(
        tests=sm.input.tests,
        models={name.removeprefix("model_"): path for name, path in models.items()},
        diagnostics=getattr(sm.input, "diagnostics", None),
        facts=sm.input.facts,
        means=getattr(sm.input, "means", None),
        finding_surveys=finding_surveys(cfg["report.findings"], cfg["models"] or {}),
    )
    write_workbook(sm.input.estimates, sm.input.meta, sm.output[0], ctx, extras)
    logging.info("%s: wrote %s", survey, sm.output[0])


run_stage(main, outputs=list(sm.output))
