"""Rules `render_briefing` and `technical_report`: facts, charts and tables -> PDF (and HTML)."""

# No `from __future__` import: Snakemake prepends its own preamble to scripts.
import json
import logging
import os
import sys
from pathlib import Path

from parentlink import render
from parentlink.errors import run_stage
from parentlink.wording import load_facts

sm = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)


def main() -> None:
    os.environ["SOURCE_DATE_EPOCH"] = str(sm.params.build_epoch)
    cfg = sm.params.config
    project = Path.cwd()
    common = {
        "facts": load_facts(Path(sm.input.facts)),
        "alt_text": json.loads(Path(sm.input.alt).read_text(encoding="utf-8")),
        "quotes": json.loads(Path(sm.input.quotes).read_text(encoding="utf-8")),
        "study": dict(cfg["study"]),
        "templates_dir": Path(sm.input.template).parent,
        "fonts_dir": Path(sm.input.fonts[0]).parent,
        "results_dir": project / "results",
        "out_pdf": Path(sm.output.pdf),
    }
    if sm.rule == "technical_report":
        render.render_technical_report(
            **common,
            estimates={"main": Path(sm.input.main_estimates),
                       "pilot": Path(sm.input.pilot_estimates)},
            flows={"main": Path(sm.input.main_flow), "pilot": Path(sm.input.pilot_flow)},
            diagnostics=Path(sm.input.diagnostics),
            code_frequencies=Path(sm.input.code_frequencies),
            # Raw data and config, plus every results file the report reads.
            hashed_inputs=[Path(p) for p in [*sm.input.hashed, sm.input.main_estimates,
                                             sm.input.pilot_estimates, sm.input.main_flow,
                                             sm.input.pilot_flow, sm.input.diagnostics,
                                             sm.input.code_frequencies, sm.input.quotes]],
            project_root=project,
            codebooks={Path(p).stem: Path(p) for p in sm.input.codebooks},
            min_cell=int(cfg["disclosure.min_cell"]),
            version=f"{sm.params.code_version} (parentlink {render.__version__})",
        )
    else:
        render.render_briefing(audience=sm.wildcards.audience, out_html=Path(sm.output.html),
                               **common)


with open(sm.log[0], "w", encoding="utf-8") as log:
    sys.stderr = log
    logging.basicConfig(stream=log, level=logging.WARNING)
    run_stage(main, outputs=list(sm.output))
