"""The second example study (examples/schools) builds by its own files alone, with this engine.

One weighted survey of schools, no pilot, no document analysis, no quotes, two audiences: built
with the launcher's --study in a copy of the folder, then checked as a reader would meet it —
tagged PDFs within the page limits its report spec sets, no template debris, the numbers its
documents print equal to its estimates, and none of the embedded study's wording.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pikepdf
import pytest
import yaml

from parentlink.layout import layout_problems

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "examples" / "schools"


def _text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    return " ".join(out.split())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("study") / "schools"
    shutil.copytree(STUDY, folder, ignore=shutil.ignore_patterns(
        "results", "reports", "logs", ".snakemake"))
    run = subprocess.run([sys.executable, "-m", "parentlink.build", "--study", str(folder),
                          "--cores", "2"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return folder


def test_every_document_of_the_spec_is_built_within_its_pages(built: Path) -> None:
    spec = yaml.safe_load((built / "config/report.yaml").read_text(encoding="utf-8"))["report"]
    assert set(spec["documents"]) == {"governors", "local_authorities"}
    for name, doc in spec["documents"].items():
        pdf = built / "reports" / "briefings" / f"{name}.pdf"
        with pikepdf.open(pdf) as p:
            assert len(p.pages) <= doc["pages"], name
            assert "/StructTreeRoot" in p.Root and str(p.Root.Lang) == "en-GB"
            # A synthetic study's titles say so (HTML <title>, hence the PDF's metadata).
            assert str(p.docinfo["/Title"]) == f"SYNTHETIC DATA: {doc['title']}"
    assert (built / "reports" / "technical_report.pdf").is_file()
    # Nothing of what the study does not have was made.
    assert not (built / "results" / "documents").exists()
    assert not (built / "results" / "report" / "parent_quotes.json").exists()


def test_no_template_debris_and_no_words_of_the_embedded_study(built: Path) -> None:
    appendix = built / "reports" / "appendix" / "schools_tables.pdf"
    for pdf in [*(built / "reports" / "briefings").glob("*.pdf"),
                built / "reports" / "technical_report.pdf", appendix]:
        text = _text(pdf)
        for debris in ("{{", "}}", "{%", "Undefined", "None", " nan", "NaN"):
            assert debris not in text, (pdf.name, debris)
        # The engine adds no wording of the embedded study (its population is parents).
        assert not re.search(r"\bparents?\b", text, re.I), pdf.name
        # The full tables (in the survey's appendix) name the study's own population.
        assert "All schools" in text or pdf != appendix
        assert "SYNTHETIC" in text
        # No text printed over other text, across a line, or outside the page's text area.
        assert layout_problems(pdf) == [], pdf.name


def test_printed_numbers_are_its_estimates(built: Path) -> None:
    est = pd.read_csv(built / "results" / "tables" / "schools_estimates.csv",
                      dtype={"category_code": str})
    whole = est[(est["group_variable"] == "all") & (est["category_code"] == "1")]
    pct = {v: round(100 * e) for v, e in zip(whole["variable"], whole["estimate"], strict=True)}
    text = _text(built / "reports" / "briefings" / "local_authorities.pdf")
    assert (f"{pct['acc_places_net']}% of school leaders with a view accept linking pupil records "
            "to plan school places and services") in text
    assert f"{pct['trust_council_net']}% trust the council" in text
    gov = _text(built / "reports" / "briefings" / "governors.pdf")
    assert f"{pct['acc_company_net']}%" in gov
