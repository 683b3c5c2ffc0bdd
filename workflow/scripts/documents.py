"""Rule `documents`: summarise the coded documents (code frequencies, co-occurrence, problem ->
solution chains, intercoder reliability, exemplar quotes). Logic lives in parentlink.documents."""

# No `from __future__ import annotations`: Snakemake prepends its own preamble to this file,
# so a __future__ import would not be the first statement (SyntaxError).
from typing import Any

from parentlink.documents import write_outputs
from parentlink.errors import run_stage
from parentlink.qdpx import ReadOptions, read_codes

# Snakemake injects `snakemake` into this module's globals; fetch it so linters see a name.
snakemake: Any = globals()["snakemake"]

OUTPUTS = ("code_frequencies", "cooccurrence", "chains", "reliability", "quotes", "segments")


def main() -> None:
    cfg = snakemake.params.config
    options = ReadOptions.from_config(
        cfg["documents.external_sources"],
        cfg["documents.max_file_mb"],
        cfg["documents.max_total_mb"],
        cfg["documents.position_unit"],
    )
    project = read_codes(snakemake.input.source, options)
    write_outputs(
        project,
        {name: snakemake.output[name] for name in OUTPUTS},
        synthetic=bool(cfg["study.synthetic"]),
        problem_root=cfg["documents.problem_root"],
        solution_root=cfg["documents.solution_root"],
    )
    with open(snakemake.log[0], "w", encoding="utf-8") as log:
        log.write(
            f"read {snakemake.input.source}: {len(project.documents)} documents, "
            f"{len(project.segments)} coded segments, coders {', '.join(project.coders)}\n"
            f"{project.reading.summary()}\n"
        )


run_stage(main, outputs=list(snakemake.output))
