"""Rule `weight`: rake the design weight to the margins; write weights CSV and diagnostics JSON."""


import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from parentlink.csvio import neutralise
from parentlink.errors import fail, run_stage
from parentlink.weight import calibrate, diagnostics, rake, read_margin_files

snakemake = globals()["snakemake"]


def main() -> None:
    logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True)
    params = snakemake.params.config
    cfg = {k.split(".", 1)[1]: v for k, v in params.items()}  # "weighting.trim" -> "trim"
    data = pd.read_parquet(snakemake.input.data)
    margins = read_margin_files(list(snakemake.input.targets))
    trim = cfg["trim"]
    if cfg["method"] == "rake_trim":
        result = rake(
            data, margins, cfg["design_weight"],
            tolerance=float(cfg["tolerance"]),
            max_iterations=int(cfg["max_iterations"]),
            trim=(float(trim["lower"]), float(trim["upper"])) if trim else None,
        )
    else:
        if trim:
            fail("weighting.trim is the trim-and-re-rake loop of method rake_trim; with method "
                 "calibrate use weighting.trim_weights (R trimWeights) or bounds, or set "
                 "weighting.method: rake_trim.")
        bounds, tw = cfg["bounds"], cfg["trim_weights"]
        result = calibrate(
            data, margins, cfg["design_weight"], calfun=cfg["calfun"],
            bounds=(float(bounds["lower"]), float(bounds["upper"])) if bounds
            else (-np.inf, np.inf),
            tolerance=float(cfg["tolerance"]), max_iterations=int(cfg["max_iterations"]),
            trim_weights=(float(tw["lower"]), float(tw["upper"]), bool(tw["strict"])) if tw
            else None,
        )
    calibrated = result.weights if result.calibrated is None else result.calibrated
    out = pd.DataFrame({
        "respondent_id": data["respondent_id"].astype(str),
        "design_weight": data[cfg["design_weight"]].astype(float),
        "final_weight": result.weights,
        "calibration_weight": calibrated,
    }).sort_values("respondent_id", kind="mergesort")
    Path(snakemake.output.weights).parent.mkdir(parents=True, exist_ok=True)
    # floats written with repr precision (shortest round-trip)
    neutralise(out).to_csv(snakemake.output.weights, index=False, lineterminator="\n")
    diag = diagnostics(data, margins, result)
    Path(snakemake.output.diagnostics).write_text(
        json.dumps(diag, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    logging.info("raked %d rows in %d iterations; trimmed %d", diag["n"], diag["iterations"],
                 diag["trimmed"])


run_stage(main, outputs=[snakemake.output.weights, snakemake.output.diagnostics])
