"""Rule ingest: raw delivery -> results/ingest/{survey}.parquet + metadata (privacy applied); the
redacted open text apart, in a temporary file for the clean stage."""

from parentlink.clean import validate
from parentlink.errors import logged_stage
from parentlink.ingest import apply_privacy, read_raw, text_apart, write_ingested
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
    data, text = text_apart(df, meta, keep=bool(plan.get("text_in_clean", False)))
    write_ingested(data, meta, sm.output.data, sm.output.meta)
    text.to_parquet(sm.output.text, index=False)  # temporary: read by the clean stage only


logged_stage(main, sm.output, sm.log[0])
