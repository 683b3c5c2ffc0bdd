"""Rule export_clean: cleaned parquet + metadata -> labelled .sav and the codebook (CSV, HTML)."""

import json
import os

import pandas as pd

from parentlink import codebook
from parentlink.design import spec_from_config
from parentlink.errors import logged_stage
from parentlink.spss import with_final_weight, with_final_weight_meta, write_labelled
from parentlink.weights_file import read_weights

sm = snakemake  # type: ignore[name-defined] # noqa: F821


def main() -> None:
    os.environ["SOURCE_DATE_EPOCH"] = str(sm.params.build_epoch)
    data = pd.read_parquet(sm.input.data)
    meta = json.loads(open(sm.input.meta, encoding="utf-8").read())
    cfg = sm.params.config
    spec = spec_from_config(cfg[f"surveys.{sm.wildcards.survey}.design"])
    published, book_meta = data, meta
    if sm.input.weights:
        weights = read_weights(sm.input.weights[0])["final_weight"]
        published = with_final_weight(data, weights, sm.input.weights[0])
        book_meta = with_final_weight_meta(meta)
    write_labelled(published, meta, sm.output.sav, synthetic=bool(cfg["study.synthetic"]),
                   design_variables=[*spec.ids, *([spec.strata] if spec.strata else []), *spec.fpc])
    # The codebook lists the open-text variables kept apart too (how many answered).
    text = pd.read_parquet(sm.input.text)
    apart = text[["respondent_id", *(c for c in text.columns if c not in data.columns)]]
    listed = published.merge(apart, on="respondent_id", how="left", validate="one_to_one")
    book = codebook.protect(codebook.build(listed, book_meta), len(data),
                            int(sm.params.config["disclosure.min_cell"]))
    codebook.write(book, meta["survey"], len(data), sm.output.codebook_csv, sm.output.codebook_html,
                   synthetic=bool(cfg["study.synthetic"]))


logged_stage(main, sm.output, sm.log[0])
