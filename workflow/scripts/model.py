"""Rule `model`: a survey-weighted logistic regression named in config `models`."""


import json
import logging
from pathlib import Path

from parentlink.errors import run_stage
from parentlink.estimate import GLM_COLUMNS, fit_model, glm_table, load_design, write_csv

snakemake = globals()["snakemake"]


def main() -> None:
    logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True)
    meta = json.loads(Path(snakemake.input.meta).read_text(encoding="utf-8"))
    cfg = snakemake.params.config
    survey = snakemake.wildcards.survey
    weighted = "weights" in snakemake.input.keys()
    data, design = load_design(
        snakemake.input.data,
        snakemake.input.weights if weighted else None,
        list(snakemake.input.targets) if weighted else [],
        design=cfg[f"surveys.{survey}.design"], calibration=cfg["weighting"],
    )
    model = cfg[f"models.{snakemake.wildcards.model}"]
    fit = fit_model(data, meta, design, model["outcome"], model["predictors"])
    write_csv(glm_table(fit)[[*GLM_COLUMNS, "label"]], snakemake.output[0])
    logging.info("model on %d complete cases, df %d, design %s", fit.n, fit.df, design.label)


run_stage(main, outputs=[snakemake.output[0]])
