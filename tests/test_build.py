"""The build launcher's pieces (parentlink.build): the folder lock, what a killed build leaves,
parent-death handling and the list of outputs. Processes here are small stand-ins (sleep, sh);
the real workflow is interrupted in tests/test_interrupt.py."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from parentlink.build import (
    LOCK_NAME,
    PGID_NAME,
    PROFILE,
    STATE_DIR,
    BuildBusy,
    Proc,
    acquire_lock,
    clear_stale_locks,
    format_outputs,
    is_snakemake,
    list_outputs,
    processes_in,
    snakemake_command,
    stop_leftovers,
)

ROOT = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
BUSY = re.compile(
    r"ERROR: another build is running in this folder \(pid (\d+)\); "
    r"wait for it to finish or stop it \(kill \1\)\."
)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; whatever is left of them (and their groups) is killed after it."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # started in a session of its own
        except (ProcessLookupError, PermissionError):
            pass
        p.kill()
        p.wait()


def launcher(folder: Path, command: list[str]) -> list[str]:
    """A launcher process running `command` in `folder` (the real snakemake is not needed here)."""
    code = (
        "import sys; from pathlib import Path; from parentlink.build import run_build; "
        f"sys.exit(run_build(Path.cwd(), {command!r}))"
    )
    return [sys.executable, "-c", code]


# ---- lock contention ----------------------------------------------------------------------------


def test_second_lock_in_a_folder_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / STATE_DIR / LOCK_NAME
    fd = acquire_lock(path)
    try:
        with pytest.raises(BuildBusy) as busy:
            acquire_lock(path)  # another open file description: flock refuses even in this process
        assert busy.value.pid == os.getpid()
        assert BUSY.fullmatch(busy.value.message())
    finally:
        os.close(fd)
    os.close(acquire_lock(path))  # free again once closed


def test_a_second_build_says_why_in_one_line(tmp_path: Path) -> None:
    fd = acquire_lock(tmp_path / STATE_DIR / LOCK_NAME)
    try:
        run = subprocess.run([sys.executable, "-m", "parentlink.build", "--cores", "1"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60)
    finally:
        os.close(fd)
    assert run.returncode != 0
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and BUSY.fullmatch(lines[0]), run.stderr
    assert int(BUSY.fullmatch(lines[0]).group(1)) == os.getpid()  # type: ignore[union-attr]


def test_lock_is_released_when_its_holder_is_killed(tmp_path: Path, spawned: list) -> None:
    path = tmp_path / STATE_DIR / LOCK_NAME
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from parentlink.build import acquire_lock; acquire_lock(Path(sys.argv[1])); "
         "print('locked', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True)
    spawned.append(holder)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    with pytest.raises(BuildBusy) as busy:
        acquire_lock(path)
    assert busy.value.pid == holder.pid
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    os.close(acquire_lock(path))


# ---- what a killed build leaves ------------------------------------------------------------------


def test_what_counts_as_snakemake() -> None:
    assert is_snakemake(Proc(1, 1, ("/p/.venv/bin/python", ".venv/bin/snakemake", "--cores", "2")))
    assert is_snakemake(Proc(1, 1, ("/usr/bin/snakemake", "--cores", "2")))
    assert is_snakemake(Proc(1, 1, ("python", "-m", "snakemake", "--target-jobs", "x")))
    # a job's script, and the launcher itself, are not Snakemake
    assert not is_snakemake(Proc(1, 1, ("python", "/p/.snakemake/scripts/tmpab12.ingest.py")))
    assert not is_snakemake(Proc(1, 1, ("python", "-m", "parentlink.build", "--cores", "all")))


def stale_lock(folder: Path) -> Path:
    lock = folder / STATE_DIR / "locks" / "0.output.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("results/x.csv\n")
    return lock


@linux_only
def test_stale_snakemake_lock_is_removed(tmp_path: Path) -> None:
    lock = stale_lock(tmp_path)
    assert clear_stale_locks(tmp_path) == 1
    assert not lock.exists()
    assert clear_stale_locks(tmp_path) == 0  # nothing to do


@linux_only
def test_lock_of_a_running_snakemake_is_kept(tmp_path: Path, spawned: list) -> None:
    lock = stale_lock(tmp_path)
    fake = tmp_path / "bin" / "snakemake"  # a process whose command line looks like snakemake's
    fake.parent.mkdir()
    fake.write_text("import time\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, str(fake), "--cores", "1"], cwd=tmp_path)
    spawned.append(proc)
    assert wait_for(lambda: any(p.pid == proc.pid for p in processes_in(tmp_path) or []))
    assert clear_stale_locks(tmp_path) == 0
    assert lock.exists()
    proc.kill()
    proc.wait()
    assert clear_stale_locks(tmp_path) == 1


@linux_only
def test_leftovers_of_the_recorded_group_in_this_folder_are_stopped(
    tmp_path: Path, spawned: list
) -> None:
    # one process group, two processes: one works in the folder, one elsewhere
    group = subprocess.Popen(
        ["sh", "-c", "(cd / && exec sleep 60) & exec sleep 60"], cwd=tmp_path,
        start_new_session=True, text=True)
    spawned.append(group)
    members = lambda: [p for p in Path("/proc").iterdir() if p.name.isdigit()  # noqa: E731
                       and _pgid(p) == group.pid]
    assert wait_for(lambda: len(members()) == 2)
    here = [p.pid for p in processes_in(tmp_path) or [] if p.pgid == group.pid]
    assert here == [group.pid]
    record = tmp_path / STATE_DIR / PGID_NAME
    record.parent.mkdir()
    record.write_text(f"{group.pid}\n")
    assert stop_leftovers(tmp_path) == 1
    assert not alive(group.pid)
    assert not record.exists()
    others = [int(p.name) for p in members() if int(p.name) != group.pid]
    assert others and all(alive(pid) for pid in others)  # not in this folder: left alone
    assert stop_leftovers(tmp_path) == 0  # no record, nothing to do


@linux_only
def test_a_recorded_group_that_is_now_our_own_is_left_alone(tmp_path: Path, spawned: list) -> None:
    """The recorded number may since have been given to the group this build runs in."""
    ours = subprocess.Popen(["sleep", "60"], cwd=tmp_path)  # in this process's group
    spawned.append(ours)
    assert wait_for(lambda: any(p.pid == ours.pid for p in processes_in(tmp_path) or []))
    record = tmp_path / STATE_DIR / PGID_NAME
    record.parent.mkdir()
    record.write_text(f"{os.getpgrp()}\n")
    assert stop_leftovers(tmp_path) == 0
    assert alive(ours.pid)
    assert not record.exists()


def _pgid(proc_dir: Path) -> int | None:
    try:
        stat = (proc_dir / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[2])


# ---- no process outlives a build ---------------------------------------------------------------


def _group_pids(folder: Path) -> set[int]:
    return {p.pid for p in processes_in(folder) or [] if p.cmdline[:1] == ("sleep",)}


@linux_only
def test_killing_the_launcher_kills_the_command_and_its_children(
    tmp_path: Path, spawned: list
) -> None:
    proc = subprocess.Popen(launcher(tmp_path, ["sh", "-c", "sleep 60 & sleep 61; wait"]),
                            cwd=tmp_path, text=True)
    spawned.append(proc)
    assert wait_for(lambda: len(_group_pids(tmp_path)) == 2)
    sleeps = _group_pids(tmp_path)
    assert (tmp_path / STATE_DIR / PGID_NAME).is_file()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_for(lambda: not any(alive(pid) for pid in sleeps), timeout=5)
    assert wait_for(lambda: not processes_in(tmp_path), timeout=5)  # the guard is gone too
    # the next start sees the record and finds nothing left to stop
    assert stop_leftovers(tmp_path) == 0


@linux_only
def test_a_signal_stops_the_build_and_everything_in_it(tmp_path: Path, spawned: list) -> None:
    proc = subprocess.Popen(launcher(tmp_path, ["sh", "-c", "sleep 60 & sleep 61; wait"]),
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    spawned.append(proc)
    assert wait_for(lambda: len(_group_pids(tmp_path)) == 2)
    sleeps = _group_pids(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "Build stopped (SIGTERM)" in err
    assert not any(alive(pid) for pid in sleeps)
    assert not (tmp_path / STATE_DIR / PGID_NAME).exists()


@linux_only
def test_children_left_behind_by_the_command_are_killed(tmp_path: Path) -> None:
    left = tmp_path / "left.pid"
    run = subprocess.run(launcher(tmp_path, ["sh", "-c", f"sleep 60 & echo $! > {left}"]),
                         cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert not alive(int(left.read_text()))


@linux_only
def test_the_launcher_stops_when_make_dies(tmp_path: Path, spawned: list) -> None:
    """A parent (standing in for make) is killed: the launcher hears of it and stops the build."""
    inner = shlex.join(launcher(tmp_path, ["sh", "-c", "sleep 60 & sleep 61; wait"]))
    # "; true": sh stays the launcher's parent instead of exec-ing it
    parent = subprocess.Popen(["sh", "-c", f"{inner}; true"], cwd=tmp_path, start_new_session=True)
    spawned.append(parent)
    assert wait_for(lambda: len(_group_pids(tmp_path)) == 2)
    sleeps = _group_pids(tmp_path)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert wait_for(lambda: not any(alive(pid) for pid in sleeps), timeout=15)
    assert wait_for(lambda: not processes_in(tmp_path), timeout=15)


def test_command_asks_for_recovery_and_the_profile(tmp_path: Path) -> None:
    cmd = snakemake_command(["--cores", "2"], ROOT)
    assert cmd[:3] == [sys.executable, "-m", "snakemake"]
    assert "--rerun-incomplete" in cmd
    assert cmd[cmd.index("--workflow-profile") + 1] == PROFILE
    assert cmd[-2:] == ["--cores", "2"]
    mine = snakemake_command(["--workflow-profile", "none", "--rerun-incomplete"], ROOT)
    assert mine.count("--workflow-profile") == 1 and mine.count("--rerun-incomplete") == 1
    assert "--workflow-profile" not in snakemake_command([], tmp_path)  # no profile there


# ---- the output listing -------------------------------------------------------------------------


def test_outputs_are_listed_from_what_exists(tmp_path: Path) -> None:
    assert list_outputs(tmp_path) == []
    for name in ("reports/briefings/b.pdf", "reports/briefings/a.pdf", "reports/briefings/a.html",
                 "reports/summary.pdf", "reports/appendix/x_tables.pdf",
                 "results/tables/x_tables.xlsx",
                 "results/tables/x_estimates.csv", "results/figures/f.svg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = list_outputs(tmp_path)
    assert [(label, [str(p) for p in paths]) for label, paths in found] == [
        ("briefings", ["reports/briefings/a.pdf", "reports/briefings/b.pdf"]),
        ("technical report", ["reports/summary.pdf"]),
        ("appendices", ["reports/appendix/x_tables.pdf"]),
        ("workbooks", ["results/tables/x_tables.xlsx"]),
    ]
    text = format_outputs(tmp_path, found)
    assert str(tmp_path) in text.splitlines()[0]
    for path in ("reports/briefings/a.pdf", "reports/summary.pdf", "results/tables/x_tables.xlsx"):
        assert path in text
    assert "a.html" not in text and "estimates" not in text


def test_only_present_groups_are_listed(tmp_path: Path) -> None:
    (tmp_path / "results/tables").mkdir(parents=True)
    (tmp_path / "results/tables/only_tables.xlsx").write_bytes(b"")
    assert [label for label, _ in list_outputs(tmp_path)] == ["workbooks"]


# ---- the workflow profile is read ----------------------------------------------------------------


@pytest.mark.integration
@linux_only
def test_the_profile_settings_apply(tmp_path: Path) -> None:
    """A job killed mid-run leaves an incomplete output. With the project's profile Snakemake makes
    it again (rerun-incomplete comes from the profile alone here); without it Snakemake refuses."""
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""\
        rule all:
            output: "out.txt"
            shell: "echo partial > {output}; sleep 60; echo done > {output}"
        """))
    shutil.copytree(ROOT / PROFILE, tmp_path / PROFILE)
    sm = [sys.executable, "-m", "snakemake", "--cores", "1"]
    first = subprocess.Popen(sm, cwd=tmp_path, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: (tmp_path / "out.txt").exists(), timeout=60)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert clear_stale_locks(tmp_path) >= 1  # the lock Snakemake could not remove
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(snakefile.read_text().replace("sleep 60", "true"))
    plain = subprocess.run(sm, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert plain.returncode != 0 and "IncompleteFilesException" in plain.stderr, plain.stderr
    with_profile = subprocess.run([*sm, "--workflow-profile", PROFILE], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120)
    assert with_profile.returncode == 0, with_profile.stderr
    assert f"workflow specific profile {PROFILE}" in with_profile.stderr
    assert (tmp_path / "out.txt").read_text() == "done\n"
