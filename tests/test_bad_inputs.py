"""Bad input stops the run with one clear sentence, a non-zero exit and no partial outputs.

Each case runs the real workflow (ingest + clean of the pilot) on one file of tests/bad_inputs/
(made by make_corpus.py) or one bad config, in a temporary copy of the project.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import copy_project

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "bad_inputs"

CASES = [
    ("empty.sav", "is empty (0 bytes)"),
    ("not_spss.sav", "is not an SPSS data file"),
    ("truncated.sav", "looks truncated or corrupt"),
    ("wrong_type.xlsx", "has type '.xlsx', which the pipeline cannot read"),
    ("unknown_code.sav", "variable P4_1 (trust_private) has unknown code(s) 7 in 3 row(s)"),
    ("duplicate_id.sav", "id variable 'resp_id' repeats in 2 row(s)"),
    ("missing_variable.sav", "rename names 'P4_1', which raw/missing_variable.sav does not contain"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    work = copy_project(tmp_path_factory.mktemp("bad"))
    return work


def run(
    project: Path, override: str, target: str = "results/clean/pilot.parquet"
) -> subprocess.CompletedProcess[str]:
    cfg = project / "override.yaml"
    cfg.write_text(override)
    shutil.rmtree(project / "results", ignore_errors=True)
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", str(cfg), "--", target]
    return subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=300, env=dict(os.environ))


@pytest.mark.parametrize(("name", "message"), CASES)
def test_bad_delivery(project: Path, name: str, message: str) -> None:
    if (CORPUS / name).exists():
        shutil.copy2(CORPUS / name, project / "raw" / name)
    res = run(
        project,
        f"surveys:\n  pilot:\n    raw: raw/{name}\n    plan: config/plans/pilot.yaml\n    weighted: false\n",
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0
    errors = [line for line in out.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, out[-3000:]
    assert message in errors[0] and name in errors[0]
    assert "Traceback" not in out
    written = (
        [p for p in (project / "results").rglob("*") if p.is_file()] if (project / "results").exists() else []
    )
    assert written == []


def one_error(res: subprocess.CompletedProcess[str]) -> str:
    """The run stopped with exactly one ERROR line, no traceback, no schema dump, nothing run."""
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-2000:]
    errors = [line for line in out.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, out[-3000:]
    assert "Traceback" not in out and "Failed validating" not in out, out[-3000:]
    assert len(out.splitlines()) <= 3, out[-3000:]  # Snakemake's config note + our line
    return errors[0]


def test_missing_delivery_is_one_line_before_any_job(project: Path) -> None:
    err = one_error(run(
        project,
        "surveys:\n  pilot:\n    raw: raw/does_not_exist.sav\n    plan: config/plans/pilot.yaml\n    "
        "weighted: false\n",
    ))
    assert "surveys.pilot.raw names raw/does_not_exist.sav, which is not a file here" in err
    assert not (project / "results").exists()


CONFIG_CASES = [
    # (override, what the one line must say)
    ("disclosure:\n  min_base: fifty\n  min_cell: 10\n",
     'disclosure.min_base is "fifty" (a string) but must be a whole number'),
    ("weighting:\n  trimm: {lower: 0.2, upper: 5}\n",
     "weighting.trimm is not a setting the pipeline knows; did you mean weighting.trim?"),
    ("study:\n  titel: A study\n",
     "study.titel is not a setting the pipeline knows; did you mean study.title?"),
    ('documents:\n  redistributable: "false"\n',
     'documents.redistributable is "false" (a string) but must be true or false (without quotes)'),
    ("report:\n  documents:\n    parents: {titel: What parents told us}\n",
     "report.documents.parents.titel is not a setting the pipeline knows; did you mean "
     "report.documents.parents.title?"),
    ("unknown_section: 1\n", "unknown_section is not a setting the pipeline knows"),
    ("analysis:\n  main:\n    items: [heard]\n    breakdowns: [ethnicty]\n",
     "analysis.main.breakdowns[0] 'ethnicty' is not a variable of the cleaned main data made by "
     "config/plans/main.yaml; did you mean 'ethnicity'?"),
    ("analysis:\n  main:\n    items: [heard]\n    breakdowns: []\n    means: [heard]\n",
     "analysis.main.means[0] 'heard' is a categorical variable of the cleaned main data, but it "
     "must be numeric; choose another."),
    ("weighting:\n  design_weight: pw\n",
     "weighting.design_weight 'pw' is not a cleaned variable of main; the plan config/plans/main.yaml "
     "turns the delivered design_wt into 'design_weight'"),
    ("models:\n  social_licence:\n    outcome: social_licence_hi\n",
     "models.social_licence.outcome 'social_licence_hi' is not a variable of the cleaned main data"),
    ("surveys:\n  pilot:\n    weighted: true\n",
     "surveys.pilot.weighted is true but weighting.survey is 'main'"),
    ("weighting:\n  survey: pilot\n",
     "weighting.survey 'pilot' is marked weighted: false in surveys.pilot"),
    ("documents:\n  source: raw/nothing.qdpx\n",
     "documents.source names raw/nothing.qdpx, which is not a file"),
    # found by review: each gave a traceback or no hint
    ("weigthing:\n  survey: main\n", "weigthing is not a setting the pipeline knows; did you mean "
     "weighting?"),
    ("quotes:\n  seed: 2021-03-01\n", 'quotes.seed is "2021-03-01" (date) but must be a whole number'),
    ("surveys:\n  2022:\n    raw: raw/pilot_survey.sav\n    plan: config/plans/pilot.yaml\n"
     "    weighted: false\n", "surveys has the key 2022; names here start with a letter"),
]


@pytest.mark.parametrize(("override", "message"), CONFIG_CASES)
def test_bad_config_is_one_line_naming_the_key(project: Path, override: str, message: str) -> None:
    """Found before the first job runs (nothing under results/), named by key path, with the fix."""
    err = one_error(run(project, override))
    assert message in err, err
    assert not (project / "results").exists()


def test_plan_naming_a_missing_grid_item(project: Path) -> None:
    plan = (project / "config/plans/pilot.yaml").read_text()
    bad = project / "config/plans/pilot_bad.yaml"
    bad.write_text(plan.replace("acceptability_purpose: [acc_plan,", "acceptability_purpose: [acc_planning,"))
    res = run(
        project,
        "surveys:\n  pilot:\n    raw: raw/pilot_survey.sav\n    plan: config/plans/pilot_bad.yaml\n    "
        "weighted: false\n",
        target="results/clean/pilot.parquet",
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "ERROR: Cleaning plan grid 'acceptability_purpose' names acc_planning" in out, out[-2000:]
    assert not (project / "results/clean/pilot.parquet").exists()


def test_quotes_naming_an_unknown_survey(project: Path) -> None:
    err = one_error(run(project, "quotes:\n  survey: nosuch\n"))
    assert "quotes.survey 'nosuch' is not a survey; choose one of main, pilot" in err
    assert not (project / "results").exists()


def test_quotes_item_that_is_not_labelled(project: Path) -> None:
    err = one_error(run(project, "quotes:\n  item: comment\n",
                        target="results/report/parent_quotes.json"))
    assert "quotes.item 'comment' is a text variable of the cleaned main data, but it must be " \
        "categorical" in err
    assert not (project / "results").exists()


# ---------------------------------------------------------------- received document codings

PLANTED = b"PLANTED-SECRET-workflow-9d2c"


def hostile_qdpx(project: Path, case: str) -> str:
    """Write raw/hostile.qdpx from the shipped synthetic corpus, with one attack."""
    src = project / "raw" / "document_codes.qdpx"
    dst = project / "raw" / "hostile.qdpx"
    secret = project / "private" / "secret.txt"
    secret.parent.mkdir(exist_ok=True)
    secret.write_bytes(PLANTED + b"\n")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "project.qde":
                qde = data.decode("utf-8")
                if case == "absolute":
                    qde = re.sub(r'plainTextPath="internal://[^"]+"',
                                 f'plainTextPath="absolute://{secret}"', qde, count=1)
                elif case == "zero codings":
                    qde = re.sub(r"<PlainTextSelection .*?</PlainTextSelection>", "", qde,
                                 flags=re.S)
                data = qde.encode("utf-8")
            elif case == "zip bomb" and info.filename.startswith("Sources/"):
                data = b" " * (3 * 2**20)
            zout.writestr(info.filename, data)
    return "raw/hostile.qdpx"


DOCUMENT_CASES = [
    ("absolute", "is a file outside the project, which the reader opens only from a folder"),
    ("zip bomb", "the mark of a zip bomb"),
    ("zero codings", "the project has no coded text (0 codings"),
]


@pytest.mark.parametrize(("case", "message"), DOCUMENT_CASES)
def test_hostile_documents_source(project: Path, case: str, message: str) -> None:
    """The documents rule stops with one line, writes nothing and leaks no planted byte."""
    source = hostile_qdpx(project, case)
    res = run(project, f"documents:\n  source: {source}\n",
              target="results/documents/code_frequencies.csv")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    errors = [line for line in out.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and message in errors[0], out[-3000:]
    assert "hostile.qdpx" in errors[0] and "Traceback" not in out
    written = [p for p in (project / "results").rglob("*") if p.is_file()] \
        if (project / "results").exists() else []
    assert written == []
    assert PLANTED.decode() not in out
    for p in project.rglob("*"):
        if p.is_file() and p.name != "secret.txt":
            assert PLANTED not in p.read_bytes(), p
