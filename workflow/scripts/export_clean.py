"""Rule export_clean: cleaned parquet + metadata -> labelled .sav and the codebook (CSV, HTML)."""

import json
import os

import pandas as pd

from parentlink import codebook
from parentlink.errors import logged_stage
from parentlink.spss import write_labelled

sm = snakemake  # type: ignore[name-defined] # noqa: F821


def main() -> None:
    os.environ["SOURCE_DATE_EPOCH"] = str(sm.params.build_epoch)
    data = pd.read_parquet(sm.input.data)
    meta = json.loads(open(sm.input.meta, encoding="utf-8").read())
    write_labelled(data, meta, sm.output.sav)
    # The codebook lists the open-text variables kept apart too (how many answered).
    text = pd.read_parquet(sm.input.text)
    apart = text[["respondent_id", *(c for c in text.columns if c not in data.columns)]]
    listed = data.merge(apart, on="respondent_id", how="left", validate="one_to_one")
    book = codebook.protect(codebook.build(listed, meta), len(data),
                            int(sm.params.config["disclosure.min_cell"]))
    codebook.write(book, meta["survey"], len(data), sm.output.codebook_csv, sm.output.codebook_html)


logged_stage(main, sm.output, sm.log[0])
