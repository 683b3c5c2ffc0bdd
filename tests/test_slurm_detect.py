"""Choosing the Slurm status command (parentlink.slurm, hooked in workflow/rules/cluster.smk):
fake `scontrol show config` output, no cluster needed. The real one-node cluster without
accounting is exercised by tests/test_slurm.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from parentlink.slurm import (
    MIN_JOB_AGE_FLOOR,
    SlurmConfig,
    SlurmConfigError,
    configure_status_command,
    decide,
    parse_show_config,
    read_show_config,
    required_min_job_age,
)
from tests.conftest import copy_project

ROOT = Path(__file__).resolve().parents[1]
# The fake scontrol runs with only its own folder on the PATH (so that a real scontrol is not found).
CAT = shutil.which("cat") or "/bin/cat"
SLEEP = shutil.which("sleep") or "/bin/sleep"


def show_config(acct: str | None, age: str | None = "43200 sec") -> str:
    """`scontrol show config` as Slurm prints it (excerpt; 22.05 layout)."""
    lines = [
        "Configuration data as of 2026-11-29T23:35:45",
        "AccountingStorageBackupHost = (null)",
        "AccountingStorageEnforce = none",
        "AccountingStorageHost   = localhost",
        "AccountingStoragePort   = 0",
        "AccountingStorageTRES   = cpu,mem,energy,node,billing,fs/disk,vmem,pages",
    ]
    if acct is not None:
        lines.append(f"AccountingStorageType   = {acct}")
    lines += ["AccountingStorageUser   = root", "AuthInfo                = socket=/run/munge.sock"]
    if age is not None:
        lines.append(f"MinJobAge               = {age}")
    lines += ["MpiDefault              = none", "", "Cgroup Support Configuration:", "Foo = bar"]
    return "\n".join(lines) + "\n"


@dataclass
class Settings:
    """Stands in for the plugin's ExecutorSettings."""

    status_command: str | None = "sacct"


# -- parsing ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("acct", "has"),
    [
        ("accounting_storage/none", False),  # Slurm < 23.02
        ("(null)", False),  # Slurm >= 23.02: unset or none
        ("", False),
        ("accounting_storage/slurmdbd", True),
        ("ACCOUNTING_STORAGE/SLURMDBD", True),
        (None, None),  # no such line: unknown
    ],
)
def test_accounting_storage_type(acct: str | None, has: bool | None) -> None:
    cfg = parse_show_config(show_config(acct))
    assert cfg.accounting_storage_type == (None if acct is None else acct)
    assert cfg.has_accounting is has


@pytest.mark.parametrize(
    ("age", "seconds"),
    [("43200 sec", 43200), ("300", 300), ("0 sec", 0), ("5 min", 300), ("1h", 3600),
     ("soon", None), ("12 fortnights", None), (None, None)],
)  # fmt: skip
def test_min_job_age(age: str | None, seconds: int | None) -> None:
    assert parse_show_config(show_config("(null)", age)).min_job_age == seconds


def test_first_value_wins_and_sections_are_ignored() -> None:
    text = show_config("accounting_storage/slurmdbd") + "AccountingStorageType = (null)\n"
    assert parse_show_config(text).has_accounting is True
    assert parse_show_config("garbage without equals signs\n") == SlurmConfig(None, None)


# -- deciding ----------------------------------------------------------------------------------
def test_accounting_on_leaves_the_plugin_alone() -> None:
    for configured in ("sacct", "squeue", None):
        s = Settings(configured)
        d = configure_status_command(s, 20, lambda: show_config("accounting_storage/slurmdbd", "5 sec"))
        assert d.status_command is None and d.error is None and d.message is None
        assert s.status_command == configured


@pytest.mark.parametrize("acct", ["accounting_storage/none", "(null)"])
@pytest.mark.parametrize("configured", ["sacct", "squeue", None])
def test_no_accounting_switches_to_squeue(acct: str, configured: str | None) -> None:
    s = Settings(configured)
    d = configure_status_command(s, 20, lambda: show_config(acct))
    assert d.error is None and not d.warning
    assert d.status_command == "squeue" and s.status_command == "squeue"
    assert d.message is not None and "job status via squeue" in d.message
    assert f"AccountingStorageType={acct}" in d.message
    assert ("instead of" in d.message) == (configured != "squeue")


@pytest.mark.parametrize(
    ("age", "init", "fix"),
    [
        ("120 sec", 20, "ask the cluster's administrators for MinJobAge=300 (or more) in slurm.conf"),
        ("299 sec", 40, "MinJobAge=300 (or more)"),
        ("0 sec", 20, "MinJobAge=300 (or more)"),  # never purged, but the plugin falls back to sacct
        (None, 20, "MinJobAge=300 (or more)"),
        ("400 sec", 200, "set slurm-init-seconds-before-status-checks: 133 or less"),
        ("100 sec", 200, "MinJobAge=600 (or more)"),
    ],
)
def test_no_accounting_and_short_min_job_age_is_an_error(age: str | None, init: int, fix: str) -> None:
    s = Settings("sacct")
    d = configure_status_command(s, init, lambda: show_config("accounting_storage/none", age))
    assert d.status_command is None and s.status_command == "sacct"
    assert d.error is not None and fix in d.error, d.error
    assert "\n" not in d.error and d.error.startswith("this Slurm cluster has no accounting")
    assert f"needs MinJobAge >= {required_min_job_age(init)} s" in d.error


def test_min_job_age_boundary() -> None:
    assert required_min_job_age(20) == MIN_JOB_AGE_FLOOR == 300
    assert required_min_job_age(150) == 450
    assert decide(SlurmConfig("(null)", 300), "sacct", 20).status_command == "squeue"
    assert decide(SlurmConfig("(null)", 299), "sacct", 20).error is not None
    assert decide(SlurmConfig("(null)", 450), "sacct", 150).status_command == "squeue"
    assert decide(SlurmConfig("(null)", 449), "sacct", 150).error is not None


def fail(msg: str) -> str:
    raise SlurmConfigError(msg)


@pytest.mark.parametrize(
    "source",
    [lambda: fail("no answer within 10 s"), lambda: show_config(None)],  # scontrol fails / no line
)
def test_unknown_keeps_the_plugin_choice_and_warns(source: Callable[[], str]) -> None:
    s = Settings("sacct")
    d = configure_status_command(s, 20, source)
    assert d.status_command is None and d.error is None and d.warning
    assert s.status_command == "sacct"
    assert d.message is not None and "could not tell whether this Slurm cluster keeps accounting" in d.message
    assert "\n" not in d.message


# -- running scontrol --------------------------------------------------------------------------
def fake_scontrol(bin_dir: Path, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "scontrol"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


def test_read_show_config_runs_scontrol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = show_config("(null)")
    (tmp_path / "out.txt").write_text(out)
    fake_scontrol(tmp_path / "bin", f'[ "$*" = "show config" ] || exit 9\n{CAT} "{tmp_path}/out.txt"')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert read_show_config() == out


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("echo 'slurm_load_ctl_conf error: Unable to contact slurm controller' >&2; exit 1",
         "exit code 1: slurm_load_ctl_conf error: Unable to contact slurm controller"),
        ("exit 2", "exit code 2: no message"),
        (f"exec {SLEEP} 30", "no answer within 0.5 s"),
        (None, "scontrol not found on the PATH"),
    ],
)  # fmt: skip
def test_read_show_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str | None, problem: str
) -> None:
    if body is not None:
        fake_scontrol(tmp_path / "bin", body)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    t0 = time.monotonic()
    with pytest.raises(SlurmConfigError, match=re.escape(problem)):
        read_show_config(timeout=0.5)
    assert time.monotonic() - t0 < 10


# -- the hook in workflow/rules/cluster.smk ------------------------------------------------------
def test_the_cluster_hook_is_the_only_onstart_handler() -> None:
    """Snakemake keeps one onstart handler per workflow: a second one would silently replace the
    Slurm status check."""
    files = [ROOT / "Snakefile", *sorted((ROOT / "workflow").rglob("*.smk"))]
    found = [
        f"{f.relative_to(ROOT)}:{i}"
        for f in files
        for i, line in enumerate(f.read_text().splitlines(), 1)
        if re.match(r"\s*onstart\s*:", line) or "workflow.onstart(" in line
    ]
    assert found == [f"workflow/rules/cluster.smk:{hook_line()}"], found


def hook_line() -> int:
    lines = (ROOT / "workflow/rules/cluster.smk").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("onstart:"))


@pytest.mark.integration
def test_slurm_run_without_accounting_stops_in_seconds(tmp_path: Path) -> None:
    """`snakemake --profile workflow/profiles/slurm` on a (fake) cluster without accounting whose
    MinJobAge is too short: one ERROR line naming what to set, before anything is submitted."""
    work = tmp_path / "project"
    work.mkdir()
    copy_project(work)
    bin_dir = tmp_path / "bin"
    calls = tmp_path / "calls.txt"
    fake_scontrol(
        bin_dir,
        f"""[ "$*" = "show config" ] || exit 9
cat <<'EOF'
{show_config("accounting_storage/none", "60 sec")}EOF""",
    )
    for tool in ("sbatch", "sacct", "squeue", "sinfo", "scancel", "srun"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\nexit 1\n')
        (bin_dir / tool).chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    t0 = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/slurm"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    took = time.monotonic() - t0
    out = res.stdout + res.stderr
    assert res.returncode == 1, out[-3000:]
    errors = [line for line in out.splitlines() if line.startswith("ERROR: ")]
    assert errors == [
        "ERROR: this Slurm cluster has no accounting (AccountingStorageType=accounting_storage/none) "
        "and forgets finished jobs after MinJobAge=60 s; Snakemake then checks job status with squeue "
        "and needs MinJobAge >= 300 s to see every job finish (else it waits forever): ask the "
        "cluster's administrators for MinJobAge=300 (or more) in slurm.conf."
    ], out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    submitted = calls.read_text() if calls.exists() else ""
    assert "sbatch" not in submitted, submitted
    locks = work / ".snakemake" / "locks"
    assert not locks.exists() or not any(locks.iterdir()), "Snakemake's lock was left behind"
    assert took < 120, f"took {took:.0f} s"
