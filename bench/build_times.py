"""Full-build and no-op times of the workflow on the embedded study, in a temporary copy.

    .venv/bin/python bench/build_times.py [--cores 2]

Targets (issue 2, 2-core machine, environment in place): full build <= 30 s, no-op <= 2 s.
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


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env=dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    )
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cores", default="2")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for item in ("Snakefile", "config", "raw", "workflow"):
            src = ROOT / item
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / item)
        cmd = [sys.executable, "-m", "snakemake", "--cores", args.cores]
        full = timed(cmd, work)
        noop = timed(cmd, work)
        dry = timed([*cmd, "-n"], work)
    print(f"full build      {full:6.2f} s   (target <= 30 s)")
    print(f"no-op rebuild   {noop:6.2f} s   (target <= 2 s)")
    print(f"dry run         {dry:6.2f} s")


if __name__ == "__main__":
    main()
