"""Rules `render_briefing`, `technical_report` and `appendix`: facts, charts and tables -> PDF
(and HTML); the appendix from its estimates, codebook and config alone."""

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


def _by_survey(prefix):
    """{survey: path} of the inputs named <prefix>_<survey> (workflow/rules/common.smk)."""
    return {k[len(prefix) + 1:]: Path(v) for k, v in sm.input.items()
            if k.startswith(prefix + "_")}


def _version():
    """The code version the technical report and the appendices print."""
    return f"{sm.params.code_version} (parentlink {render.__version__})"


def main() -> None:
    os.environ["SOURCE_DATE_EPOCH"] = str(sm.params.build_epoch)
    cfg = sm.params.config
    project = Path.cwd()
    dirs = {
        "templates_dir": Path(sm.input.template).parent,
        "engine_dir": Path(sm.input.shared[0]).parent,  # base.html: the engine's templates
        "fonts_dir": Path(sm.input.fonts[0]).parent,
        "results_dir": project / "results",
        "out_pdf": Path(sm.output.pdf),
    }
    if sm.rule == "appendix":
        # From the config, not facts.json: the appendix starts as soon as the estimates exist.
        survey = sm.wildcards.survey
        render.render_appendix(
            survey=survey,
            survey_label=cfg[f"surveys.{survey}.label"] or survey,
            weighted=bool(cfg[f"surveys.{survey}.weighted"]),
            population=str(cfg["report.population"]),
            min_base=int(cfg["disclosure.min_base"]),
            study=dict(cfg["study"]),
            estimates=Path(sm.input.estimates), codebook=Path(sm.input.codebook),
            version=_version(), min_cell=int(cfg["disclosure.min_cell"]), **dirs,
        )
        return
    common = {
        "facts": load_facts(Path(sm.input.facts)),
        "alt_text": (json.loads(Path(sm.input.alt).read_text(encoding="utf-8"))
                     if "alt" in sm.input.keys() else {}),
        "quotes": (json.loads(Path(sm.input.quotes).read_text(encoding="utf-8"))
                   if "quotes" in sm.input.keys() else {"quotes": []}),
        "study": dict(cfg["study"]),
        **dirs,
    }
    if sm.rule == "technical_report":
        estimates, flows = _by_survey("estimates"), _by_survey("flow")
        diagnostics = _by_survey("diagnostics")
        docs = sm.input.code_frequencies if "code_frequencies" in sm.input.keys() else None
        render.render_technical_report(
            **common,
            flows=flows,
            diagnostics=diagnostics,
            code_frequencies=Path(docs) if docs else None,
            # Raw data and config, plus every results file the report reads.
            hashed_inputs=[Path(p) for p in [*sm.input.hashed, *estimates.values(),
                                             *flows.values(), *diagnostics.values(),
                                             *([docs] if docs else []),
                                             *([sm.input.quotes] if "quotes" in sm.input.keys()
                                               else [])]],
            project_root=project,
            appendices=[f"reports/appendix/{s}_tables.pdf" for s in sorted(estimates)],
            min_cell=int(cfg["disclosure.min_cell"]),
            version=_version(),
        )
    else:
        audience = sm.wildcards.audience
        audiences = {name: cfg[f"report.documents.{name}.audience"]
                     for name in sm.params.audiences}
        render.render_briefing(audience=audience, out_html=Path(sm.output.html),
                               document=cfg[f"report.documents.{audience}"],
                               audiences=audiences, surveys=list(sm.params.surveys), **common)


with open(sm.log[0], "w", encoding="utf-8") as log:
    sys.stderr = log
    logging.basicConfig(stream=log, level=logging.WARNING)
    run_stage(main, outputs=list(sm.output))
