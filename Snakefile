# Parental social licence for data linkage: one command rebuilds every output of the study.
# Stages: ingest -> clean -> weight -> estimate -> documents -> charts/facts -> render.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"
configfile: "config/report.yaml"


# Validated against config/schema.json (defaults filled in) in workflow/rules/common.smk.





report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/clean.smk"
include: "workflow/rules/weight.smk"
include: "workflow/rules/estimate.smk"
include: "workflow/rules/workbook.smk"
include: "workflow/rules/documents.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/synth.smk"
include: "workflow/rules/archive.smk"
include: "workflow/rules/cluster.smk"


rule all:
    input:
        all_outputs(),
    default_target: True


rule scale:
    """Scale scenario target (config/scale.yaml): ingest -> estimates for the weighted survey."""
    input:
        expand("results/tables/{survey}_estimates.csv", survey=WEIGHTED),
        expand("results/tables/{survey}_tests.csv", survey=WEIGHTED),
        expand("results/weights/{survey}_diagnostics.json", survey=WEIGHTED),
