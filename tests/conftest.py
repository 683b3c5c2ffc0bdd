"""Shared fixtures: the project root, and ingested+cleaned versions of the shipped synthetic study."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from parentlink.clean import Cleaned, clean
from parentlink.ingest import apply_privacy, read_raw
from parentlink.plan import load_plan

ROOT = Path(__file__).resolve().parents[1]


PROJECT_ITEMS = ("Snakefile", "config", "raw", "workflow", "pyproject.toml")


def copy_project(work: Path) -> Path:
    """What a workflow run needs, copied into `work` (results/ and reports/ are left behind)."""
    for item in PROJECT_ITEMS:
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / item)
    return work


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def run_clean(survey: str, raw: Path | None = None, plan: dict[str, Any] | None = None) -> Cleaned:
    df, meta = read_raw(raw or ROOT / f"raw/{survey}_survey.sav")
    plan = plan or load_plan(ROOT / f"config/plans/{survey}.yaml")
    df = apply_privacy(df, meta, plan, "test-key", 600)
    return clean(df, meta, plan, weighted=survey == "main")


@pytest.fixture(scope="session")
def cleaned_main() -> Cleaned:
    return run_clean("main")


@pytest.fixture(scope="session")
def cleaned_pilot() -> Cleaned:
    return run_clean("pilot")
