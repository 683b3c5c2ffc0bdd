"""Rule ingest: raw delivery -> results/ingest/{survey}.parquet + metadata (privacy applied)."""

from parentlink.clean import validate
from parentlink.errors import logged_stage
from parentlink.ingest import apply_privacy, read_raw, write_ingested
from parentlink.plan import load_plan
from parentlink.privacy import pseudonym_key

sm = snakemake  # type: ignore[name-defined] # noqa: F821


def main() -> None:
    plan = load_plan(sm.input.plan)
    df, meta = read_raw(sm.input.raw, plan)
    privacy = sm.params.config["privacy"]
    key = pseudonym_key(privacy, synthetic=bool(sm.params.config["study.synthetic"]))
    df = apply_privacy(df, meta, plan, key, privacy["max_text_chars"])
    validate(df, meta, plan)  # names, types and codes: fail before any output exists
    write_ingested(df, meta, sm.output.data, sm.output.meta)


logged_stage(main, sm.output, sm.log[0])
