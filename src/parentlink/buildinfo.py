"""Build identity: the date stamped into outputs and the code version printed in reports.

Both come from the workflow itself, so ``make``, plain ``snakemake``, a Slurm run and a rebuild
from the deposit bundle give the same bytes:

* **Build date** (:func:`build_epoch`): ``SOURCE_DATE_EPOCH`` when the caller sets it (the
  reproducible-builds convention), else the date pinned in an unpacked deposit bundle
  (``environment.json``), else the commit time of the checkout, else
  :data:`parentlink.FALLBACK_SOURCE_DATE_EPOCH`.
* **Code version** (:func:`code_version`): ``PARENTLINK_CODE_VERSION`` or the bundle's pinned
  one, else ``git describe --always --tags`` with ``-dirty`` when anything that shapes the outputs
  (:data:`VERSIONED_PATHS`: code, config, raw inputs, lock) differs from the commit. Edits to docs
  or the README do not make the version dirty.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from parentlink import FALLBACK_SOURCE_DATE_EPOCH

VERSIONED_PATHS = ("Snakefile", "src", "workflow", "config", "raw", "env", "pyproject.toml")
BUNDLE_ENVIRONMENT = "environment.json"


def git(root: Path, *args: str) -> str | None:
    """Output of a git command in `root`, or None when git or the repository is unavailable."""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@cache
def is_checkout(root: Path) -> bool:
    """`root` is the top of a git work tree (not a folder inside another repository)."""
    top = git(root, "rev-parse", "--show-toplevel")
    return top is not None and Path(top).resolve() == root.resolve()


def bundle_pins(root: Path) -> dict[str, str]:
    """The build date and code version an unpacked deposit bundle was made with."""
    path = root / BUNDLE_ENVIRONMENT
    if not path.is_file():
        return {}
    try:
        env = json.loads(path.read_text("utf-8")).get("env", {})
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}


def build_epoch(root: Path, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    checkout = is_checkout(root)
    pins = {} if checkout else bundle_pins(root)
    candidates = [env.get("SOURCE_DATE_EPOCH"), pins.get("SOURCE_DATE_EPOCH"),
                  git(root, "log", "-1", "--format=%ct") if checkout else None]
    for value in candidates:
        if value is not None and value.strip().isdigit():
            return int(value.strip())
    return FALLBACK_SOURCE_DATE_EPOCH


def export_build_epoch(root: Path) -> int:
    """:func:`build_epoch`, also set as SOURCE_DATE_EPOCH for this process and its children."""
    epoch = build_epoch(root)
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    return epoch


def code_version(root: Path, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    checkout = is_checkout(root)
    pinned = env.get("PARENTLINK_CODE_VERSION") or (
        None if checkout else bundle_pins(root).get("PARENTLINK_CODE_VERSION"))
    if pinned:
        return pinned
    if not checkout:
        return "no git checkout"
    described = git(root, "describe", "--always", "--tags") or "unknown"
    changed = git(root, "status", "--porcelain", "--", *VERSIONED_PATHS)
    return described + ("-dirty" if changed else "")
