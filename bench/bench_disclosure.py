"""How much complementary suppression costs, on a built study.

Usage (after a build of the study, which this reads and does not touch):
    PYTHONPATH=$PWD/src .venv/bin/python bench/bench_disclosure.py [--study DIR]

For each survey: the estimates before disclosure control (``estimate_table`` on
results/clean and results/weights, cached in a temporary directory), then ``protect`` with the
study's ``disclosure`` settings. Prints the number of shares hidden by the primary rules (small
base, small cell), in total, fully hidden group x item rows of groups with at least ``min_base``
respondents (and how many of those hold a primary suppression themselves), the largest group
fully hidden, the seconds taken, and whether the attacker's audit passes. The "before" figures
in docs/privacy.md are this script run with PYTHONPATH pointing at a tree of commit d9f9853.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from parentlink.config import load_schema, prepare
from parentlink.disclosure import audit, protect
from parentlink.estimate import estimate_table, load_design


def _config(study: Path) -> dict:
    raw = yaml.safe_load((study / "config/config.yaml").read_text(encoding="utf-8"))
    report = study / "config/report.yaml"
    if report.exists():
        raw.update(yaml.safe_load(report.read_text(encoding="utf-8")) or {})
    return prepare(raw, load_schema(Path(__file__).resolve().parents[1] / "config/schema.json"))


def unsuppressed(study: Path, cfg: dict, survey: str) -> pd.DataFrame:
    """The estimates table with its cell counts, before disclosure control (cached)."""
    data_path = study / f"results/clean/{survey}.parquet"
    key = hashlib.sha256(data_path.read_bytes()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"bench_disclosure_{survey}_{key}.parquet"
    if cache.exists():
        return pd.read_parquet(cache)
    s = cfg["surveys"][survey]
    meta = json.loads((study / f"results/clean/{survey}_meta.json").read_text(encoding="utf-8"))
    weighted = bool(s["weighted"])
    data, design = load_design(
        str(data_path), str(study / f"results/weights/{survey}_weights.csv") if weighted else None,
        [str(study / t) for t in cfg["weighting"]["targets"]] if weighted else [],
        design=s.get("design"), calibration=cfg["weighting"])
    a = cfg["analysis"][survey]
    table = estimate_table(data, meta, design, a["items"], a["breakdowns"], survey,
                           all_label=f"All {cfg['report']['population']}")
    table.to_parquet(cache)
    return table


def measure(out: pd.DataFrame, min_base: int) -> dict[str, object]:
    hidden = out["suppressed"].astype(bool)
    primary = out["suppression"].isin(["base", "cell"])
    rows = out.assign(h=hidden, p=primary).groupby(
        ["variable", "group_variable", "group_code"]).agg(
        h=("h", "all"), p=("p", "any"), base=("base_unweighted", "first"))
    full = rows[rows["h"] & (rows["base"] >= min_base)]
    return {"shares": len(out), "primary": int(primary.sum()), "hidden": int(hidden.sum()),
            "rows_full_50": len(full), "of_which_own_primary": int(full["p"].sum()),
            "largest_full": int(full["base"].max()) if len(full) else 0,
            "largest_full_not_own": int(full.loc[~full["p"], "base"].max())
            if (~full["p"]).any() else 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--study", default=".")
    args = ap.parse_args()
    study = Path(args.study)
    cfg = _config(study)
    disc = cfg["disclosure"]
    min_base, min_cell, zeros = int(disc["min_base"]), int(disc["min_cell"]), \
        bool(disc["suppress_zeros"])
    for survey in sorted(cfg["surveys"]):
        table = unsuppressed(study, cfg, survey)
        t0 = time.perf_counter()
        out = protect(table, min_base, min_cell, suppress_zeros=zeros)
        secs = time.perf_counter() - t0
        res = audit(out, min_cell, suppress_zeros=zeros, required_only=True)
        print(survey, measure(out, min_base), f"protect {secs:.1f} s",
              f"audit: {int((~res['protected']).sum())} exposed of {len(res)}")


if __name__ == "__main__":
    main()
