# Deposit bundle: `make archive` -> results/archive/<name>-<version>.zip (code at the built commit,
# config, redistributable inputs, results, reports, Snakemake report, lock + wheels, environment,
# manifest, CITATION.cff, .zenodo.json, RO-Crate). Not part of `rule all`. See docs/archive.md.
import subprocess as _subprocess
import tomllib as _tomllib
from importlib import metadata as _metadata

try:
    with open("pyproject.toml", "rb") as _f:
        _PROJECT = _tomllib.load(_f)["project"]
except FileNotFoundError:  # a copy of the workflow without the package source
    _PROJECT = {"name": "parentlink", "version": _metadata.version("parentlink")}
ARCHIVE_ZIP = f"results/archive/{_PROJECT['name']}-{_PROJECT['version']}.zip"


localrules:
    archive,


rule archive:
    """Deposit bundle that rebuilds the same bytes offline (verify: `make verify-archive`)."""
    input:
        outputs=all_outputs(),
        lock="env/requirements.lock",
        config="config/config.yaml",
        code=code_inputs("archive.py"),
    output:
        ARCHIVE_ZIP,
    log:
        "logs/archive.log",
    params:
        # The commit the bundle holds: a new commit re-makes the bundle. Evaluated only when the
        # archive job is in the DAG, so ordinary runs never call git.
        commit=lambda wc: _subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or "no-git",
        wheel_cache=".cache/wheels",
        # The bundle's plan reads the whole config (which inputs are redistributable, titles).
        config=uses("study", "surveys", "documents", "weighting", "quotes.survey"),
        build_epoch=BUILD_EPOCH,
    script:
        "../scripts/archive.py"
