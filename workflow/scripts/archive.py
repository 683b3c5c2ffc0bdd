"""Rule archive: every contract output -> results/archive/<name>-<version>.zip (deposit bundle)."""

import os
import sys
import time
from pathlib import Path

from parentlink.archive import build_bundle
from parentlink.errors import run_stage

sm = snakemake  # type: ignore[name-defined] # noqa: F821


def main() -> None:
    t0 = time.monotonic()
    res = build_bundle(
        Path.cwd(),
        Path(sm.output[0]),
        dict(sm.params.config),
        snakemake_cmd=[sys.executable, "-m", "snakemake"],
        wheel_cache=Path(sm.params.wheel_cache),
        epoch=int(sm.params.build_epoch),
        allow_dirty=os.environ.get("PARENTLINK_ARCHIVE_ALLOW_DIRTY", "") not in ("", "0"),
        contract_outputs=list(sm.input.outputs),
    )
    lines = [*res.warnings,
             f"archive: {res.zip_path}: {res.files} files, {res.size / 1e6:.1f} MB, "
             f"built in {time.monotonic() - t0:.0f} s (commit {sm.params.commit[:12]})"]
    if res.excluded_inputs:
        lines.append("archive: not redistributable, left out (see OBTAIN_DATA.md): "
                     + ", ".join(res.excluded_inputs + res.excluded_outputs))
    Path(sm.log[0]).parent.mkdir(parents=True, exist_ok=True)
    Path(sm.log[0]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines), file=sys.stderr)


run_stage(main, outputs=sm.output)
