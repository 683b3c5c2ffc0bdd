# Helpers shared by all rules. Kept cheap to load: every cluster job re-parses the Snakefile.
#
# Dependencies are complete (tests/test_dependencies.py checks it). Each step declares
#   * as input, the package modules its script imports, transitively (code_inputs);
#   * as params, every config value it reads (uses), so that changing one re-runs exactly the steps
#     that read it (scripts never read snakemake.config);
#   * as input, every file the config names (raw files, plans, margins, document codings).
import hashlib
import json
import os
import sys
from pathlib import Path

import parentlink
from parentlink import buildinfo
from parentlink.config import check_study, load_schema, prepare
from parentlink.deps import module_files
from parentlink.errors import UserError

# The engine (this repository) and the study (the working directory) may be apart: a study folder
# such as examples/schools is built with `--directory` (or `make STUDY=...`), and every engine file
# is found from the Snakefile's folder.
ENGINE = Path(workflow.basedir)
SCHEMA = str(ENGINE / "config/schema.json")


def stop(message):
    """One line on the console, no traceback, nothing run (used for config and input problems)."""
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def _config_source():
    files = [str(f) for f in (workflow.overwrite_configfiles or [])]
    return " + ".join(["config/config.yaml", "config/report.yaml", *files])


try:
    _prepared = prepare(config, load_schema(SCHEMA), _config_source())
except UserError as _err:
    stop(_err)
config.clear()
config.update(_prepared)


from parentlink.config import input_files as _input_files

# The package as the rules will import it (an editable install points at src/parentlink).
_PACKAGE_DIR = Path(parentlink.__file__).resolve().parent


def _preflight():
    """Files, plans and variable names the config refers to (parentlink.config.check_study),
    checked once per change of config, inputs or checking code: remembered under .snakemake/."""
    stamp = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    files = [SCHEMA, *[f for _, f in _input_files(config)],
             *[f"{f}.meta.json" for _, f in _input_files(config) if f.lower().endswith(".csv")],
             *[str(_PACKAGE_DIR / m) for m in ("config.py", "plan.py", "ingest.py")]]
    for f in files:
        try:
            st = os.stat(f)
            stamp.update(f"{f}:{st.st_mtime_ns}:{st.st_size};".encode())
        except OSError:
            stamp.update(f"{f}:absent;".encode())
    memo = Path(".snakemake/parentlink/preflight")
    if memo.is_file() and memo.read_text() == stamp.hexdigest():
        return
    try:
        # Inputs under results/ are made by the workflow itself (the scale scenario's survey).
        check_study(config, Path.cwd(), _config_source(), made_by_workflow=("results/",))
    except UserError as err:
        stop(err)
    except Exception as err:  # a file the check could not parse: still one line, no traceback
        stop(f"{_config_source()}: checking the files and variables it names failed "
             f"({type(err).__name__}: {str(err)[:200]}); fix the file the message points to.")
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(stamp.hexdigest())


if workflow.is_main_process:  # cluster jobs re-parse this file: check once, in the main process
    _preflight()

# --------------------------------------------------------------------------- code and config


def _as_input(path):
    """A package file as a step's input, relative to the working directory when the package lives
    inside it (src/parentlink), else absolute."""
    here = Path.cwd().resolve()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def engine_file(rel):
    """A file of the engine (templates, fonts) as a step's input."""
    return _as_input(ENGINE / rel)


def package_data(name):
    """A data file of the package (e.g. the names list redaction reads), as a step's input."""
    return _as_input(_PACKAGE_DIR / name)


def code_inputs(script):
    """The package modules `workflow/scripts/<script>` imports, transitively (parentlink.deps)."""
    files = module_files(Path(workflow.basedir) / "workflow/scripts" / script, _PACKAGE_DIR)
    return [_as_input(p) for p in files]


def setting(path, wildcards=None):
    """The config value at a dotted key path; '{survey}' in it is filled from the wildcards."""
    if wildcards is not None:
        path = path.format(**dict(wildcards.items()))
    value = config
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)  # an optional setting left out (and with no default) is None
    return value


def uses(*paths):
    """Params entry holding every config value a step reads, as {key path: value}.

    Declared once per step as `config=uses(...)` under params; its script reads these and nothing
    else from the config. tests/test_dependencies.py reads these declarations.
    """

    def values(wildcards):
        return {p.format(**dict(wildcards.items())): setting(p, wildcards) for p in paths}

    return values


SURVEYS = sorted(config["surveys"])
# The survey weighted to population margins (config weighting; check_study: only that one).
WEIGHTED = [s for s in SURVEYS if config["surveys"][s]["weighted"]]
# The study's documents (config/report.yaml): one briefing per entry, from its own template.
AUDIENCES = list(config["report"]["documents"])
HAS_DOCUMENTS = bool(config.get("documents"))
HAS_QUOTES = bool(config.get("quotes"))
MODELS = {name: m["survey"] for name, m in config.get("models", {}).items()}
CHARTS = list(config["report"].get("charts", {}))
STUDY_TEMPLATES = config["report"]["templates"]


wildcard_constraints:
    survey="|".join(SURVEYS),
    audience="|".join(AUDIENCES),
    model="|".join(MODELS) or "NO_MODEL",


# --------------------------------------------------------------------------- build identity

# The same date and version however the workflow is started (parentlink.buildinfo).
# The date is also exported to the jobs, which inherit it (WeasyPrint's font subsets read it);
# cluster jobs re-parse this file and get the same.
BUILD_EPOCH = str(buildinfo.export_build_epoch(Path(workflow.basedir)))
CODE_VERSION = buildinfo.code_version(Path(workflow.basedir))


# --------------------------------------------------------------------------- inputs


def quotes_inputs(wildcards):
    """Clean data and meta of the quoted survey, and its weights if it is the weighted one."""
    s = config["quotes"]["survey"]
    inputs = {"data": f"results/clean/{s}.parquet", "meta": f"results/clean/{s}_meta.json",
              "text": f"results/clean/{s}_text.parquet"}
    if s in WEIGHTED:
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
            f"results/tables/{s}_means.csv",
            f"results/tables/{s}_tables.xlsx",
            f"results/codebook/{s}.html",
            f"results/clean/{s}.sav",
        ]
    outs += [
        *[f"results/weights/{s}_diagnostics.json" for s in WEIGHTED],
        *model_outputs().values(),
        *(["results/documents/code_frequencies.csv"] if HAS_DOCUMENTS else []),
        "reports/technical_report.pdf",
        *[f"reports/appendix/{s}_tables.pdf" for s in SURVEYS],
    ]
    outs += [f"reports/briefings/{a}.pdf" for a in AUDIENCES]
    return outs


def model_outputs():
    """results/models/<survey>_<name>_glm.csv for every model in config `models`, by name."""
    return {name: f"results/models/{s}_{name}_glm.csv" for name, s in MODELS.items()}


def facts_inputs(wildcards):
    """Every results file the findings read: per survey its estimates, tests, flow and meta
    (and weighting diagnostics when weighted), the models, and the document analysis."""
    inputs = {}
    for s in SURVEYS:
        inputs[f"estimates_{s}"] = f"results/tables/{s}_estimates.csv"
        inputs[f"tests_{s}"] = f"results/tables/{s}_tests.csv"
        inputs[f"audit_{s}"] = f"results/tables/{s}_disclosure_audit.csv"
        inputs[f"flow_{s}"] = f"results/clean/{s}_flow.csv"
        inputs[f"meta_{s}"] = f"results/clean/{s}_meta.json"
        if config["surveys"][s]["weighted"]:
            inputs[f"diagnostics_{s}"] = f"results/weights/{s}_diagnostics.json"
    for name, path in model_outputs().items():
        inputs[f"model_{name}"] = path
    if HAS_DOCUMENTS:
        for part in ("code_frequencies", "cooccurrence", "chains", "reliability"):
            inputs[part] = f"results/documents/{part}.csv"
        inputs["document_quotes"] = "results/documents/quotes.json"
    return inputs


def quotes_file(wildcards):
    """Parents' own words for a document, when the study quotes any (config quotes)."""
    return {"quotes": "results/report/parent_quotes.json"} if HAS_QUOTES else {}


def document_charts(doc):
    """The charts a document shows (report.documents.<doc>.charts, technical_report.charts)."""
    if doc == "technical_report":
        names = config["report"]["technical_report"].get("charts", [])
    else:
        names = config["report"]["documents"][doc].get("charts", [])
    return [f"results/figures/{name}.svg" for name in names]


def estimate_inputs(wildcards):
    """Clean data, meta and codebook; weighted surveys also need the weights and the raking
    margins."""
    s = wildcards.survey
    inputs = {"data": f"results/clean/{s}.parquet", "meta": f"results/clean/{s}_meta.json",
              # audited together with the estimates (parentlink.disclosure.codebook_exposure)
              "codebook": f"results/codebook/{s}.csv"}
    if config["surveys"][s]["weighted"]:
        inputs["weights"] = f"results/weights/{s}_weights.csv"
        inputs["targets"] = config["weighting"]["targets"]  # check_study: the weighted survey
    return inputs


def report_inputs():
    """Files whose SHA-256 the technical report lists: raw data, config and margins."""
    raws = [config["surveys"][s]["raw"] for s in SURVEYS]
    return (
        raws
        + ([config["documents"]["source"]] if HAS_DOCUMENTS else [])
        + ["config/config.yaml", "config/report.yaml"]
        + list((config.get("weighting") or {}).get("targets", []))
    )


def workbook_inputs(wildcards):
    """The survey's tests, means, models, weighting diagnostics (when weighted), the facts."""
    s = wildcards.survey
    inputs = {"tests": f"results/tables/{s}_tests.csv", "facts": "results/report/facts.json",
              "means": f"results/tables/{s}_means.csv"}
    for name, path in model_outputs().items():
        if MODELS[name] == s:
            inputs[f"model_{name}"] = path
    if s in WEIGHTED:
        inputs["diagnostics"] = f"results/weights/{s}_diagnostics.json"
    return inputs
