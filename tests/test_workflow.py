"""Integration: run the whole workflow on the default config in a temporary copy; check the contract."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.conftest import copy_project

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
    "reports/appendix/main_tables.pdf", "reports/appendix/pilot_tables.pdf",
]  # fmt: skip


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    work = copy_project(tmp_path_factory.mktemp("workflow"))
    run = snakemake(work)
    assert run.returncode == 0, run.stderr[-4000:]
    return work


def test_contract_files_exist(built: Path) -> None:
    missing = [p for p in CONTRACT if not (built / p).is_file()]
    assert not missing


def test_estimates_columns_and_ranges(built: Path) -> None:
    for survey in ("main", "pilot"):
        est = pd.read_csv(built / f"results/tables/{survey}_estimates.csv")
        assert list(est.columns)[: len(ESTIMATE_COLUMNS)] == ESTIMATE_COLUMNS  # later columns may be added
        shown = est[~est["suppressed"]]
        assert shown["estimate"].between(0, 1).all()
        assert (shown["ci_lower"] <= shown["estimate"]).all() and (
            shown["estimate"] <= shown["ci_upper"]
        ).all()
        assert (est["group_variable"] == "all").any()
        assert est[est["suppressed"]]["estimate"].isna().all()


def test_pilot_published_figures(built: Path, root: Path) -> None:
    """Every figure the team published from the pilot (config/plans/pilot.yaml 'published')."""
    est = pd.read_csv(built / "results/tables/pilot_estimates.csv")
    allp = est[est["group_variable"] == "all"].set_index(["variable", "category_code"])
    plan = yaml.safe_load((root / "config/plans/pilot.yaml").read_text())
    min_cell = yaml.safe_load((root / "config/config.yaml").read_text())["disclosure"]["min_cell"]
    for fig in plan["published"]:
        rows = allp.loc[[(fig["variable"], c) for c in fig["codes"]]]
        assert (rows["base_unweighted"] >= 350).all(), fig["text"]  # 365, less don't-knows for nets
        if "count" in fig and fig["count"] < min_cell:
            # published by the team, but below the disclosure threshold: the pipeline must hide it
            assert rows["suppressed"].all(), fig["text"]
            continue
        share = rows["estimate"].sum()
        if "count" in fig:
            assert round(share * rows["base_unweighted"].iloc[0]) == fig["count"], fig["text"]
        if "share_about" in fig:
            assert abs(share - fig["share_about"]) <= 0.02, (fig["text"], share)
        if "share_below" in fig:
            assert share < fig["share_below"], (fig["text"], share)


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


def job_stats(out: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    lines = out[out.index("Job stats:") :].splitlines()[3:]
    stats = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        stats[parts[0]] = int(parts[1])
    return stats


def test_editing_one_template_reruns_only_that_render(built: Path) -> None:
    template = built / "config/templates/parents.html"
    template.touch()  # same content, newer time: Snakemake 9 compares checksums, nothing to do
    run = snakemake(built, "-n")
    assert "Nothing to be done" in run.stdout + run.stderr
    original = template.read_text()
    template.write_text(original + "{# a reviewer's edit #}\n")
    try:
        run = snakemake(built, "-n", "--quiet", "rules")
        assert run.returncode == 0, run.stderr
        assert job_stats(run.stdout + run.stderr) == {"render_briefing": 1, "all": 1}
    finally:
        template.write_text(original)


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


def test_quotes_through_the_whole_pipeline(built: Path) -> None:
    """Raw comments with names, contact details and markup (planted by the synthetic generator)
    reach the briefings only as clean quotes chosen by the rule, printed as text."""
    import json

    from parentlink.comments import REDACTION_MARKS

    q = json.loads((built / "results/report/parent_quotes.json").read_text(encoding="utf-8"))
    assert len(q["quotes"]) == 3 and q["counts"]["redacted"] > 0 and q["counts"]["markup"] > 0
    for x in q["quotes"]:
        assert not any(m in x["text"] for m in REDACTION_MARKS) and "<" not in x["text"], x
    pdf_text = {a: " ".join(subprocess.run(
        ["pdftotext", str(built / f"reports/briefings/{a}.pdf"), "-"], capture_output=True,
        text=True, check=True).stdout.split()) for a in ("local_authorities", "parents")}
    for text in pdf_text.values():  # both briefings print the first two of the three quotes
        assert all(f"“{x['text']}”" in text for x in q["quotes"][:2])
        assert "<img" not in text and "[email]" not in text and "[name]" not in text


def test_pdfs_use_only_the_shipped_font(built: Path) -> None:
    """No system font sneaks in (e.g. a monospace fallback): builds must not depend on the OS."""
    import pikepdf

    for p in CONTRACT:
        if not p.endswith(".pdf"):
            continue
        with pikepdf.open(built / p) as pdf:
            fonts = {str(f.get("/BaseFont")) for page in pdf.pages for f in _fonts(page.Resources)}
        assert fonts and all("Report-Sans" in f for f in fonts), (p, fonts)


def _fonts(resources: Any, seen: set[tuple[int, int]] | None = None) -> list[Any]:
    """Fonts of a page's resources and of the form XObjects it draws (charts are drawn there)."""
    seen = set() if seen is None else seen
    out = list(resources.get("/Font", {}).values())
    for xobj in resources.get("/XObject", {}).values():
        if xobj.objgen not in seen and "/Resources" in xobj:
            seen.add(xobj.objgen)
            out += _fonts(xobj.Resources, seen)
    return out
