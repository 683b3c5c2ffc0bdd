"""Rule `facts`: results files -> results/report/facts.json."""

# No `from __future__` import: Snakemake prepends its own preamble to scripts.
import sys
from pathlib import Path

from parentlink.errors import run_stage
from parentlink.facts import build_facts, write_facts

sm = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)


def main() -> None:
    inp = {k: Path(sm.input[k]) for k in ("main_estimates", "pilot_estimates", "main_flow",
                                           "pilot_flow", "diagnostics", "code_frequencies",
                                           "cooccurrence", "chains", "reliability",
                                           "main_tests", "model", "main_meta")}
    cfg = sm.params.config
    facts = build_facts(**inp, study=dict(cfg["study"]), min_base=int(cfg["disclosure.min_base"]))
    write_facts(facts, Path(sm.output[0]))


with open(sm.log[0], "w", encoding="utf-8") as log:
    sys.stderr = log
    run_stage(main, outputs=list(sm.output))
