"""Rule clean: ingested data + plan -> results/clean/{survey}.parquet, _meta.json, _flow.csv and
the open text apart, _text.parquet."""

import json

import pandas as pd

from parentlink.clean import clean, write_cleaned
from parentlink.errors import logged_stage
from parentlink.ingest import rejoin_text
from parentlink.plan import load_plan

sm = snakemake  # type: ignore[name-defined] # noqa: F821


def main() -> None:
    plan = load_plan(sm.input.plan)
    raw_meta = json.loads(open(sm.input.meta, encoding="utf-8").read())
    data = rejoin_text(pd.read_parquet(sm.input.data), pd.read_parquet(sm.input.text))
    cleaned = clean(data, raw_meta, plan,
                    bool(sm.params.config[f"surveys.{sm.wildcards.survey}.weighted"]))
    write_cleaned(cleaned, sm.output.data, sm.output.meta, sm.output.flow, text=sm.output.text,
                  keep_text=bool(plan.get("text_in_clean", False)))


logged_stage(main, sm.output, sm.log[0])
