"""Build times of the workflow on the embedded study, in a temporary copy.

    .venv/bin/python bench/build_times.py [--cores 2] [--dependency-test]

Prints: full build with `make` (the README's command: the workflow profile, greedy scheduler)
and with plain `snakemake`; no-op `make` (the README's command, launcher included) and no-op plain
`snakemake`; a dry run after a one-line change in one briefing's template, with the jobs it
schedules (only that briefing may be re-rendered); with --dependency-test, the run time of
tests/test_dependencies.py. Targets (issue 12, 2-core machine, environment in place): no-op
`make` <= 1.5 s; dry run after a template change <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ITEMS = ("Snakefile", "config", "raw", "workflow", "src", "pyproject.toml", "Makefile")


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    took = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
    return took, res.stdout + res.stderr


def best(cmd: list[str], cwd: Path, env: dict[str, str], n: int = 3) -> float:
    return min(timed(cmd, cwd, env)[0] for _ in range(n))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cores", default="2")
    ap.add_argument("--dependency-test", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for item in ITEMS:
            src = ROOT / item
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / item)
        (work / ".venv").symlink_to(Path(sys.executable).parents[1])
        env["PYTHONPATH"] = str(work / "src")
        snakemake = [sys.executable, "-m", "snakemake", "--cores", args.cores]
        make = ["make", "-o", ".venv/.installed", f"CORES={args.cores}"]
        full_make, _ = timed(make, work, env)  # the README's command (workflow profile)
        for made in ("results", "reports", "logs", ".snakemake"):
            shutil.rmtree(work / made, ignore_errors=True)
        full, _ = timed(snakemake, work, env)  # plain snakemake: no workflow profile
        noop_make = best(make, work, env)
        noop_snakemake = best(snakemake, work, env)
        template = work / "config/templates/parents.html"  # a study template
        template.write_text(template.read_text(encoding="utf-8") + "\n<!-- edited -->\n",
                            encoding="utf-8")
        dry, out = timed([*snakemake, "-n"], work, env)
        jobs = sorted(set(re.findall(r"^(?:local)?rule (\w+):", out, flags=re.M)))
        audiences = sorted(set(re.findall(r"wildcards: audience=(\w+)", out)))
    print(f"full build, make                   {full_make:6.2f} s   (issue 17 target <= 10 s, 2 cores)")
    print(f"full build, plain snakemake        {full:6.2f} s")
    print(f"no-op make (best of 3)             {noop_make:6.2f} s   (target <= 1.5 s)")
    print(f"no-op snakemake (best of 3)        {noop_snakemake:6.2f} s")
    print(f"dry run after a template edit      {dry:6.2f} s   (target <= 2 s); schedules "
          f"{', '.join(jobs)} for {', '.join(audiences) or '-'}")
    if args.dependency_test:
        took, out = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "tests/test_dependencies.py")], ROOT, dict(os.environ))
        print(f"tests/test_dependencies.py         {took:6.2f} s   ({out.strip().splitlines()[-1]})")


if __name__ == "__main__":
    main()
