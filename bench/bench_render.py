"""Render times of the briefings, the technical report and the appendices, in a temporary copy
after a full build.

    PYTHONPATH=$PWD/src .venv/bin/python bench/bench_render.py [--cores 2] [--profile] [--keep DIR]

Prints seconds per document and in total for the render jobs (render_briefing x 3,
technical_report, and appendix per survey), against the targets: a briefing <= 1.5 s, the
technical report <= 3 s (issue 17); the appendices run as parallel jobs. Then the pages of each PDF and what
parentlink.layout finds wrong in it (overprinted or overflowing text):

- WeasyPrint import cost, measured alone in fresh interpreters (min and median of 3);
- one job at a time: `snakemake --cores 1 --forcerun <rule> -- <pdf>`, wall time of the whole
  invocation (Snakemake start-up and DAG included) and the in-job time;
- as parallel jobs: `snakemake --cores N --forcerun render_briefing technical_report`, total wall
  time and the in-job time of each document;
- in-process, WeasyPrint already imported: template + layout + PDF of each document alone.

In-job time = PDF modification time minus the job's log-file creation (birth) time: the render
script opens its log after its imports, so this is the document's render (template, WeasyPrint import,
layout, PDF write) without the interpreter start. --profile runs cProfile on one in-process
render of the technical report and prints the top functions. Touches neither results/ nor
reports/ of the repository.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
AUDIENCES = ["local_authorities", "national_policy", "parents"]
SURVEYS = ["main", "pilot"]
JOBS = [("render_briefing", f"reports/briefings/{a}.pdf", f"logs/render/{a}.log") for a in AUDIENCES] + [
    ("technical_report", "reports/technical_report.pdf", "logs/render/technical_report.log")
] + [("appendix", f"reports/appendix/{s}_tables.pdf", f"logs/render/appendix_{s}.log")
     for s in SURVEYS]
TARGET_S = {"render_briefing": 1.5, "technical_report": 3.0}  # issue 17


def run(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return time.perf_counter() - t0


def birth_time(path: Path) -> float:
    """Creation time (statx birth time; Python's os.stat has none on Linux)."""
    out = subprocess.run(["stat", "-c", "%.9W", str(path)], capture_output=True, text=True,
                         check=True).stdout.strip()
    if float(out) == 0:  # file system without birth times: the job logs warnings, so mtime won't do
        sys.exit(f"{path}: no file birth time on this file system; in-job times unavailable.")
    return float(out)


def in_job(work: Path, pdf: str, log: str) -> float:
    # The log is written to (WeasyPrint warnings), so its creation, not modification, marks the start.
    return (work / pdf).stat().st_mtime - birth_time(work / log)


def import_cost(module: str, repeat: int = 3) -> list[float]:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env=ENV).stdout)
        for _ in range(repeat)
    ]


def renderers(work: Path) -> dict[str, Callable[[Path], None]]:
    """The render calls workflow/scripts/render.py makes, for in-process timing and profiling."""
    import yaml

    from parentlink import render
    from parentlink.wording import load_facts

    config = yaml.safe_load((work / "config" / "config.yaml").read_text(encoding="utf-8"))
    res = work / "results"
    min_cell = int(config.get("disclosure", {}).get("min_cell", 10))
    common = {
        "facts": load_facts(res / "report" / "facts.json"),
        "alt_text": json.loads((res / "figures" / "alt_text.json").read_text(encoding="utf-8")),
        "quotes": json.loads((res / "report" / "parent_quotes.json").read_text(encoding="utf-8")),
        "study": dict(config["study"]),
        "templates_dir": work / "config" / "templates",
        "engine_dir": work / "workflow" / "templates",
        "fonts_dir": work / "workflow" / "fonts",
        "results_dir": res,
    }
    out: dict[str, Callable[[Path], None]] = {}
    spec = yaml.safe_load((work / "config" / "report.yaml").read_text(encoding="utf-8"))["report"]
    for a in AUDIENCES:
        out[a] = lambda d, a=a: render.render_briefing(  # type: ignore[misc]
            audience=a, document=spec["documents"][a], out_pdf=d / f"{a}.pdf",
            out_html=d / f"{a}.html", **common)
    surveys = sorted(config["surveys"])

    def technical(d: Path) -> None:
        render.render_technical_report(
            **common, out_pdf=d / "technical_report.pdf",
            flows={s: res / "clean" / f"{s}_flow.csv" for s in surveys},
            diagnostics={"main": res / "weights" / "main_diagnostics.json"},
            code_frequencies=res / "documents" / "code_frequencies.csv",
            hashed_inputs=[res / "tables" / "main_estimates.csv"], project_root=work,
            min_cell=min_cell, version="bench",
            appendices=[f"reports/appendix/{s}_tables.pdf" for s in surveys])

    for s in surveys:
        out[f"appendix_{s}"] = lambda d, s=s: render.render_appendix(  # type: ignore[misc]
            survey=s, survey_label=config["surveys"][s].get("label") or s,
            weighted=bool(config["surveys"][s]["weighted"]),
            population=str(spec.get("population") or "respondents"),
            min_base=int(config.get("disclosure", {}).get("min_base", 50)),
            study=common["study"],
            estimates=res / "tables" / f"{s}_estimates.csv",
            codebook=res / "codebook" / f"{s}.csv", version="bench", min_cell=min_cell,
            out_pdf=d / f"{s}_tables.pdf",
            **{k: common[k] for k in ("templates_dir", "engine_dir", "fonts_dir", "results_dir")})

    out["technical_report"] = technical
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cores", default="2")
    ap.add_argument("--profile", action="store_true", help="cProfile one technical report render")
    ap.add_argument("--keep", type=Path, help="build in this folder and leave it (default: temp)")
    args = ap.parse_args()
    tmp = None
    if args.keep:
        work = args.keep
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory()
        work = Path(tmp.name)
    try:
        for item in ("Snakefile", "config", "raw", "workflow", "pyproject.toml"):
            src, dst = ROOT / item, work / item
            if dst.exists():
                continue
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
        sm = [sys.executable, "-m", "snakemake"]
        full = run([*sm, "--cores", args.cores], work)
        print(f"full build (setup)                 {full:6.2f} s")

        wp = import_cost("weasyprint")
        pr = import_cost("parentlink.render")
        print(f"import weasyprint (fresh process)  {min(wp):6.2f} s min, "
              f"{statistics.median(wp):.2f} s median")
        print(f"import parentlink.render           {min(pr):6.2f} s min (jinja2; no pandas, no weasyprint)")

        print("\none at a time (snakemake --cores 1 --forcerun <rule> -- <pdf>)")
        print(f"  {'document':<20} {'wall s':>7} {'in-job s':>9}")
        seq_total = 0.0
        for rule, pdf, log in JOBS:
            wall = run([*sm, "--cores", "1", "--forcerun", rule, "--", pdf], work)
            seq_total += wall
            print(f"  {Path(pdf).stem:<20} {wall:7.2f} {in_job(work, pdf, log):9.2f}")
        print(f"  {'total':<20} {seq_total:7.2f}")

        rules = sorted({r for r, _, _ in JOBS})
        print(f"\nparallel (snakemake --cores {args.cores} --forcerun {' '.join(rules)})")
        wall = run([*sm, "--cores", args.cores, "--forcerun", *rules], work)
        for rule, pdf, log in JOBS:
            sec = in_job(work, pdf, log)
            target = TARGET_S.get(rule)
            flag = "" if target is None or sec <= target else f"  > {target:.0f} s target"
            print(f"  {Path(pdf).stem:<20} {'':7} {sec:9.2f}{flag}")
        print(f"  {'total wall':<20} {wall:7.2f}   ({len(JOBS)} jobs on {args.cores} cores)")

        sys.path.insert(0, str(ROOT / "src"))
        from parentlink.layout import layout_problems, read_words

        print("\npages and layout problems (parentlink.layout)")
        for _rule, pdf, _log in JOBS:
            problems = layout_problems(work / pdf)
            print(f"  {Path(pdf).stem:<20} {len(read_words(work / pdf)):4d} pages "
                  f"{len(problems):4d} problems" + (f": {problems[0]}" if problems else ""))

        os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")
        t0 = time.perf_counter()
        import weasyprint  # noqa: F401

        print(f"\nin-process, weasyprint imported once ({time.perf_counter() - t0:.2f} s)")
        docs = renderers(work)
        out = work / "bench_out"
        out.mkdir(exist_ok=True)
        for name, fn in docs.items():
            t0 = time.perf_counter()
            fn(out)
            print(f"  {name:<20} {'':7} {time.perf_counter() - t0:9.2f}")

        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            docs["technical_report"](out)
            prof.disable()
            for key in ("cumulative", "tottime"):
                buf = io.StringIO()
                pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(18)
                print(f"\ncProfile technical_report, top by {key}")
                print("\n".join(buf.getvalue().splitlines()[6:32]))
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
