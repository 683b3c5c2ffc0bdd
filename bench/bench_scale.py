"""Scale scenario end to end (config/scale.yaml) in a temporary copy: wall time and peak memory.

    .venv/bin/python bench/bench_scale.py [--cores 2] [--keep DIR] [--interval 0.1]

Two timed snakemake runs in a copy of Snakefile, config, raw, workflow and pyproject.toml:

1. generation: ``snakemake --cores 2 --configfile config/scale.yaml --
   results/synthetic/main_survey_1000000.sav`` (the project's generator; NOT part of the target);
2. the scenario: ``snakemake --cores 2 --configfile config/scale.yaml -- scale``
   (ingest -> clean -> weight -> estimate; target <= 120 s, peak memory <= 6 GB).

Memory is measured two ways:
- ``/usr/bin/time -v`` "Maximum resident set size" (else ``resource.getrusage(RUSAGE_CHILDREN)``):
  the max RSS of the single largest process in the tree, not the sum of concurrent processes;
- a psutil sampler (every --interval s) of the SUM of RSS over snakemake and all its descendants
  (what the machine must hold at once with --cores 2) and the peak RSS and life time of each rule's
  script process (snakemake runs ``script:`` rules as
  ``python .snakemake/scripts/tmpXXX.<name>.py``).

Per-rule times come from that sampler (process start to exit, 0.1 s resolution) and, as a check,
from the second-resolution timestamps snakemake prints around each job.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N = 1_000_000
TARGET_S, TARGET_GB = 120.0, 6.0

try:
    import psutil
except ImportError:  # the sampler is optional; /usr/bin/time or getrusage still give the peak
    psutil = None


class Sampler(threading.Thread):
    """Samples the process tree under `pid`: total RSS, and per rule-script process RSS/lifetime."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_total = 0
        self.procs: dict[int, dict] = {}  # pid -> {name, start, last, rss}
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            total, now = 0, time.time()
            for p in tree:
                try:
                    rss = p.memory_info().rss
                    total += rss
                    if p.pid not in self.procs:
                        cmd = " ".join(p.cmdline())
                        m = re.search(r"\.snakemake/scripts/tmp[^.]*\.([\w-]+)\.py", cmd)
                        self.procs[p.pid] = {"name": m.group(1) if m else None,
                                             "start": p.create_time(), "last": now, "rss": rss}
                    rec = self.procs[p.pid]
                    rec["last"], rec["rss"] = now, max(rec["rss"], rss)
                except psutil.Error:
                    continue
            self.peak_total = max(self.peak_total, total)
            self.stop.wait(self.interval)


def time_v_peak_kb(stderr: str) -> int | None:
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return int(m.group(1)) if m else None


def job_times(stdout: str) -> list[tuple[str, float]]:
    """Per-job seconds from snakemake's '[date]' lines around 'rule X:' / 'Finished jobid: N'."""
    stamp, starts, out = None, {}, []
    rule = None
    for line in stdout.splitlines():
        s = line.strip()
        m = re.fullmatch(r"\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]", s)
        if m:
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            continue
        m = re.fullmatch(r"(?:local)?rule (\w+):", s)
        if m:
            rule = m.group(1)
            continue
        m = re.fullmatch(r"jobid: (\d+)", s)
        if m and rule and stamp:
            starts[m.group(1)] = (rule, stamp)
            rule = None
            continue
        m = re.match(r"Finished job(?:id)? (\d+)|Finished jobid: (\d+)", s)
        if m and stamp:
            jid = m.group(1) or m.group(2)
            if jid in starts:
                r, t0 = starts.pop(jid)
                out.append((r, (stamp - t0).total_seconds()))
    return out


def run(label: str, cmd: list[str], cwd: Path, env: dict, interval: float) -> dict:
    timev = Path("/usr/bin/time")
    full = [str(timev), "-v", *cmd] if timev.exists() else cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sampler = Sampler(proc.pid, interval) if psutil else None
    if sampler:
        sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if sampler:
        sampler.stop.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB on Linux, per-process max
    peak_kb = time_v_peak_kb(err) or (after if after > before else None)
    (cwd / f"bench_{label}.stdout").write_text(out)
    (cwd / f"bench_{label}.stderr").write_text(err)
    res = {"rc": proc.returncode, "wall": wall, "peak_process_gb": (peak_kb or 0) / 1e6,
           "stdout": out, "stderr": err, "sampler": sampler}
    if proc.returncode != 0:
        print(f"{label}: FAILED (exit {proc.returncode}) after {wall:.1f} s; last stderr:\n"
              f"{err[-4000:]}")
    return res


def report_rules(res: dict) -> None:
    s = res["sampler"]
    if s:
        rules = [r for r in s.procs.values() if r["name"]]
        for r in sorted(rules, key=lambda r: r["start"]):
            print(f"    rule script {r['name']:<12} {r['last'] - r['start']:7.1f} s   "
                  f"peak RSS {r['rss'] / 1e9:5.2f} GB")
        print(f"    peak total RSS of snakemake + all children (sampled): "
              f"{s.peak_total / 1e9:.2f} GB")
    jt = job_times(res["stdout"] + "\n" + res["stderr"])
    if jt:
        print("    per job from snakemake timestamps (1 s resolution): "
              + ", ".join(f"{r} {t:.0f} s" for r, t in jt))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cores", default="2")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--keep", help="work in this directory (kept) instead of a temporary one")
    a = ap.parse_args()
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    tmp = tempfile.TemporaryDirectory() if a.keep is None else None
    work = Path(a.keep or tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "config", "raw", "workflow", "pyproject.toml"):
        src, dst = ROOT / item, work / item
        if dst.exists():
            continue
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    smk = [sys.executable, "-m", "snakemake", "--cores", a.cores,
           "--configfile", "config/scale.yaml", "--"]
    print(f"scale scenario in {work} (cores={a.cores}, CPUs={os.cpu_count()}); load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine skews times)")
    gen = run("generate", [*smk, f"results/synthetic/main_survey_{N}.sav"], work, env,
              a.interval)
    sav = work / f"results/synthetic/main_survey_{N}.sav"
    size = f" ({sav.stat().st_size / 1e6:.0f} MB .sav)" if sav.exists() else ""
    print(f"generation (not in target)   {gen['wall']:7.1f} s   "
          f"peak process RSS {gen['peak_process_gb']:.2f} GB{size}")
    report_rules(gen)
    if gen["rc"] != 0:
        sys.exit(1)
    sc = run("scale", [*smk, "scale"], work, env, a.interval)
    total_gb = sc["sampler"].peak_total / 1e9 if sc["sampler"] else float("nan")
    print(f"ingest -> estimates (scale)  {sc['wall']:7.1f} s   (target <= {TARGET_S:.0f} s)   "
          f"peak process RSS {sc['peak_process_gb']:.2f} GB, peak total RSS {total_gb:.2f} GB "
          f"(target <= {TARGET_GB:.0f} GB)   run {'completed' if sc['rc'] == 0 else 'FAILED'}")
    report_rules(sc)
    ok = (sc["rc"] == 0 and sc["wall"] <= TARGET_S
          and max(sc["peak_process_gb"], total_gb if total_gb == total_gb else 0) <= TARGET_GB)
    print(f"scale scenario: {'meets' if ok else 'MISSES'} the targets; load average at end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if tmp:
        tmp.cleanup()
    sys.exit(0 if sc["rc"] == 0 else 1)


if __name__ == "__main__":
    main()
