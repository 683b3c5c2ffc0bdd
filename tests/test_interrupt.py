"""Integration: a build killed with SIGKILL at any point is finished by the next `make`, with the
same bytes as a build that was never interrupted, and no process of the killed build survives.
Two builds started at once in one folder: one runs, the other says why it cannot, in one line.

Everything runs in a temporary copy of the project with `make`, the README's build command. The
copy shares this environment (.venv is a link to it), so make is told not to reinstall it
(`-o .venv/.installed`). Kill points are chosen by waiting for outputs or jobs to appear, not by
the clock, so they fall at the same stage whatever the machine's load:

1. as soon as the first job (ingest) starts: SIGKILL to make's process group (make and the
   launcher, what killing `make` from a script or CI does); Snakemake and its jobs must stop too;
2. when the main estimates appear: SIGKILL to every process of the build at once;
3. while a render job runs: SIGKILL to everything but the jobs (make, launcher, its guard and
   Snakemake), leaving the jobs orphaned; the next build must stop them before it starts.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, copy_project

pytestmark = pytest.mark.integration

MAKE = ["make", "-o", ".venv/.installed"]
ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
ENV["SOURCE_DATE_EPOCH"] = "1700000000"
BUSY = re.compile(
    r"ERROR: another build is running in this folder \(pid (\d+)\); "
    r"wait for it to finish or stop it \(kill \1\)\."
)


def make_copy(work: Path) -> Path:
    work.mkdir()
    copy_project(work)
    for item in ("Makefile", "env"):
        subprocess.run(["cp", "-a", str(ROOT / item), str(work / item)], check=True)
    (work / ".venv").symlink_to(sys.prefix)
    return work


def outputs(work: Path) -> dict[str, str]:
    """SHA-256 of every file under results/ and reports/."""
    return {
        str(f.relative_to(work)): hashlib.sha256(f.read_bytes()).hexdigest()
        for top in ("results", "reports")
        for f in sorted((work / top).rglob("*"))
        if f.is_file()
    }


@dataclass
class Build:
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(work: Path, name: str) -> Build:
    log = work.parent / f"{work.name}-{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(MAKE, cwd=work, env=ENV, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return Build(proc, log)


def processes_in(work: Path) -> list[psutil.Process]:
    here = str(work.resolve())
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.cwd() == here:
                found.append(p)
        except psutil.Error:
            continue
    return found


def running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (pid reuse is caught by psutil; zombies count as gone)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def wait_until(check: Callable[[], bool], build: Build, what: str, timeout: float) -> None:
    """Poll `check` while `build` runs; fail if the build ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not check():
        if build.proc.poll() is not None:
            pytest.fail(f"the build ended (exit {build.proc.returncode}) before {what}:\n"
                        f"{build.output[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout:.0f} s:\n{build.output[-3000:]}")
        time.sleep(0.02)


def is_snakemake(p: psutil.Process) -> bool:
    try:
        cmd = p.cmdline()
    except psutil.Error:
        return False
    return "snakemake" in cmd[:3] or any(os.path.basename(a) == "snakemake" for a in cmd[:2])


def job_running(work: Path, script: str) -> Callable[[], bool]:
    def check() -> bool:
        for p in processes_in(work):
            try:
                if any(a.endswith(script) for a in p.cmdline()):
                    return True
            except psutil.Error:
                continue
        return False

    return check


@dataclass
class Reference:
    work: Path
    seconds: float
    hashes: dict[str, str]
    builds: list[Build]
    launcher_pids: set[int]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    """An uninterrupted build of a fresh copy, started twice at once (one of them must refuse)."""
    work = make_copy(tmp_path_factory.mktemp("interrupt") / "project")
    t0 = time.monotonic()
    builds = [start(work, "first"), start(work, "second")]
    launchers: set[int] = set()
    while any(b.proc.poll() is None for b in builds):  # note who runs: the refusal names it
        for b in builds:
            try:
                launchers |= {c.pid for c in psutil.Process(b.proc.pid).children()}
            except psutil.Error:
                pass
        if time.monotonic() - t0 > 900:
            pytest.fail("the uninterrupted build takes more than 15 minutes")
        time.sleep(0.05)
    seconds = time.monotonic() - t0
    yield Reference(work, seconds, outputs(work), builds, launchers)
    for p in running(processes_in(work)):
        p.kill()


def test_two_builds_started_at_once(reference: Reference) -> None:
    codes = sorted(b.proc.returncode for b in reference.builds)
    assert codes[0] == 0 and codes[1] != 0, [b.output[-2000:] for b in reference.builds]
    ran, refused = sorted(reference.builds, key=lambda b: b.proc.returncode)
    # make echoes the command and adds its own "make: *** ... Error 1"; the launcher says one line
    said = [line for line in refused.output.splitlines()
            if not line.startswith((".venv/bin/python -m parentlink.build", "make: ***"))]
    assert len(said) == 1 and BUSY.fullmatch(said[0]), refused.output
    assert int(BUSY.fullmatch(said[0]).group(1)) in reference.launcher_pids  # type: ignore[union-attr]
    assert "ERROR" not in ran.output


def test_uninterrupted_build_loads_the_profile_and_says_where_outputs_are(
    reference: Reference,
) -> None:
    ran = min(reference.builds, key=lambda b: b.proc.returncode)
    assert "workflow specific profile workflow/profiles/default" in ran.output
    listing = ran.output[ran.output.index("Outputs (in "):]
    for path in ("reports/briefings/parents.pdf", "reports/technical_report.pdf",
                 "results/tables/main_tables.xlsx"):
        assert path in listing
    assert len(reference.hashes) >= 20


def test_killed_builds_recover_with_identical_outputs(reference: Reference) -> None:
    work = reference.work
    subprocess.run(["make", "clean"], cwd=work, env=ENV, check=True, capture_output=True)
    assert not (work / "results").exists()
    # generous: the machine may be busier than when the reference was built
    limit = 3 * reference.seconds + 120

    def appears(pattern: str) -> Callable[[], bool]:
        return lambda: any(work.glob(pattern))

    build = start(work, "run0")
    outputs_of_restarts = []
    for n, (what, ready, how) in enumerate([
        ("ingest job", job_running(work, ".ingest.py"), "make"),
        ("main estimates", appears("results/tables/main_estimates.csv"), "all"),
        ("render job", job_running(work, ".render.py"), "parents"),
    ]):
        wait_until(ready, build, what, limit)
        old = processes_in(work)
        assert any(is_snakemake(p) for p in old), "no Snakemake in the build to kill"
        if how == "make":  # make's process group: make and the launcher
            os.killpg(build.proc.pid, signal.SIGKILL)
        elif how == "all":  # every process of the build, including any started meanwhile
            while procs := running(processes_in(work)):
                for p in procs:
                    p.kill()
                old += [p for p in procs if p not in old]
        else:  # everything but the jobs: guard, launcher (Snakemake dies with it), make
            make = psutil.Process(build.proc.pid)
            launcher = make.children()[0]
            snakemake = next(c for c in launcher.children() if is_snakemake(c))
            jobs = snakemake.children(recursive=True)
            assert jobs, "no job running to orphan"
            guard = [c for c in launcher.children() if c.pid != snakemake.pid]
            for p in [*guard, launcher, snakemake, make]:
                p.kill()
        build.proc.wait()
        if how == "parents":
            assert running(jobs), "the orphaned jobs ended before the next build could start"
        else:  # the launcher's safeguards stop everything at once, not at the next build
            assert wait_for(lambda: not running(processes_in(work)), 1.5), running(processes_in(work))
        old += [p for p in processes_in(work) if p not in old]
        build = start(work, f"run{n + 1}")
        # the killed build's processes are gone before the new Snakemake even starts
        wait_until(lambda old=old: any(is_snakemake(p) for p in processes_in(work) if p not in old),
                   build, "Snakemake of the next build", limit)
        assert not running(old), f"after kill {n + 1} ({how}): {running(old)} still run"
        outputs_of_restarts.append(build)

    assert build.proc.wait(timeout=limit) == 0, build.output[-4000:]
    restarts = "\n".join(b.output for b in outputs_of_restarts)
    assert "Removed the Snakemake lock left by an interrupted build." in restarts
    assert "leftover process" in outputs_of_restarts[-1].output  # the orphaned jobs
    assert not running(processes_in(work))
    now = outputs(work)
    assert sorted(now) == sorted(reference.hashes)
    assert [p for p in now if now[p] != reference.hashes[p]] == []


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
