"""Rule `facts`: results files -> results/report/facts.json (the findings of config/report.yaml)."""

# No `from __future__` import: Snakemake prepends its own preamble to scripts.
import sys
from pathlib import Path

from parentlink.errors import run_stage
from parentlink.facts import DocumentResults, SurveyResults, build_facts, write_facts

sm = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)


def main() -> None:
    cfg = sm.params.config
    inp = sm.input
    surveys = {
        name: SurveyResults(
            estimates=Path(inp[f"estimates_{name}"]), tests=Path(inp[f"tests_{name}"]),
            flow=Path(inp[f"flow_{name}"]), meta=Path(inp[f"meta_{name}"]),
            label=s.get("label") or name, weighted=bool(s["weighted"]),
            diagnostics=Path(inp[f"diagnostics_{name}"]) if s["weighted"] else None,
            audit=Path(inp[f"audit_{name}"]), fieldwork=s.get("fieldwork"))
        for name, s in cfg["surveys"].items()}
    models = {name: (Path(inp[f"model_{name}"]), m) for name, m in (cfg["models"] or {}).items()}
    parts = ("code_frequencies", "cooccurrence", "chains", "reliability")
    documents = (DocumentResults(*(Path(inp[k]) for k in parts),
                                 quotes=Path(inp["document_quotes"]))
                 if "code_frequencies" in inp.keys() else None)
    report = {"population": cfg["report.population"], "breakdowns": cfg["report.breakdowns"],
              "findings": cfg["report.findings"]}
    facts = build_facts(report=report, surveys=surveys, models=models, documents=documents,
                        documents_config={k: cfg[f"documents.{k}"] for k in
                                          ("type_labels", "contrast", "concerns_root")},
                        study=dict(cfg["study"]),
                        min_base=int(cfg["disclosure.min_base"]))
    write_facts(facts, Path(sm.output[0]))


with open(sm.log[0], "w", encoding="utf-8") as log:
    sys.stderr = log
    run_stage(main, outputs=list(sm.output))
