"""Rule `estimate`: domain proportions (with disclosure control and its audit), Rao–Scott tests
and means/totals of numeric variables."""


import json
import logging
from pathlib import Path

from parentlink.csvio import read_csv
from parentlink.disclosure import (
    audit,
    audit_summary,
    codebook_exposure,
    exposed,
    outside_base_exposure,
    protect,
    protect_means,
    withhold_tests,
)
from parentlink.errors import fail, run_stage
from parentlink.estimate import (
    ESTIMATE_COLUMNS,
    estimates_and_tests,
    load_design,
    means_table,
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
    table, tests = estimates_and_tests(data, meta, design, items, breakdowns, survey,
                                       all_label=f"All {cfg['report.population']}")
    disc = cfg["disclosure"]
    min_base, min_cell, zeros = int(disc["min_base"]), int(disc["min_cell"]), \
        bool(disc["suppress_zeros"])
    table = protect(table, min_base, min_cell, suppress_zeros=zeros)
    result = audit(table, min_cell, suppress_zeros=zeros, required_only=True)
    tests = withhold_tests(tests, table)
    means = protect_means(means_table(data, meta, design, analysis["means"], breakdowns, survey,
                                      min_base, all_label=f"All {cfg['report.population']}"),
                          min_base)
    for r in result[~result["protected"]].itertuples():
        logging.info("exposed: %s %s=%s category %s in [%.4f, %.4f], needs %.4f", r.variable,
                     r.group_variable, r.group_code, r.category_code, r.share_low, r.share_high,
                     r.required)
    exposed(result, snakemake.output.estimates)
    codebook = read_csv(snakemake.input.codebook)
    problems = codebook_exposure(table, codebook, min_cell, weighted)
    if problems:
        fail(f"{snakemake.input.codebook} with {snakemake.output.estimates}: {problems[0]} "
             f"({len(problems)} such count(s)); merge that item's small categories in the plan "
             f"or raise disclosure.min_cell.")
    for note in outside_base_exposure(table, codebook, min_cell):
        logging.info("not protected (docs/privacy.md): %s", note)
    write_csv(table[ESTIMATE_COLUMNS], snakemake.output.estimates)
    write_csv(tests, snakemake.output.tests)
    write_csv(means, snakemake.output.means)
    write_csv(audit_summary(table, result, tests, survey, min_base, min_cell),
              snakemake.output.audit)
    logging.info("%s: %d estimates (%d suppressed), %d primary hidden shares audited, %d tests "
                 "withheld, %d means (%d suppressed), design %s", survey, len(table),
                 int(table["suppressed"].sum()), len(result), int((tests["withheld"] != "").sum()),
                 len(means), int(means["suppressed"].sum()), design.label)


run_stage(main, outputs=[snakemake.output.estimates, snakemake.output.tests,
                         snakemake.output.means, snakemake.output.audit])
