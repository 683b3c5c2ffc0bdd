"""Bad input stops the run with one clear sentence, a non-zero exit and no partial outputs.

Each case runs the real workflow (ingest + clean of the pilot) on one file of tests/bad_inputs/
(made by make_corpus.py) or one bad config, in a temporary copy of the project.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    ("missing_variable.sav", "'rename' names P4_1, which"),
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


def test_missing_delivery_is_named_by_snakemake(project: Path) -> None:
    res = run(
        project,
        "surveys:\n  pilot:\n    raw: raw/does_not_exist.sav\n    plan: config/plans/pilot.yaml\n    "
        "weighted: false\n",
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "Missing input files" in out and "raw/does_not_exist.sav" in out
    assert not (project / "results").exists()


def test_bad_config_names_the_key(project: Path) -> None:
    res = run(project, "disclosure:\n  min_base: fifty\n  min_cell: 10\n")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "'fifty' is not of type 'integer'" in out and "min_base" in out
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
    res = run(project, "quotes:\n  survey: nosuch\n")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "quotes.survey 'nosuch' is not one of the surveys (main, pilot)" in out, out[-2000:]
    assert not (project / "results").exists()


def test_quotes_item_that_is_not_labelled(project: Path) -> None:
    res = run(project, "quotes:\n  item: comment\n", target="results/report/parent_quotes.json")
    out = res.stdout + res.stderr
    errors = [line for line in out.splitlines() if line.startswith("ERROR: ")]
    assert res.returncode != 0 and len(errors) == 1, out[-3000:]
    assert "quotes.item 'comment' is not a labelled categorical variable" in errors[0]
    assert not (project / "results/report/parent_quotes.json").exists()
