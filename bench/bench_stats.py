"""Benchmark the statistics stages against R's survey package and weightipy, in one run.

Usage:
    .venv/bin/python bench/bench_stats.py [--rows 1000000] [--r-rows 100000] [--no-r]
        [--weightipy-python /tmp/wvenv/bin/python] [--repeat 3]

Workload (issue text): raking of 1M rows x 5 margins (2+5+12+5+4 categories, lognormal design
weight; target <= 0.3 s); 40 items (3 categories + don't know, excluded from the base) x 8
breakdowns (+ whole sample) at 1M with calibrated SEs, logit CIs AND the Rao–Scott F tests
(``estimate_table`` + ``tests_table``; target <= 15 s).

R (``survey``) at --r-rows (100k; 1M is too slow), timed inside Rscript (excluding start-up
and reading the CSV): ``rake()``; ``svyby(~item, ~b, subset(calibrated design, valid), svymean)``
for 40 items x 8 breakdowns + ``svymean`` whole sample (SEs only: R computes no CIs here); and
``svychisq(~item + b, ..., statistic = "F")`` for 40 x 8. Python is timed on the same data at the
same row count and the ratios R / Python are printed.

weightipy (installed in a SEPARATE venv, see bench/requirements-bench.txt; run through
``--weightipy-python``) rakes the same 5 margins at 1M and at --r-rows. weightipy always starts
from unit seed weights (it has no design-weight input), so it is compared with parentlink's
``rake()`` from unit seed weights on the same data; its time is measured inside its process
around ``weightipy.weight()``. The max margin error (max over margin categories of |weighted
share - target share|) is computed here, by the same function, for every tool's weights.

Data exchange: parquet (weightipy) and CSV (R) files in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from parentlink.estimate import design_from_margins, estimate_table, tests_table
from parentlink.weight import Margin, margin_index, rake

SIZES = {"sex": 2, "age_band": 5, "region": 12, "ethnicity": 5, "qualification": 4}
RAKE_VARS = list(SIZES)


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


def is_item(c: str) -> bool:  # q0..q39 (not "qualification", a raking variable)
    return re.fullmatch(r"q\d+", c) is not None


def is_breakdown(c: str) -> bool:  # b0..b7
    return re.fullmatch(r"b\d+", c) is not None


def meta(d: pd.DataFrame) -> dict:
    v = {}
    for c in d.columns:
        if is_item(c):
            v[c] = {"label": c, "value_labels": {"1": "a", "2": "b", "3": "c", "8": "dk"},
                    "exclude_from_base": [8]}
        elif is_breakdown(c):
            v[c] = {"label": c, "value_labels": {str(k): str(k) for k in range(1, 6)}}
    return {"variables": v}


def margin_error(idx: list[np.ndarray], ms: list[Margin], w: np.ndarray) -> float:
    """Max over margin categories of |weighted share - target share| (a fraction, not %)."""
    w = np.asarray(w, dtype=float)
    tot = float(w.sum())
    return max(float(np.max(np.abs(np.bincount(ix, weights=w, minlength=len(m.shares)) / tot
                                   - m.shares))) for ix, m in zip(idx, ms, strict=True))


def best_of(fn, repeat: int):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def python_bench(d: pd.DataFrame, repeat: int) -> dict:
    """parentlink: rake (design seed and unit seed), then estimates and Rao–Scott tests."""
    n = len(d)
    ms = margins()
    idx = [margin_index(d, m) for m in ms]
    r: dict = {"n": n}
    r["rake"], res = best_of(lambda: rake(d, ms, "design_weight"), repeat)
    r["rake_sweeps"], r["rake_err"] = res.iterations, margin_error(idx, ms, res.weights)
    ones = np.ones(n)
    r["rake1"], res1 = best_of(lambda: rake(d, ms, ones), repeat)
    r["rake1_sweeps"], r["rake1_err"] = res1.iterations, margin_error(idx, ms, res1.weights)
    items = [c for c in d.columns if is_item(c)]
    brk = [c for c in d.columns if is_breakdown(c)]
    md = meta(d)
    t0 = time.perf_counter()
    des = design_from_margins(d, res.weights, ms)
    r["design"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tab = estimate_table(d, md, des, items, brk, "bench")
    r["est"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tests = tests_table(d, md, des, items, brk, "bench")
    r["tests"] = time.perf_counter() - t0
    r["est_rows"], r["test_rows"] = len(tab), len(tests)
    r["est_total"] = r["design"] + r["est"] + r["tests"]
    print(f"python   n={n:>9,}: rake {r['rake']:.3f} s ({r['rake_sweeps']} sweeps, max margin "
          f"error {r['rake_err']:.1e}); rake from unit seed {r['rake1']:.3f} s "
          f"({r['rake1_sweeps']} sweeps, error {r['rake1_err']:.1e})  [best of {repeat}]")
    print(f"python   n={n:>9,}: design {r['design']:.2f} s + estimates {r['est']:.2f} s "
          f"({len(tab):,} rows: p, SE, logit CI) + Rao-Scott tests {r['tests']:.2f} s "
          f"({len(tests)} tests) = {r['est_total']:.2f} s")
    return r


R_CODE = r"""
suppressPackageStartupMessages(library(survey))
a <- commandArgs(TRUE)
d <- read.csv(a[1])
m <- read.csv(a[2])
nitems <- as.integer(a[4])
vars <- c("sex","age_band","region","ethnicity","qualification")
for (v in vars) d[[v]] <- factor(d[[v]])
for (b in 0:7) d[[paste0("b", b)]] <- factor(d[[paste0("b", b)]])
tot <- sum(d$design_weight)
pm <- lapply(vars, function(v) { x <- m[m$variable == v, ]
  df <- data.frame(factor(x$category), Freq = x$share * tot); names(df)[1] <- v; df })
d0 <- svydesign(ids = ~1, weights = ~design_weight, data = d)
t0 <- proc.time()[["elapsed"]]
dr <- rake(d0, lapply(vars, function(v) as.formula(paste0("~", v))), pm,
           control = list(maxit = 500, epsilon = 1e-8))
t_rake <- proc.time()[["elapsed"]] - t0
write.csv(data.frame(w = weights(dr)), a[3], row.names = FALSE)
d$fw <- weights(dr)
f <- ~sex + age_band + region + ethnicity + qualification
t0 <- proc.time()[["elapsed"]]
dc <- calibrate(svydesign(ids = ~1, weights = ~fw, data = d), f,
                population = colSums(model.matrix(f, d) * d$fw), calfun = "linear")
t_cal <- proc.time()[["elapsed"]] - t0
t_svyby <- 0; t_chisq <- 0
for (i in 0:(nitems - 1)) {
  q <- paste0("q", i)
  ok <- d[[q]] != 8
  t0 <- proc.time()[["elapsed"]]
  dc <- update(dc, yy = factor(ifelse(ok, d[[q]], 1)))
  ds <- subset(dc, ok)
  invisible(svymean(~yy, ds))
  for (b in 0:7) invisible(svyby(~yy, as.formula(paste0("~b", b)), ds, svymean))
  t_svyby <- t_svyby + proc.time()[["elapsed"]] - t0
  t0 <- proc.time()[["elapsed"]]
  for (b in 0:7) invisible(svychisq(as.formula(paste0("~yy+b", b)), ds, statistic = "F"))
  t_chisq <- t_chisq + proc.time()[["elapsed"]] - t0
}
cat("rake", t_rake, "\ncalibrate", t_cal, "\nsvyby", t_svyby, "\nsvychisq", t_chisq, "\n")
cat("version", as.character(packageVersion("survey")), R.version$major, R.version$minor, "\n")
"""


def write_margins_csv(path: Path) -> None:
    rows = [{"variable": m.name, "category": c[0], "share": s}
            for m in margins() for c, s in zip(m.categories, m.shares, strict=True)]
    pd.DataFrame(rows).to_csv(path, index=False)


def r_bench(d: pd.DataFrame, tmp: Path, r_items: int) -> dict | None:
    if shutil.which("Rscript") is None:
        print("R: Rscript not found, skipped")
        return None
    n = len(d)
    d.to_csv(tmp / "d.csv", index=False)
    write_margins_csv(tmp / "m.csv")
    (tmp / "b.R").write_text(R_CODE)
    out = subprocess.run(["Rscript", str(tmp / "b.R"), str(tmp / "d.csv"), str(tmp / "m.csv"),
                          str(tmp / "rw.csv"), str(r_items)], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"R failed:\n{out.stderr[-3000:]}")
        return None
    vals = {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines() if ln.strip()}
    r = {k: float(vals[k][0]) for k in ("rake", "calibrate", "svyby", "svychisq")}
    scale = 40 / r_items
    r["svyby"] *= scale
    r["svychisq"] *= scale
    ms = margins()
    w = pd.read_csv(tmp / "rw.csv")["w"].to_numpy()
    r["rake_err"] = margin_error([margin_index(d, m) for m in ms], ms, w)
    v = vals["version"]
    note = "" if r_items == 40 else f" (measured on {r_items} items, scaled x{scale:g} to 40)"
    print(f"R        n={n:>9,}: rake {r['rake']:.3f} s (max margin error {r['rake_err']:.1e}); "
          f"calibrate {r['calibrate']:.2f} s + svyby {r['svyby']:.2f} s (40 items x 8 + all, "
          f"SEs only) ; svychisq {r['svychisq']:.2f} s (320 tests){note}  "
          f"[survey {v[0]}, R {v[1]}.{v[2]}]")
    return r


W_CODE = r"""
import contextlib, io, json, sys, time
import pandas as pd, weightipy as wp
d = pd.read_parquet(sys.argv[1])
m = pd.read_csv(sys.argv[2])
scheme = {v: {int(c): 100.0 * float(s) for c, s in zip(g["category"], g["share"])}
          for v, g in m.groupby("variable", sort=False)}
sch = wp.scheme_from_dict(scheme, name="bench")
buf = io.StringIO()
t0 = time.perf_counter()
with contextlib.redirect_stdout(buf):
    w = wp.weight(d, sch)
t = time.perf_counter() - t0
pd.DataFrame({"w": w.to_numpy(dtype=float)}).to_parquet(sys.argv[3])
print(json.dumps({"time": t, "iterations": int(sch.groups["global_group"]["iterations"]),
                  "messages": buf.getvalue().strip(), "version": wp.__version__}))
"""


def weightipy_bench(d: pd.DataFrame, tmp: Path, py: str | None) -> dict | None:
    if not py:
        print("weightipy: skipped (give --weightipy-python, a venv with weightipy; "
              "see bench/requirements-bench.txt)")
        return None
    if not Path(py).exists():
        print(f"weightipy: skipped ({py} does not exist; see bench/requirements-bench.txt)")
        return None
    n = len(d)
    d[RAKE_VARS].astype("int64").to_parquet(tmp / f"w{n}.parquet")
    write_margins_csv(tmp / "m.csv")
    (tmp / "w.py").write_text(W_CODE)
    out = subprocess.run([py, str(tmp / "w.py"), str(tmp / f"w{n}.parquet"), str(tmp / "m.csv"),
                          str(tmp / f"ww{n}.parquet")], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"weightipy failed:\n{out.stderr[-3000:]}")
        return None
    r = json.loads(out.stdout.strip().splitlines()[-1])
    ms = margins()
    w = pd.read_parquet(tmp / f"ww{n}.parquet")["w"].to_numpy()
    r["err"] = margin_error([margin_index(d, m) for m in ms], ms, w)
    msg = " ".join(r["messages"].split())
    print(f"weightipy n={n:>9,}: rake {r['time']:.3f} s ({r['iterations']} iterations, max margin "
          f"error {r['err']:.1e}) [weightipy {r['version']}, unit seed]"
          + (f"; it printed: \"{msg}\"" if msg else ""))
    return r


def ratio(a: float, b: float) -> str:
    return f"{a / b:,.0f}x" if a / b >= 10 else f"{a / b:.1f}x"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--r-rows", type=int, default=100_000)
    ap.add_argument("--r-items", type=int, default=40,
                    help="items R runs (svyby/svychisq scaled to 40); default all 40")
    ap.add_argument("--repeat", type=int, default=3, help="best-of for the raking times")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--weightipy-python", default=None,
                    help="python of a venv with weightipy (e.g. /tmp/wvenv/bin/python)")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    big, small = make_data(a.rows), make_data(a.r_rows)
    py = python_bench(big, a.repeat)
    py_s = python_bench(small, a.repeat)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        wi = weightipy_bench(big, tmp, a.weightipy_python)
        wi_s = weightipy_bench(small, tmp, a.weightipy_python) if wi else None
        r = None if a.no_r else r_bench(small, tmp, a.r_items)
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n=== summary ===")
    print(f"rake {a.rows:,} x 5 margins        {py['rake']:7.3f} s   (target <= 0.3 s)   "
          f"{'OK' if py['rake'] <= 0.3 else 'MISSED'}")
    print(f"40 x 8 estimates+SE+CI+tests {a.rows:,} {py['est_total']:7.2f} s   (target <= 15 s)   "
          f"{'OK' if py['est_total'] <= 15 else 'MISSED'}")
    if r:
        rk, by, cs = (r["rake"] / py_s["rake"], (r["calibrate"] + r["svyby"])
                      / (py_s["design"] + py_s["est"]), r["svychisq"] / py_s["tests"])
        print(f"R / python at n={a.r_rows:,}: rake {ratio(r['rake'], py_s['rake'])}, "
              f"svyby (+calibrate) vs estimate_table (+design) "
              f"{ratio(r['calibrate'] + r['svyby'], py_s['design'] + py_s['est'])}, "
              f"svychisq vs tests_table {ratio(r['svychisq'], py_s['tests'])}  "
              f"(target >= 100x: "
              f"{', '.join('OK' if x >= 100 else 'MISSED' for x in (rk, by, cs))})")
        print(f"max margin error at n={a.r_rows:,}: python {py_s['rake_err']:.1e}, "
              f"R {r['rake_err']:.1e}")
    for w, p in ((wi, py), (wi_s, py_s)):
        if w:
            print(f"weightipy / python (unit seed) at n={p['n']:,}: rake "
                  f"{ratio(w['time'], p['rake1'])}; max margin error weightipy {w['err']:.1e} "
                  f"({w['iterations']} iterations) vs python {p['rake1_err']:.1e} "
                  f"({p['rake1_sweeps']} sweeps)")


if __name__ == "__main__":
    main()
