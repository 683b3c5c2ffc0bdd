"""CPU seconds of every job of a full build, in a temporary copy (issue 17: where the time goes).

    PYTHONPATH=$PWD/src .venv/bin/python bench/bench_jobs.py [--cores 2] [--study examples/schools]

Builds the study from scratch with ``python -m parentlink.build`` (what ``make`` runs) and a
``sitecustomize`` module first on PYTHONPATH that records, as each Python process exits, its CPU
(user + system, ``os.times``) and wall seconds and, for a job, its rule and wildcards. Prints one
line per job, most CPU first, then the CPU of the jobs that render (``render_briefing``,
``technical_report``, ``appendix``) and of the others, Snakemake's own, and the build's wall time.
On 2 cores a build cannot take less wall time than its total CPU / 2 (target: <= 10 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ITEMS = ("Snakefile", "config", "raw", "workflow", "src", "pyproject.toml", "Makefile", "examples")
BUILT = shutil.ignore_patterns("results", "reports", ".snakemake", "__pycache__")
RENDERING = {"render_briefing", "technical_report", "appendix"}

# Appends "cpu<TAB>wall<TAB>rule<TAB>wildcards" for each Python process of the build (a job's
# rule comes from the `snakemake` object its script is given; other processes say "-").
SITECUSTOMIZE = '''
import atexit, os, sys, time
_t0 = time.perf_counter()
def _record():
    t = os.times()
    sm = getattr(sys.modules.get("__main__"), "snakemake", None)
    rule = getattr(sm, "rule", None) or "-"
    wildcards = ",".join(f"{k}={v}" for k, v in dict(getattr(sm, "wildcards", {}) or {}).items())
    if rule == "-":
        wildcards = " ".join(sys.argv)[-80:]
    with open(os.environ["BENCH_JOBS_LOG"], "a", encoding="utf-8") as f:
        f.write(f"{t.user + t.system:.3f}\\t{time.perf_counter() - _t0:.3f}\\t{rule}\\t{wildcards}\\n")
atexit.register(_record)
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cores", default="2")
    ap.add_argument("--study", help="a study folder of this repository, e.g. examples/schools")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        for item in ITEMS:  # sources only: a study folder's earlier outputs stay behind
            src = ROOT / item
            if src.is_dir():
                shutil.copytree(src, work / item, ignore=BUILT)
            elif src.exists():
                shutil.copy2(src, work / item)
        (work / ".venv").symlink_to(Path(sys.executable).parents[1])
        site = Path(tmp) / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        log = Path(tmp) / "cpu.tsv"
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000", BENCH_JOBS_LOG=str(log),
                   PYTHONPATH=f"{site}{os.pathsep}{work / 'src'}")
        cmd = [sys.executable, "-m", "parentlink.build", "--cores", args.cores,
               *(["--study", args.study] if args.study else [])]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if res.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
        records = [line.split("\t") for line in log.read_text(encoding="utf-8").splitlines()]
    jobs = sorted(((float(cpu), float(w), rule, wc) for cpu, w, rule, wc in records if rule != "-"),
                  key=lambda r: (-r[0], r[2], r[3]))
    other = sum(float(cpu) for cpu, _, rule, _ in records if rule == "-")
    print(f"{'CPU s':>6} {'wall s':>6}  job")
    for cpu, w, rule, wc in jobs:
        print(f"{cpu:6.2f} {w:6.2f}  {rule} {wc}")
    render = sum(j[0] for j in jobs if j[2] in RENDERING)
    rest = sum(j[0] for j in jobs if j[2] not in RENDERING)
    print(f"\njobs that render          {render:6.2f} s CPU")
    print(f"other jobs                {rest:6.2f} s CPU ({len(jobs)} jobs in all)")
    print(f"snakemake and launcher    {other:6.2f} s CPU")
    print(f"total                     {render + rest + other:6.2f} s CPU; build wall {wall:.2f} s "
          f"on --cores {args.cores} (issue 17 target <= 10 s on 2 cores)")


if __name__ == "__main__":
    main()
