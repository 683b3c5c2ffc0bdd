"""Benchmark declared designs (issue 16) against R's survey package, in one run.

Usage:
    .venv/bin/python bench/bench_design.py [--rows 1000000] [--psus 2000] [--strata 100]
        [--replicates 80] [--r-rows 100000] [--r-items 2] [--no-r]

Workload: strata x PSUs (nested), a lognormal design weight, 5 raking margins; R's
``calibrate(calfun = "raking")`` from the design weights; 40 items (3 categories + don't know,
excluded from the base) x 8 breakdowns (+ whole sample) with linearised SEs on the declared
design (strata, PSUs, calibration projection on the design weights), logit CIs and Rao-Scott F
tests (``estimate_table`` + ``tests_table``; target <= 8 s at 1M). Then the same tables on a
replicate design: ``--replicates`` bootstrap replicate weights (PSU-level multipliers), each
re-calibrated (target <= 20 s).

R at --r-rows on the same design (Rscript, timed inside R, excluding start-up and read.csv):
``calibrate()``; per item ``svymean`` + 8 x ``svyby(svymean)`` and 8 x ``svychisq``, run for
--r-items items and scaled to 40. Ratios R / Python are printed at the same row count.

Python figures are wall-clock seconds with the process's CPU seconds (time.process_time) in
brackets: on a shared machine the CPU time is the fairer figure, and the two differ by the
waiting for a core.
"""

# ruff: noqa: E402  (BLAS threads are set before numpy is imported)
from __future__ import annotations

import os

# One BLAS thread, as Snakemake runs every rule (threads: 1 sets OPENBLAS_NUM_THREADS=1): on a
# shared 2-core machine a multi-threaded OpenBLAS made each small QR ~50x slower.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench_stats import is_breakdown, is_item, make_data, margins, meta

from parentlink.design import DesignSpec, ReplicateSpec, build_replicates, build_structure
from parentlink.estimate import (
    design_from_margins,
    estimate_table,
    estimates_and_tests,
    tests_table,
)
from parentlink.weight import calibrate, calibrate_replicates


def make_design_data(n: int, psus: int, strata: int, replicates: int) -> pd.DataFrame:
    d = make_data(n)
    rng = np.random.default_rng(16)
    psu_global = rng.integers(0, psus, n)
    d["stratum"] = psu_global % strata + 1
    d["psu"] = psu_global // strata + 1  # numbered within stratum: nest = TRUE
    if replicates:
        mult = rng.poisson(1.0, (psus, replicates)).astype(float)
        rw = d["design_weight"].to_numpy()[:, None] * mult[psu_global]
        for r in range(replicates):
            d[f"rw{r + 1}"] = rw[:, r]
    return d


class Clock:
    """Wall and CPU seconds of each named step."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._t = (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        w, c = time.perf_counter(), time.process_time()
        self.wall[name], self.cpu[name] = w - self._t[0], c - self._t[1]
        self._t = (w, c)

    def fmt(self, name: str) -> str:
        return f"{self.wall[name]:.2f} s [cpu {self.cpu[name]:.2f}]"

    def total(self, names: list[str]) -> str:
        return (f"{sum(self.wall[k] for k in names):.2f} s "
                f"[cpu {sum(self.cpu[k] for k in names):.2f}]")


def python_bench(d: pd.DataFrame, replicates: int, joint: bool = True) -> Clock:
    ms = margins()
    items = [c for c in d.columns if is_item(c)]
    brk = [c for c in d.columns if is_breakdown(c)]
    md = meta(d)
    c = Clock()
    res = calibrate(d, ms, "design_weight", calfun="raking")
    c.lap("calibrate")
    structure = build_structure(d, DesignSpec(ids=("psu",), strata="stratum", nest=True))
    des = design_from_margins(d, res.weights, ms, structure=structure,
                              projection_weights=d["design_weight"].to_numpy(float),
                              calibration_weights=res.calibrated)
    c.lap("design")
    if joint:
        tab, tests = estimates_and_tests(d, md, des, items, brk, "bench")
        c.lap("est")
        c.lap("tests")  # included in "est"
    else:
        tab = estimate_table(d, md, des, items, brk, "bench")
        c.lap("est")
        tests = tests_table(d, md, des, items, brk, "bench")
        c.lap("tests")
    steps = ["calibrate", "design", "est", "tests"]
    work = (f"estimates + Rao-Scott in one pass {c.fmt('est')}" if joint else
            f"estimates {c.fmt('est')} + Rao-Scott {c.fmt('tests')}")
    print(f"python   n={len(d):>9,}: calibrate {c.fmt('calibrate')} + design {c.fmt('design')}"
          f" + {work} ({len(tab):,} rows, {len(tests)} tests) = {c.total(steps)}  "
          f"[target <= 8 s at 1M]", flush=True)
    if replicates:
        c.lap("idle")
        reps = build_replicates(d, ReplicateSpec(pattern=r"^rw\d+$", type="bootstrap"))
        repw = calibrate_replicates(d, ms, reps.weights, calfun="raking")
        rdes = design_from_margins(d, res.weights, ms, replicates=reps, rep_weights=repw,
                                   projection_weights=d["design_weight"].to_numpy(float))
        c.lap("rep_design")
        if joint:
            estimates_and_tests(d, md, rdes, items, brk, "bench")
            c.lap("rep_est")
            c.lap("rep_tests")  # included in "rep_est"
        else:
            estimate_table(d, md, rdes, items, brk, "bench")
            c.lap("rep_est")
            tests_table(d, md, rdes, items, brk, "bench")
            c.lap("rep_tests")
        steps = ["rep_design", "rep_est", "rep_tests"]
        work = (f"estimates + Rao-Scott in one pass {c.fmt('rep_est')}" if joint else
                f"estimates {c.fmt('rep_est')} + Rao-Scott {c.fmt('rep_tests')}")
        print(f"python   n={len(d):>9,}: {replicates} replicates: re-calibrate + design "
              f"{c.fmt('rep_design')} + {work} = {c.total(steps)}  [target <= 20 s at 1M]",
              flush=True)
    return c


R_CODE = r"""
suppressPackageStartupMessages(library(survey))
a <- commandArgs(TRUE)
d <- read.csv(a[1]); m <- read.csv(a[2]); nitems <- as.integer(a[3])
vars <- c("sex","age_band","region","ethnicity","qualification")
for (v in vars) d[[v]] <- factor(d[[v]])
for (b in 0:7) d[[paste0("b", b)]] <- factor(d[[paste0("b", b)]])
tot <- sum(d$design_weight)
f <- ~sex + age_band + region + ethnicity + qualification
pop <- c(tot, unlist(lapply(vars, function(v) m$share[m$variable == v][-1] * tot)))
d0 <- svydesign(ids = ~psu, strata = ~stratum, nest = TRUE, weights = ~design_weight, data = d)
now <- function() { p <- proc.time(); c(p[["elapsed"]], p[["user.self"]] + p[["sys.self"]]) }
t0 <- now()
dc <- calibrate(d0, f, population = unname(pop), calfun = "raking")
t_cal <- now() - t0
t_svyby <- c(0, 0); t_chisq <- c(0, 0)
for (i in 0:(nitems - 1)) {
  q <- paste0("q", i); ok <- d[[q]] != 8
  t0 <- now()
  dc <- update(dc, yy = factor(ifelse(ok, d[[q]], 1)))
  ds <- subset(dc, ok)
  invisible(svymean(~yy, ds))
  for (b in 0:7) invisible(svyby(~yy, as.formula(paste0("~b", b)), ds, svymean))
  t_svyby <- t_svyby + now() - t0
  t0 <- now()
  for (b in 0:7) invisible(svychisq(as.formula(paste0("~yy+b", b)), ds, statistic = "F"))
  t_chisq <- t_chisq + now() - t0
}
cat("calibrate", t_cal, "\nsvyby", t_svyby, "\nsvychisq", t_chisq, "\n")
"""


def r_bench(d: pd.DataFrame, r_items: int) -> dict[str, dict[str, float]] | None:
    if shutil.which("Rscript") is None:
        print("R: Rscript not found, skipped")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        keep = [c for c in d.columns if not c.startswith("rw")]
        d[keep].to_csv(t / "d.csv", index=False)
        rows = [(m.name, k, float(s)) for m in margins()
                for k, s in zip(range(1, len(m.shares) + 1), m.shares, strict=True)]
        pd.DataFrame(rows, columns=["variable", "category", "share"]).to_csv(t / "m.csv",
                                                                              index=False)
        (t / "b.R").write_text(R_CODE, encoding="utf-8")
        out = subprocess.run(["Rscript", str(t / "b.R"), str(t / "d.csv"), str(t / "m.csv"),
                              str(r_items)], capture_output=True, text=True, check=True)
    vals = {k: (float(w), float(c)) for k, w, c in
            re.findall(r"^(\w+) ([\d.]+) ([\d.]+)", out.stdout, flags=re.M)}
    scale = {"calibrate": 1.0, "svyby": 40 / r_items, "svychisq": 40 / r_items}
    r = {"wall": {k: vals[k][0] * s for k, s in scale.items()},
         "cpu": {k: vals[k][1] * s for k, s in scale.items()}}
    print(f"R        n={len(d):>9,}: calibrate {r['wall']['calibrate']:.2f} s "
          f"[cpu {r['cpu']['calibrate']:.2f}]; svyby (40 x 8, scaled from {r_items} items) "
          f"{r['wall']['svyby']:.1f} s [cpu {r['cpu']['svyby']:.1f}]; svychisq "
          f"{r['wall']['svychisq']:.1f} s [cpu {r['cpu']['svychisq']:.1f}]")
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--psus", type=int, default=2000)
    ap.add_argument("--strata", type=int, default=100)
    ap.add_argument("--replicates", type=int, default=80)
    ap.add_argument("--r-rows", type=int, default=100_000)
    ap.add_argument("--r-items", type=int, default=2)
    ap.add_argument("--no-r", action="store_true")
    a = ap.parse_args()
    big = make_design_data(a.rows, a.psus, a.strata, a.replicates)
    python_bench(big, a.replicates)
    del big
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)
    print(f"peak memory (max RSS) so far: {peak:.2f} GB  [target <= 4 GB]", flush=True)
    if a.no_r:
        return
    small = make_design_data(a.r_rows, a.psus, a.strata, 0)
    py = python_bench(small, 0)
    r = r_bench(small, a.r_items)
    if r:
        for kind, t in (("wall", py.wall), ("cpu", py.cpu)):
            rr = r[kind]
            work = t["design"] + t["est"] + t["tests"]
            print(f"ratio R/python ({kind} / {kind}) at n={a.r_rows:,}: calibrate "
                  f"{rr['calibrate'] / t['calibrate']:.0f}x; svyby + svychisq vs design + "
                  f"estimates + Rao-Scott {(rr['svyby'] + rr['svychisq']) / work:.0f}x  "
                  f"[target >= 100x]")


if __name__ == "__main__":
    main()
