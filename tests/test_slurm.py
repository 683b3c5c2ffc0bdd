"""Cluster test: the whole workflow through Slurm (snakemake-executor-plugin-slurm) on a one-node
cluster started on this machine gives byte-identical outputs to a local run; a job cancelled
mid-run (scancel) leaves no partial output and a re-run completes to the same checksums.

Runs only with PARENTLINK_SLURM_TEST=1 (.ci/run sets it): it needs root, installs slurm-wlm and
munge from the Debian packages when missing, and starts munged, slurmctld and slurmd under a
private temporary directory (own ports, state, spool, pid files, munge socket; see
tests/slurm/cluster.py). It stops exactly the daemons it started, by pid. If a slurmctld or slurmd
already runs on the machine, the test skips rather than start a second cluster beside it.

    PARENTLINK_SLURM_TEST=1 .venv/bin/python -m pytest -m slurm -s
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parentlink.slurm import parse_show_config, required_min_job_age
from tests.slurm.cluster import LocalSlurm, SlurmError, existing_slurm_daemons, install_if_missing

pytestmark = [pytest.mark.slurm, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("Snakefile", "config", "raw", "workflow", "pyproject.toml")
OUTPUT_DIRS = ("results", "reports")
ENV = {"SOURCE_DATE_EPOCH": "1700000000"}
# The project's Slurm profile, as a user runs it. The test cluster has no accounting (no slurmdbd;
# `sacct` is installed but answers "Slurm accounting storage is disabled"), and nothing here says
# so: the workflow must find out by itself and check status with squeue (workflow/rules/
# cluster.smk), or the plugin polls sacct and waits forever. A short first status check keeps the
# test quick; logs of successful jobs are kept for inspection.
CLUSTER_ARGS = (
    "--profile", "workflow/profiles/slurm",
    "--slurm-init-seconds-before-status-checks", "10",
    "--slurm-keep-successful-logs",
)  # fmt: skip
# What the workflow logs when it switches the plugin from sacct to squeue (parentlink.slurm).
SWITCHED = "job status via squeue instead of sacct"
# Outputs excluded from the byte comparison, with the reason. Keep empty unless two *local*
# runs of the same commit differ too (then it is not a cluster problem); never to hide a
# cluster-only difference.
NONDETERMINISTIC: dict[str, str] = {}
TIMEOUT = 900


def say(config: pytest.Config, msg: str) -> None:
    """Print past pytest's output capture (durations must show in CI)."""
    capman = config.pluginmanager.get_plugin("capturemanager")
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if capman is None or tr is None:  # pragma: no cover
        print(f"[slurm] {msg}", file=sys.stderr)
        return
    with capman.global_and_fixture_disabled():
        tr.write_line(f"[slurm] {msg}")


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for item in PROJECT:
        src = ROOT / item
        if not src.exists():  # pyproject.toml: read by some rule files at parse time
            continue
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / item)
    return dest


def checksums(work: Path) -> dict[str, str]:
    out = {}
    for d in OUTPUT_DIRS:
        for f in sorted((work / d).rglob("*")):
            if f.is_file():
                out[str(f.relative_to(work))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def compare(cluster: dict[str, str], local: dict[str, str]) -> list[str]:
    """Differences between two checksum maps, excluded files aside."""
    problems = []
    for path in sorted(set(cluster) | set(local)):
        if path in NONDETERMINISTIC:
            continue
        if path not in cluster:
            problems.append(f"missing from the cluster run: {path}")
        elif path not in local:
            problems.append(f"only in the cluster run: {path}")
        elif cluster[path] != local[path]:
            problems.append(f"SHA-256 differs: {path}")
    return problems


def snakemake_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *args]


def run(cmd: list[str], work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=work, env=dict(env, **ENV), capture_output=True, text=True, timeout=TIMEOUT
    )


def slurm_job_ids(stderr: str) -> list[str]:
    return re.findall(r"submitted with SLURM jobid (\d+)", stderr)


# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(pytestconfig: pytest.Config) -> Iterator[LocalSlurm]:
    if os.environ.get("PARENTLINK_SLURM_TEST") != "1":
        pytest.skip(
            "cluster test off: PARENTLINK_SLURM_TEST=1 (.ci/run sets it) starts a 1-node Slurm here"
        )
    if running := existing_slurm_daemons():
        pytest.skip(
            f"a Slurm is already running on this machine ({running}); the cluster test does not "
            "start a second one beside it. Run it on a machine without Slurm daemons (e.g. CI)."
        )
    if os.geteuid() != 0:
        pytest.fail(
            "PARENTLINK_SLURM_TEST=1 but not root: the test cluster runs munged/slurmd as root"
        )
    t0 = time.monotonic()
    install_if_missing()
    slurm = LocalSlurm()
    try:
        slurm.start()
    except SlurmError as e:
        slurm.stop()
        pytest.fail(f"could not start the test cluster: {e}")
    say(pytestconfig, f"one-node cluster up in {time.monotonic() - t0:.1f} s (incl. any install): "
        f"SLURM_CONF={slurm.conf}, daemon pids {slurm.pids}")  # fmt: skip
    yield slurm
    slurm.stop()
    alive = {n: p.pid for n, p in slurm.procs.items() if p.poll() is None}
    say(pytestconfig, f"stopped daemons {slurm.pids}; still alive: {alive or 'none'}")
    say(pytestconfig, f"cluster test duration: {time.monotonic() - t0:.1f} s")
    assert not alive, f"daemons not stopped: {alive}"
    assert not existing_slurm_daemons(), "a slurmctld/slurmd is still running after the test"
    slurm.cleanup()


@pytest.fixture(scope="module")
def local_sums(
    cluster: LocalSlurm, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> dict[str, str]:
    """The reference: checksums of a plain local run (`snakemake --cores 2`) of the project."""
    work = copy_project(tmp_path_factory.mktemp("local") / "project")
    t0 = time.monotonic()
    res = run(snakemake_cmd("--cores", "2"), work, dict(os.environ))
    assert res.returncode == 0, f"the local reference run failed:\n{res.stderr[-4000:]}"
    say(pytestconfig, f"local reference run (--cores 2): {time.monotonic() - t0:.1f} s")
    sums = checksums(work)
    assert sums, "the local run produced no outputs"
    return sums


@pytest.fixture(scope="module")
def cluster_built(
    cluster: LocalSlurm, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The whole workflow from scratch through Slurm, in a fresh copy of the project."""
    work = copy_project(tmp_path_factory.mktemp("cluster") / "project")
    t0 = time.monotonic()
    res = run(snakemake_cmd(*CLUSTER_ARGS), work, cluster.env)
    ids = slurm_job_ids(res.stderr)
    logs = work / ".snakemake" / "slurm_logs"
    say(pytestconfig, f"cluster run from scratch: {time.monotonic() - t0:.1f} s, "
        f"rc {res.returncode}, {len(ids)} Slurm jobs; job logs in {logs}: "
        f"{sorted(str(p.relative_to(logs)) for p in logs.rglob('*.log'))}")  # fmt: skip
    return work, res


def test_cluster_has_no_accounting(cluster: LocalSlurm) -> None:
    """The case the status check is for: no accounting, but a `sacct` the plugin would pick."""
    cfg = parse_show_config(cluster.run("scontrol", "show", "config").stdout)
    assert cfg.has_accounting is False, cfg
    assert cfg.min_job_age is not None and cfg.min_job_age >= required_min_job_age(10), cfg
    assert shutil.which("sacct", path=cluster.env["PATH"]), "sacct must be installed for this case"
    res = cluster.run("sacct", "-X", "-n", check=False)
    assert res.returncode != 0 and "accounting storage is disabled" in res.stdout + res.stderr, res
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _comm(p) == "slurmdbd"]


def _comm(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""


def test_cluster_run_matches_local(
    cluster: LocalSlurm, local_sums: dict[str, str],
    cluster_built: tuple[Path, subprocess.CompletedProcess[str]], pytestconfig: pytest.Config,
) -> None:  # fmt: skip
    work, res = cluster_built
    assert res.returncode == 0, f"{res.stderr[-6000:]}\n{cluster.logs()}"
    ids = slurm_job_ids(res.stderr)
    assert ids, "no job went through Slurm"
    assert SWITCHED in res.stderr, "the status command was not switched to squeue"
    states = {j["id"]: j["state"] for j in cluster.jobs()}
    assert all(states.get(i) == "COMPLETED" for i in ids), states
    sums = checksums(work)
    problems = compare(sums, local_sums)
    assert not problems, "\n".join(problems)
    say(pytestconfig, f"{len(sums) - len(NONDETERMINISTIC)} outputs byte-identical to the local run"
        + (f" (excluded: {sorted(NONDETERMINISTIC)})" if NONDETERMINISTIC else ""))  # fmt: skip


def test_cancelled_job_leaves_no_partial_output(
    cluster: LocalSlurm, local_sums: dict[str, str],
    cluster_built: tuple[Path, subprocess.CompletedProcess[str]],
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config,
) -> None:  # fmt: skip
    """In a copy of the cluster build, delete the reports, re-make them through Slurm, scancel the
    rendering job once it has written some of them; check nothing of it is left, then re-run and
    compare every output with the local run."""
    built, res = cluster_built
    assert res.returncode == 0, "needs the cluster build (see test_cluster_run_matches_local)"
    work = tmp_path_factory.mktemp("fault") / "project"
    shutil.copytree(built, work, symlinks=True)
    reports = (work / "reports").rglob("*")
    render_outputs = sorted(str(p.relative_to(work)) for p in reports if p.is_file())
    assert render_outputs
    for p in render_outputs:  # the reports are to be made again, by a job we cancel
        (work / p).unlink()
    before = {j["id"] for j in cluster.jobs()}
    log_path = work.parent / "fault-run.log"
    t0 = time.monotonic()
    cmd = snakemake_cmd(*CLUSTER_ARGS)
    victim: dict[str, str] | None = None
    seen_partial: list[str] = []
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd, cwd=work, env=dict(cluster.env, **ENV), stdout=log, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        try:
            while victim is None and proc.poll() is None and time.monotonic() - t0 < 300:
                running = [
                    j for j in cluster.jobs()
                    if j["id"] not in before and j["state"] == "RUNNING"
                    and "render" in j["comment"]
                ]  # fmt: skip
                if running:
                    # Cancel once the job has begun writing its outputs (or after 20 s).
                    t_run = time.monotonic()
                    while time.monotonic() - t_run < 20 and not seen_partial:
                        seen_partial = [p for p in render_outputs if (work / p).exists()]
                        time.sleep(0.1)
                    victim = running[0]
                    cluster.run("scancel", victim["id"])
                time.sleep(0.2)
            proc.wait(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    out = log_path.read_text()
    assert victim is not None, f"no rendering job was seen RUNNING:\n{out[-4000:]}"
    state = {j["id"]: j["state"] for j in cluster.jobs()}.get(victim["id"])
    assert state == "CANCELLED", f"job {victim} ended {state}: scancel too late?\n{out[-4000:]}"
    assert proc.returncode != 0, f"run succeeded although job {victim['id']} was cancelled"
    say(pytestconfig, f"cancelled Slurm job {victim['id']} ({victim['comment']}) while RUNNING, "
        f"with {seen_partial or 'none'} of its outputs already written; run stopped after "
        f"{time.monotonic() - t0:.1f} s")  # fmt: skip

    # Nothing of the cancelled job is left: every output it had (re)made is gone ...
    left = sorted(p for p in render_outputs if (work / p).exists())
    assert not left, f"outputs of the cancelled job left behind: {left}"
    # ... and everything else is complete: byte-identical to the local run.
    partial = [
        p for p, h in checksums(work).items()
        if p not in NONDETERMINISTIC and local_sums.get(p) != h
    ]  # fmt: skip
    assert not partial, f"partial or wrong outputs after the cancel: {partial}"

    t1 = time.monotonic()
    res = run(snakemake_cmd(*CLUSTER_ARGS), work, cluster.env)
    assert res.returncode == 0, f"re-run after the cancel failed:\n{res.stderr[-6000:]}"
    problems = compare(checksums(work), local_sums)
    assert not problems, "\n".join(problems)
    say(
        pytestconfig,
        f"re-run after the cancel: {time.monotonic() - t1:.1f} s, outputs byte-identical to the "
        f"local run; fault case total {time.monotonic() - t0:.1f} s",
    )


def test_too_short_min_job_age_stops_before_submitting(
    cluster: LocalSlurm, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> None:
    """Without accounting, squeue must still list a job when the status check comes: asking for a
    first check later than MinJobAge/3 (43200 s here) stops the run in seconds with one ERROR line
    naming the setting, and nothing is submitted."""
    work = copy_project(tmp_path_factory.mktemp("short") / "project")
    before = {j["id"] for j in cluster.jobs()}
    t0 = time.monotonic()
    args = [*CLUSTER_ARGS, "--slurm-init-seconds-before-status-checks", "20000"]
    res = run(snakemake_cmd(*args), work, cluster.env)
    took = time.monotonic() - t0
    out = res.stdout + res.stderr
    errors = [line for line in out.splitlines() if line.startswith("ERROR: ")]
    assert res.returncode == 1, out[-4000:]
    assert len(errors) == 1, out[-4000:]
    assert "set slurm-init-seconds-before-status-checks: 14400 or less" in errors[0], errors
    assert not slurm_job_ids(res.stderr), "a job was submitted"
    assert {j["id"] for j in cluster.jobs()} == before
    say(pytestconfig, f"too short MinJobAge for the first status check: stopped after {took:.1f} s "
        f"with {errors[0][:90]}...")  # fmt: skip
