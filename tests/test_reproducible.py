"""Two clean builds from the same code give identical bytes for every file under results/ and
reports/ (CSV, JSON, parquet, sav, svg, pdf, html, ...). The builds run in two temporary copies
at different paths, in parallel, with the same SOURCE_DATE_EPOCH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from parentlink.archive import build_manifest, compare_manifests

ROOT = Path(__file__).resolve().parents[1]
# Not part of a clean build: generated folders, caches, environments, VCS.
IGNORE = shutil.ignore_patterns(".git", ".venv", "results", "reports", "logs", ".snakemake",
                                ".cache", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                                ".hypothesis", "__pycache__", "*.egg-info", "out")
EPOCH = "1700000000"


def _outputs(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in ("results", "reports"):
        if (root / d).is_dir():
            out.update({f"{d}/{p}": h for p, h in build_manifest(root / d, exclude=()).items()})
    return out


@pytest.mark.integration
def test_two_clean_builds_are_byte_identical(tmp_path):
    copies = [tmp_path / "build-one", tmp_path / "second-build-elsewhere"]
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "PYTHONHASHSEED": "random"}
    env.pop("PARENTLINK_PSEUDONYM_KEY", None)
    procs = []
    for c in copies:
        shutil.copytree(ROOT, c, ignore=IGNORE, symlinks=True)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "snakemake", "--cores", "2", "--quiet", "rules"],
            cwd=c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for c, p in zip(copies, procs, strict=True):
        out, _ = p.communicate(timeout=1800)
        assert p.returncode == 0, f"build in {c} failed:\n{out[-4000:]}"
    one, two = (_outputs(c) for c in copies)
    assert len(one) >= 20, sorted(one)
    exts = {Path(p).suffix for p in one}
    assert {".csv", ".json", ".parquet", ".pdf", ".svg"} <= exts
    diffs = compare_manifests(one, two)
    assert not diffs, "builds differ:\n" + "\n".join(diffs)
