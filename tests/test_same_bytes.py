"""One set of bytes however the build is started (issue: never a stale output).

In a fresh `git clone` of the committed code (a real checkout, as a newcomer has), `make` builds
everything; then plain `snakemake -n` has nothing to do (before, it planned to re-render every
PDF because only the Makefile set the build date), and a forced plain `snakemake` rebuild gives
byte-identical outputs. The build date inside the PDFs is the commit time of the checkout, not the
fallback date. The Slurm profile is compared with a local run in tests/test_slurm.py and the
deposit bundle by `make verify-archive` (.ci/run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

import parentlink
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def env_for(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(work / "src")  # the clone's package, not the editable install's
    for var in ("SOURCE_DATE_EPOCH", "PARENTLINK_CODE_VERSION", "MAKEFLAGS", "MAKELEVEL"):
        env.pop(var, None)
    return env


def checksums(work: Path) -> dict[str, str]:
    return {p.relative_to(work).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in ("results", "reports") for p in sorted((work / d).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("needs the project's git repository (a clone of it is built)")
    work = tmp_path_factory.mktemp("clone") / "project"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(work)], check=True)
    (work / ".venv").symlink_to(Path(sys.executable).resolve().parents[1]
                                if not (ROOT / ".venv").exists() else ROOT / ".venv")
    return work


def test_make_then_plain_snakemake_give_the_same_bytes(clone: Path) -> None:
    env = env_for(clone)
    # -o: take the shared environment as it is (never reinstall it from the clone's lock).
    made = subprocess.run(["make", "-o", ".venv/.installed", "CORES=2"], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-3000:]
    by_make = checksums(clone)
    assert any(p.endswith(".pdf") for p in by_make)

    snakemake = [str(clone / ".venv/bin/python"), "-m", "snakemake"]
    dry = subprocess.run([*snakemake, "-n"], cwd=clone, env=env, capture_output=True, text=True,
                         timeout=600)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]

    forced = subprocess.run([*snakemake, "--cores", "2", "--forceall", "--quiet"], cwd=clone,
                            env=env, capture_output=True, text=True, timeout=1800)
    assert forced.returncode == 0, forced.stderr[-3000:]
    by_snakemake = checksums(clone)
    differ = sorted(p for p in by_make if by_make[p] != by_snakemake.get(p))
    assert differ == [], f"{len(differ)} outputs differ between make and snakemake: {differ}"


def test_build_date_is_the_commit_time(clone: Path) -> None:
    commit = int(subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=clone, check=True,
                                capture_output=True, text=True).stdout)
    assert commit != parentlink.FALLBACK_SOURCE_DATE_EPOCH
    pdf = clone / "reports/briefings/parents.pdf"
    if not pdf.is_file():
        pytest.skip("the build test did not run")
    with pikepdf.open(pdf) as doc:
        created = str(doc.docinfo.get("/CreationDate", ""))
    when = dt.datetime.fromtimestamp(commit, tz=dt.UTC)
    assert created.startswith("D:" + when.strftime("%Y%m%d%H%M%S")), (created, when)
