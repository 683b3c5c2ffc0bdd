# Helpers shared by all rules. Kept cheap to load: every cluster job re-parses the Snakefile.
import os
import subprocess

import parentlink
from snakemake.exceptions import WorkflowError

SURVEYS = sorted(config["surveys"])
AUDIENCES = ["local_authorities", "national_policy", "parents"]


wildcard_constraints:
    survey="|".join(SURVEYS),
    audience="|".join(AUDIENCES),


def code_version():
    """The code version printed in the reports: pinned by the archive, else `git describe`."""
    pinned = os.environ.get("PARENTLINK_CODE_VERSION")
    if pinned:
        return pinned
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--tags", "--dirty"],
            cwd=workflow.basedir,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "no git checkout"


# Both go into the reports and are passed as params, so a new commit re-renders the documents.
CODE_VERSION = code_version()
BUILD_EPOCH = os.environ.get("SOURCE_DATE_EPOCH", str(parentlink.FALLBACK_SOURCE_DATE_EPOCH))


if config["quotes"]["survey"] not in config["surveys"]:
    raise WorkflowError(
        f"config/config.yaml: quotes.survey '{config['quotes']['survey']}' is not one of the "
        f"surveys ({', '.join(SURVEYS)}); set it to one of them."
    )


def quotes_inputs(wildcards):
    """Clean data and meta of the quoted survey, and its weights if it is the weighted one."""
    s = config["quotes"]["survey"]
    inputs = {"data": f"results/clean/{s}.parquet", "meta": f"results/clean/{s}_meta.json"}
    if s == config["weighting"]["survey"]:
        inputs["weights"] = f"results/weights/{s}_weights.csv"
    return inputs


def all_outputs():
    """The output contract (docs/data-contract.md)."""
    outs = []
    for s in SURVEYS:
        outs += [
            f"results/clean/{s}.parquet",
            f"results/clean/{s}_flow.csv",
            f"results/tables/{s}_estimates.csv",
            f"results/tables/{s}_tests.csv",
            f"results/tables/{s}_tables.xlsx",
            f"results/codebook/{s}.html",
            f"results/clean/{s}.sav",
        ]
    outs += [
        "results/weights/main_weights.csv",
        "results/weights/main_diagnostics.json",
        "results/models/main_social_licence_glm.csv",
        "results/documents/code_frequencies.csv",
        "reports/technical_report.pdf",
    ]
    outs += [f"reports/briefings/{a}.pdf" for a in AUDIENCES]
    return outs


def estimate_inputs(wildcards):
    """Clean data and meta; weighted surveys also need the weights and the raking margins."""
    s = wildcards.survey
    inputs = {"data": f"results/clean/{s}.parquet", "meta": f"results/clean/{s}_meta.json"}
    if config["surveys"][s].get("weighted", False):
        inputs["weights"] = "results/weights/main_weights.csv"
        inputs["targets"] = config["weighting"]["targets"]
    return inputs


def report_inputs():
    """Files whose SHA-256 the technical report lists: raw data, config and margins."""
    raws = [config["surveys"][s]["raw"] for s in SURVEYS]
    return (
        raws
        + [config["documents"]["source"], "config/config.yaml"]
        + list(config["weighting"]["targets"])
    )
