"""Ingest time against a bare pyreadstat read, on a 1,000,000-row main survey made by the generator.

    .venv/bin/python bench/bench_ingest.py [--n 1000000]

Target (issue 3): ingest (read with metadata + privacy) <= 1.2 x the bare pyreadstat read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyreadstat

from parentlink.ingest import apply_privacy, read_raw
from parentlink.plan import load_plan
from parentlink.synth import write_main

ROOT = Path(__file__).resolve().parents[1]


def best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    plan = load_plan(ROOT / "config/plans/main.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "main_survey.sav"
        t0 = time.perf_counter()
        write_main(path, n=args.n)
        print(
            f"generated {args.n:,} records in {time.perf_counter() - t0:.1f} s "
            f"({path.stat().st_size / 1e6:.0f} MB)"
        )
        bare = best_of(
            lambda: pyreadstat.read_sav(str(path), user_missing=True, dates_as_pandas_datetime=True),
            args.repeat,
        )
        read = best_of(lambda: read_raw(path), args.repeat)

        def full() -> None:
            df, meta = read_raw(path)
            apply_privacy(df, meta, plan, "bench", 600)

        whole = best_of(full, args.repeat)
    print(f"bare pyreadstat read        {bare:6.2f} s")
    print(f"read_raw (metadata+sha256)  {read:6.2f} s   ratio {read / bare:.2f} (target <= 1.2)")
    print(f"read_raw + privacy          {whole:6.2f} s   ratio {whole / bare:.2f}")


if __name__ == "__main__":
    main()
