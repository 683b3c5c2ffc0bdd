"""A delivery with personal details planted in it: after the whole workflow, the Snakemake report
and the deposit bundle, no output holds any of them (issue 13).

The planted copy of raw/main_survey.sav (written with pyreadstat, metadata kept) carries names,
e-mail addresses, phone numbers, an NHS number, a postcode and school names (some in lower case)
in the open-text answer, the agency id and the e-mail column the plan drops. The main survey is
marked not redistributable, as a real delivery is: the raw file itself then stays out of the
bundle (a redistributable raw file is deposited as delivered, by design). Every file under
results/, reports/ and logs/, the Snakemake report and every member of the bundle is read as
text (PDF through pdftotext, parquet and .sav as tables with their labels, workbooks cell by
cell, zip members recursively) and searched for every planted detail, case-insensitively, and
for every planted number also with separators removed. The bundle is built by
`parentlink.archive.build_bundle`, as `snakemake archive` does, except that the wheels of the
pinned dependencies are not fetched (third-party packages; fetching them needs the network).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml

from tests.conftest import ROOT, copy_project

pytestmark = pytest.mark.integration

EPOCH = 1700000000
COMMENTS = [
    "ask aisling o'brien at holy cross school what happened to our file",
    "Email me: zebedee.quartermain@example.org or call 07700 900123 any time",
    "my nhs number is 943 476 5919 and we live at SW1A 1AA",
    "Phone +44 (0)20 7946 0958 and ask for Mrs Quartermain about my son tyler",
    "my daughter goes to st bartholomew's primary, ring 0044 7700 900456",
    "contact jo dot bloggs at example dot com, my son Kyle Featherstonehaugh knows",
]
PANEL_ID = "zebedee.quartermain@example.org"
DROPPED_EMAIL = "kyle.featherstonehaugh@example.net"
WORDS = ["aisling", "o'brien", "holy cross", "zebedee", "quartermain", "tyler",
         "bartholomew", "featherstonehaugh", "bloggs", "sw1a 1aa", "sw1a1aa"]
NUMBERS = ["07700900123", "7700900123", "9434765919", "2079460958", "7700900456"]


def plant(raw: Path) -> None:
    df, meta = pyreadstat.read_sav(raw, user_missing=True)
    text = "Q8"
    rows = list(range(3, 3 + 7 * len(COMMENTS), 7))
    for r, c in zip(rows, COMMENTS, strict=True):
        df.loc[r, text] = c
    df.loc[11, "panel_id"] = PANEL_ID
    df.loc[12, "email"] = DROPPED_EMAIL
    pyreadstat.write_sav(df, raw, column_labels=dict(zip(meta.column_names, meta.column_labels,
                                                         strict=True)),
                         variable_value_labels=meta.variable_value_labels,
                         missing_ranges=meta.missing_ranges,
                         variable_measure=meta.variable_measure,
                         variable_display_width=meta.variable_display_width)


def scan(name: str, data: bytes, tmp: Path) -> dict[str, list[str]]:
    """Planted details found in a file, by file (zip members by their path inside the zip)."""
    if Path(name).suffix.lower() == ".zip":
        found: dict[str, list[str]] = {}
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for m in z.namelist():
                if not m.endswith("/"):
                    found.update(scan(f"{name}!{m}", z.read(m), tmp))
        return found
    hit = leaks(text_of(name, data, tmp))
    return {name: hit} if hit else {}


def text_of(name: str, data: bytes, tmp: Path) -> str:
    """Everything a reader of the file could see, as text."""
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        f = tmp / "x.pdf"
        f.write_bytes(data)
        out = subprocess.run(["pdftotext", "-q", str(f), "-"], capture_output=True, check=True)
        return out.stdout.decode("utf-8", "replace") + data.decode("latin-1")
    if suffix == ".parquet":
        return pd.read_parquet(io.BytesIO(data)).to_csv()
    if suffix in (".sav", ".zsav"):
        f = tmp / f"x{suffix}"
        f.write_bytes(data)
        df, meta = pyreadstat.read_sav(f)
        return df.to_csv() + repr(meta.column_labels) + repr(meta.variable_value_labels)
    if suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(data))
        return "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows()
                         for c in row if c.value is not None)
    return data.decode("utf-8", "replace")


def leaks(text: str) -> list[str]:
    low = text.lower().replace("\u2019", "'")
    found = [w for w in WORDS if w in low]
    digits = re.sub(r"[\s().\-+/]", "", low)
    found += [n for n in NUMBERS if n in digits]
    return found


def git(cwd: Path, *args: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", GIT_AUTHOR_DATE=f"@{EPOCH}",
               GIT_COMMITTER_DATE=f"@{EPOCH}")
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env, check=True,
                   capture_output=True)


@pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("git") is None,
                    reason="needs pdftotext and git")
def test_no_planted_detail_reaches_any_output(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from parentlink import archive as ar

    (tmp_path / "project").mkdir()
    work = copy_project(tmp_path / "project")
    for extra in ("env", "CITATION.cff", "README.md", "LICENSE"):
        src = ROOT / extra
        if src.exists():
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / extra)
    plant(work / "raw/main_survey.sav")
    config = work / "config/config.yaml"
    cfg = yaml.safe_load(config.read_text("utf-8"))
    cfg["surveys"]["main"]["redistributable"] = False
    config.write_text(yaml.safe_dump(cfg, sort_keys=False), "utf-8")
    (work / ".gitignore").write_text("results/\nreports/\nlogs/\n.snakemake/\n.cache/\n")
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "planted delivery")

    env = dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH))
    snakemake = [sys.executable, "-m", "snakemake"]
    run = subprocess.run([*snakemake, "--cores", "2"], cwd=work, env=env, capture_output=True,
                         text=True, timeout=1500)
    assert run.returncode == 0, run.stderr[-4000:]
    # redacted text lasts only in the clean stage's text file, not in the ingest parquet
    import pandas as pd
    ingest_meta = json.loads((work / "results/ingest/main_meta.json").read_text("utf-8"))
    text_vars = {n for n, v in ingest_meta["variables"].items()
                 if v.get("type") == "text" and n != "respondent_id"}
    assert text_vars and not text_vars & set(pd.read_parquet(work / "results/ingest/main.parquet").columns)
    assert not list((work / "results/ingest").glob("*_text.parquet"))
    assert len(pd.read_parquet(work / "results/clean/main_text.parquet").columns) > 1
    report = subprocess.run([*snakemake, "--report", "report.zip"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr[-4000:]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    monkeypatch.setattr(ar, "collect_wheels", lambda lock, cache, dest, *a, **k: [])
    bundle = ar.build_bundle(work, tmp_path / "bundle.zip", cfg, snakemake_cmd=snakemake,
                             wheel_cache=tmp_path / "wheels", epoch=EPOCH, allow_dirty=True)
    assert "raw/main_survey.sav" in bundle.excluded_inputs

    files = [p for d in ("results", "reports", "logs") for p in sorted((work / d).rglob("*"))
             if p.is_file()] + [work / "report.zip", bundle.zip_path]
    assert len(files) > 30
    found: dict[str, list[str]] = {}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for p in files:
        found.update(scan(p.relative_to(work).as_posix() if p.is_relative_to(work) else p.name,
                          p.read_bytes(), scratch))
    assert found == {}, f"planted details found in outputs: {found}"
    # and the search does find them where they are: in the planted delivery itself
    planted = scan("x.sav", (work / "raw/main_survey.sav").read_bytes(), scratch)["x.sav"]
    assert set(planted) >= {"aisling", "holy cross", "zebedee", "9434765919", "sw1a 1aa",
                            "featherstonehaugh", "07700900123"}
