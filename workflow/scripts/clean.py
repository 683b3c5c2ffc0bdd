"""Rule clean: ingested data + plan -> results/clean/{survey}.parquet, _meta.json, _flow.csv."""

import json

import pandas as pd

from parentlink import codebook
from parentlink.clean import clean, write_cleaned
from parentlink.errors import run_stage
from parentlink.plan import load_plan
from parentlink.spss import write_labelled

sm = snakemake  # type: ignore[name-defined] # noqa: F821


def main() -> None:
    plan = load_plan(sm.input.plan)
    raw_meta = json.loads(open(sm.input.meta, encoding="utf-8").read())
    cleaned = clean(pd.read_parquet(sm.input.data), raw_meta, plan, sm.params.weighted)
    write_cleaned(cleaned, sm.output.data, sm.output.meta, sm.output.flow)
    write_labelled(cleaned.data, cleaned.meta, sm.output.sav)
    book = codebook.build(cleaned.data, cleaned.meta)
    codebook.write(book, cleaned.meta["survey"], len(cleaned.data), sm.output.codebook_csv, sm.output.codebook_html)


run_stage(main, outputs=sm.output)
