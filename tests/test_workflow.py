"""Integration: run the whole workflow on the default config in a temporary copy; check the contract."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

ESTIMATE_COLUMNS = [
    "survey", "variable", "variable_label", "category_code", "category", "group_variable",
    "group_code", "group", "base_unweighted", "base_weighted", "estimate", "se", "ci_lower",
    "ci_upper", "suppressed",
]  # fmt: skip
CONTRACT = [
    "results/clean/main.parquet", "results/clean/main_flow.csv",
    "results/clean/pilot.parquet", "results/clean/pilot_flow.csv",
    "results/weights/main_weights.csv", "results/weights/main_diagnostics.json",
    "results/tables/main_estimates.csv", "results/tables/pilot_estimates.csv",
    "results/documents/code_frequencies.csv",
    "reports/briefings/local_authorities.pdf", "reports/briefings/national_policy.pdf",
    "reports/briefings/parents.pdf", "reports/technical_report.pdf",
]  # fmt: skip


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    work = tmp_path_factory.mktemp("workflow")
    for item in ("Snakefile", "config", "raw", "workflow"):
        src = root / item
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / item)
    run = snakemake(work)
    assert run.returncode == 0, run.stderr[-4000:]
    return work


def test_contract_files_exist(built: Path) -> None:
    missing = [p for p in CONTRACT if not (built / p).is_file()]
    assert not missing


def test_estimates_columns_and_ranges(built: Path) -> None:
    for survey in ("main", "pilot"):
        est = pd.read_csv(built / f"results/tables/{survey}_estimates.csv")
        assert list(est.columns) == ESTIMATE_COLUMNS
        shown = est[~est["suppressed"]]
        assert shown["estimate"].between(0, 1).all()
        assert (shown["ci_lower"] <= shown["estimate"]).all() and (shown["estimate"] <= shown["ci_upper"]).all()
        assert (est["group_variable"] == "all").any()
        assert est[est["suppressed"]]["estimate"].isna().all()


def test_pilot_published_figures(built: Path) -> None:
    est = pd.read_csv(built / "results/tables/pilot_estimates.csv")
    allp = est[est["group_variable"] == "all"].set_index(["variable", "category_code"])
    row = allp.loc[("trust_private", 1)]
    assert row["base_unweighted"] == 365 and round(row["estimate"] * 365) == 4
    assert round(allp.loc[("trust_private", 3), "estimate"] * 365) == 309


def test_flow_and_weights(built: Path) -> None:
    flow = pd.read_csv(built / "results/clean/main_flow.csv")
    assert list(flow.columns) == ["step", "n_before", "n_excluded", "n_after"]
    w = pd.read_csv(built / "results/weights/main_weights.csv")
    assert list(w.columns)[:3] == ["respondent_id", "design_weight", "final_weight"]
    assert len(w) == flow["n_after"].iloc[-1]


def test_pdfs_are_pdfs(built: Path) -> None:
    for p in CONTRACT:
        if p.endswith(".pdf"):
            assert (built / p).read_bytes()[:5] == b"%PDF-"


def test_second_run_has_nothing_to_do(built: Path) -> None:
    run = snakemake(built, "-n")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def test_touching_one_template_reruns_only_that_render(built: Path) -> None:
    (built / "workflow/templates/parents.html").touch()
    run = snakemake(built, "-n", "--quiet", "rules")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "render_briefing" in out
    for other in ("clean", "weight", "estimate", "technical_report", "charts"):
        assert f"\n{other} " not in out and f"{other}    " not in out, out


def test_no_raw_text_under_results_or_reports(built: Path) -> None:
    """Identifiers and personal data planted in raw/ appear nowhere in what the workflow writes."""
    needle = re.compile(rb"@example\.(?:net|org)|07700 900|SO17 1BJ|PNL\d{7}|etc/passwd")
    for top in ("results", "reports"):
        for f in (built / top).rglob("*"):
            if not f.is_file():
                continue
            if f.suffix == ".parquet":  # compressed: look at the decoded text
                df = pd.read_parquet(f)
                data = df.astype(str).to_csv().encode()
            else:
                data = f.read_bytes()
            assert not needle.search(data), f
