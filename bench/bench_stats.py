"""Benchmark the statistics stages: raking and estimates at 1M rows; R's survey at 100k rows.

Usage: .venv/bin/python bench/bench_stats.py [--rows 1000000] [--r-rows 100000] [--no-r]
Estimates: 40 items (3 categories + don't know) x 8 breakdowns (+ whole sample), calibrated
to 5 raking margins. R: rake() then svyby(~item, ~group, svymean) on a calibrate()d design for
the same workload, timed inside Rscript (excluding start-up and data loading).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from parentlink.estimate import design_from_margins, estimate_table
from parentlink.weight import Margin, rake

SIZES = {"sex": 2, "age_band": 5, "region": 12, "ethnicity": 5, "qualification": 4}


def make_data(n: int, items: int = 40, breakdowns: int = 8, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {v: rng.integers(1, s + 1, n) for v, s in SIZES.items()}
    for b in range(breakdowns):
        cols[f"b{b}"] = rng.integers(1, 6, n)
    for i in range(items):
        cols[f"q{i}"] = rng.choice([1, 2, 3, 8], n, p=[0.3, 0.35, 0.28, 0.07])
    d = pd.DataFrame(cols).astype("Int64")
    d["design_weight"] = rng.lognormal(0, 0.4, n)
    return d


def margins() -> list[Margin]:
    rng = np.random.default_rng(7)
    out = []
    for v, s in SIZES.items():
        sh = rng.dirichlet(np.full(s, 5.0))
        out.append(Margin((v,), tuple((k,) for k in range(1, s + 1)),
                          tuple(str(k) for k in range(1, s + 1)), sh / sh.sum(), "bench"))
    return out


def meta(d: pd.DataFrame) -> dict:
    v = {}
    for c in d.columns:
        if c.startswith("q"):
            v[c] = {"label": c, "value_labels": {"1": "a", "2": "b", "3": "c", "8": "dk"},
                    "exclude_from_base": [8]}
        elif c.startswith("b"):
            v[c] = {"label": c, "value_labels": {str(k): str(k) for k in range(1, 6)}}
    return {"variables": v}


def python_bench(n: int) -> tuple[float, float]:
    d = make_data(n)
    ms = margins()
    t0 = time.perf_counter()
    res = rake(d, ms, "design_weight")
    t_rake = time.perf_counter() - t0
    t0 = time.perf_counter()
    des = design_from_margins(d, res.weights, ms)
    items = [c for c in d.columns if c.startswith("q")]
    brk = [c for c in d.columns if c.startswith("b")]
    tab = estimate_table(d, meta(d), des, items, brk, "bench")
    t_est = time.perf_counter() - t0
    print(f"python n={n:,}: rake {t_rake:.3f} s ({res.iterations} sweeps); "
          f"estimates {t_est:.2f} s for {len(tab):,} rows (40 items x 8 breakdowns + all)")
    return t_rake, t_est


R_CODE = r"""
suppressPackageStartupMessages(library(survey))
d <- read.csv(commandArgs(TRUE)[1])
m <- read.csv(commandArgs(TRUE)[2])
vars <- c("sex","age_band","region","ethnicity","qualification")
for (v in vars) d[[v]] <- factor(d[[v]])
tot <- sum(d$design_weight)
pm <- lapply(vars, function(v) { x <- m[m$variable == v, ]
  df <- data.frame(factor(x$category), Freq = x$share * tot); names(df)[1] <- v; df })
d0 <- svydesign(ids = ~1, weights = ~design_weight, data = d)
t0 <- proc.time()[["elapsed"]]
dr <- rake(d0, lapply(vars, function(v) as.formula(paste0("~", v))), pm,
           control = list(maxit = 500, epsilon = 1e-8))
t_rake <- proc.time()[["elapsed"]] - t0
d$fw <- weights(dr)
f <- ~sex + age_band + region + ethnicity + qualification
dc <- calibrate(svydesign(ids = ~1, weights = ~fw, data = d), f,
                population = colSums(model.matrix(f, d) * d$fw), calfun = "linear")
t0 <- proc.time()[["elapsed"]]
for (i in 0:39) {
  q <- paste0("q", i)
  ok <- d[[q]] != 8
  dc <- update(dc, yy = factor(ifelse(ok, d[[q]], 1)))
  ds <- subset(dc, ok)
  invisible(svymean(~yy, ds))
  for (b in 0:7) invisible(svyby(~yy, as.formula(paste0("~b", b)), ds, svymean))
}
t_est <- proc.time()[["elapsed"]] - t0
cat(t_rake, t_est, "\n")
"""


def r_bench(n: int) -> tuple[float, float] | None:
    if shutil.which("Rscript") is None:
        print("R: Rscript not found, skipped")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        d = make_data(n)
        d.to_csv(Path(tmp) / "d.csv", index=False)
        rows = [{"variable": m.name, "category": c[0], "share": s}
                for m in margins() for c, s in zip(m.categories, m.shares, strict=True)]
        pd.DataFrame(rows).to_csv(Path(tmp) / "m.csv", index=False)
        (Path(tmp) / "b.R").write_text(R_CODE)
        out = subprocess.run(["Rscript", str(Path(tmp) / "b.R"), str(Path(tmp) / "d.csv"),
                              str(Path(tmp) / "m.csv")], capture_output=True, text=True,
                             check=True)
    t_rake, t_est = (float(x) for x in out.stdout.split())
    print(f"R      n={n:,}: rake {t_rake:.3f} s; estimates {t_est:.2f} s (same workload)")
    return t_rake, t_est


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--r-rows", type=int, default=100_000)
    ap.add_argument("--no-r", action="store_true")
    a = ap.parse_args()
    py = python_bench(a.rows)
    py_small = python_bench(a.r_rows)
    r = None if a.no_r else r_bench(a.r_rows)
    if r:
        print(f"ratio R/python at n={a.r_rows:,}: rake {r[0] / py_small[0]:.0f}x, "
              f"estimates {r[1] / py_small[1]:.0f}x; python at n={a.rows:,} vs R at "
              f"n={a.r_rows:,}: rake {r[0] / py[0]:.1f}x, estimates {r[1] / py[1]:.1f}x")


if __name__ == "__main__":
    main()
