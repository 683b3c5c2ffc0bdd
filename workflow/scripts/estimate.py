"""Rule `estimate`: domain proportions (with disclosure control) and Rao–Scott tests."""


import json
import logging
from pathlib import Path

from parentlink.disclosure import suppress
from parentlink.errors import run_stage
from parentlink.estimate import (
    ESTIMATE_COLUMNS,
    estimate_table,
    load_design,
    tests_table,
    write_csv,
)

snakemake = globals()["snakemake"]


def main() -> None:
    logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True)
    survey = snakemake.wildcards.survey
    cfg = snakemake.params.config
    analysis = cfg[f"analysis.{survey}"]
    meta = json.loads(Path(snakemake.input.meta).read_text(encoding="utf-8"))
    weighted = bool(cfg[f"surveys.{survey}.weighted"])
    data, design = load_design(
        snakemake.input.data,
        snakemake.input.weights if weighted else None,
        list(snakemake.input.targets) if weighted else [],
        design=cfg[f"surveys.{survey}.design"],
        calibration=cfg["weighting"],
    )
    items, breakdowns = analysis["items"], analysis["breakdowns"]
    table = estimate_table(data, meta, design, items, breakdowns, survey)
    disc = cfg["disclosure"]
    table = suppress(table, int(disc["min_base"]), int(disc["min_cell"]),
                     suppress_zeros=bool(disc["suppress_zeros"]))
    write_csv(table[ESTIMATE_COLUMNS], snakemake.output.estimates)
    write_csv(tests_table(data, meta, design, items, breakdowns, survey), snakemake.output.tests)
    logging.info("%s: %d estimates (%d suppressed), design %s", survey, len(table),
                 int(table["suppressed"].sum()), design.label)


run_stage(main, outputs=[snakemake.output.estimates, snakemake.output.tests])
