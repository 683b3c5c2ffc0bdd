"""What `make` runs: the workflow, one build at a time per folder, safe to interrupt.

    python -m parentlink.build [--study FOLDER] [snakemake arguments...]

- ``--study FOLDER`` builds the study in FOLDER (its config/, raw/ and templates, e.g.
  ``examples/schools``) with this repository's engine: Snakemake runs in FOLDER with the
  engine's Snakefile and profile, and the outputs go to FOLDER/results and FOLDER/reports.

- Only one build runs in a folder. The launcher holds an exclusive ``flock`` on
  ``.snakemake/parentlink-build.lock`` (the kernel releases it when the launcher ends, even on
  ``kill -9``); a second build started meanwhile prints one ``ERROR:`` line naming the pid of the
  running one and exits 1.
- A build that was killed leaves nothing that stops the next one. Holding the lock, the launcher
  first stops what is left of the previous build (the processes of the Snakemake process group it
  recorded in ``.snakemake/parentlink-build.pgid`` whose working directory is this folder), then
  removes Snakemake's own locks in ``.snakemake/locks`` if no Snakemake process works in this folder
  any more, and runs Snakemake with ``--rerun-incomplete`` and the workflow profile
  ``workflow/profiles/default`` (which Snakemake would not find by itself: it looks for
  ``profiles/default`` next to the Snakefile).
- No process of a build outlives it. Snakemake runs in its own session and process group. On Linux
  it gets SIGKILL when the launcher dies (``PR_SET_PDEATHSIG``) and the launcher gets SIGTERM when
  its parent (``make``) dies. A small guard process, forked from the launcher into a session of its
  own, kills Snakemake's whole process group (its jobs included) as soon as the launcher is gone
  without having finished. SIGINT, SIGTERM and SIGHUP are forwarded to the whole group as SIGINT
  (what Ctrl-C does to a plain Snakemake), a second signal or 10 s without exiting sends SIGKILL,
  and whatever is left in the group when Snakemake has exited is killed.
- On success it prints where the outputs are: every ``reports/briefings/*.pdf``,
  ``reports/*.pdf`` and ``results/tables/*_tables.xlsx`` that exists.

Outside Linux the parent-death signals are skipped (the guard still works); without ``/proc`` the
process checks use psutil when it is installed and otherwise leave Snakemake's locks alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

STATE_DIR = ".snakemake"
LOCK_NAME = "parentlink-build.lock"
PGID_NAME = "parentlink-build.pgid"
PROFILE = "workflow/profiles/default"
# After the first SIGINT/SIGTERM: how long Snakemake may take to stop before its group is killed.
GRACE_SECONDS = 10
# How long to wait for killed processes to disappear before going on.
REAP_SECONDS = 5.0
# What the user wants to open after a build: (label, glob under the project), in this order.
OUTPUT_GLOBS: tuple[tuple[str, str], ...] = (
    ("briefings", "reports/briefings/*.pdf"),
    ("technical report", "reports/*.pdf"),
    ("appendices", "reports/appendix/*_tables.pdf"),
    ("workbooks", "results/tables/*_tables.xlsx"),
)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class BuildBusy(Exception):
    """Another build holds the folder's lock."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        super().__init__(self.message())

    def message(self) -> str:
        if self.pid is None:
            return "ERROR: another build is running in this folder; wait for it to finish."
        return (
            f"ERROR: another build is running in this folder (pid {self.pid}); "
            f"wait for it to finish or stop it (kill {self.pid})."
        )


# ---- the folder lock ----------------------------------------------------------------------------


def acquire_lock(path: Path) -> int:
    """Take the exclusive build lock at `path` without waiting; returns the open descriptor.

    Raises BuildBusy with the holder's pid when another process holds it. The descriptor is not
    inherited by child processes (Python opens files close-on-exec).
    """
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock_holder(path)
        os.close(fd)
        raise BuildBusy(holder) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def lock_holder(path: Path, wait: float = 1.0) -> int | None:
    """The pid of the process holding the lock at `path`: the one it wrote into the file just
    after locking, checked against /proc/locks where there is one (the file may still hold the
    previous holder's pid for an instant); None if it cannot be told."""
    holders = _flock_holders(path)
    deadline = time.monotonic() + wait
    while True:
        try:
            text = path.read_text().strip()
        except OSError:
            text = ""
        if text.isdigit() and (not holders or int(text) in holders):
            return int(text)
        if time.monotonic() >= deadline:
            return holders[0] if holders else None
        time.sleep(0.01)


def _flock_holders(path: Path) -> list[int]:
    """Pids /proc/locks gives for flock locks on the file at `path` (empty where unknown)."""
    try:
        inode = path.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids = []
    for line in lines:
        parts = line.split()  # "1: FLOCK  ADVISORY  WRITE 1234 08:01:56789 0 EOF"
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].endswith(f":{inode}"):
            try:
                pids.append(int(parts[4]))
            except ValueError:
                continue
    return pids


# ---- processes working in this folder -----------------------------------------------------------


class Proc:
    """A process: its id, its process group and its command line."""

    __slots__ = ("pid", "pgid", "cmdline")

    def __init__(self, pid: int, pgid: int, cmdline: tuple[str, ...]) -> None:
        self.pid, self.pgid, self.cmdline = pid, pgid, cmdline

    def __repr__(self) -> str:
        return f"Proc({self.pid}, {self.pgid}, {self.cmdline!r})"


def processes_in(folder: Path) -> list[Proc] | None:
    """Processes (other than this one) whose working directory is `folder`; None if unknown."""
    target = os.path.realpath(folder)
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return _processes_in_psutil(target)
    found = []
    for entry in os.scandir(proc):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(f"{entry.path}/cwd") != target:
                continue
            stat = Path(entry.path, "stat").read_text()
            raw = Path(entry.path, "cmdline").read_bytes()
        except OSError:  # gone meanwhile, or not ours to look at
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
        fields = stat[stat.rindex(")") + 2 :].split()
        args = tuple(a.decode(errors="replace") for a in raw.split(b"\0") if a)
        found.append(Proc(int(entry.name), int(fields[2]), args))
    return found


def _processes_in_psutil(target: str) -> list[Proc] | None:
    try:
        import psutil
    except ImportError:
        return None
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.cwd() == target:
                found.append(Proc(p.pid, os.getpgid(p.pid), tuple(p.cmdline())))
        except (psutil.Error, OSError):
            continue
    return found


def is_snakemake(p: Proc) -> bool:
    """Snakemake itself (`.../snakemake ...` or `python -m snakemake ...`), not a job's script."""
    args = p.cmdline
    if any(os.path.basename(a) == "snakemake" for a in args[:2]):
        return True
    return any(a == "-m" and b == "snakemake" for a, b in zip(args, args[1:], strict=False))


def clear_stale_locks(folder: Path) -> int:
    """Remove Snakemake's locks left by a killed run: only when no Snakemake process works in
    `folder` (or none can be seen to). Returns how many lock files were removed."""
    locks = folder / STATE_DIR / "locks"
    try:
        files = [p for p in locks.iterdir() if p.is_file()]
    except OSError:
        return 0
    if not files:
        return 0
    procs = processes_in(folder)
    if procs is None or any(is_snakemake(p) for p in procs):
        return 0
    for f in files:
        f.unlink(missing_ok=True)
    return len(files)


def stop_leftovers(folder: Path) -> int:
    """Kill what is left of the previous build: processes of the process group it recorded that
    still work in `folder`. Returns how many were killed (after waiting for them to go)."""
    record = folder / STATE_DIR / PGID_NAME
    try:
        pgid = int(record.read_text().strip())
    except (OSError, ValueError):
        return 0
    if pgid == os.getpgrp():  # the number was reused for the group of this very build (make, us)
        record.unlink(missing_ok=True)
        return 0
    procs = processes_in(folder) or []
    victims = [p.pid for p in procs if p.pgid == pgid]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + REAP_SECONDS
    while victims and time.monotonic() < deadline:
        victims = [pid for pid in victims if _alive(pid)]
        if victims:
            time.sleep(0.02)
    record.unlink(missing_ok=True)
    return len([p for p in procs if p.pgid == pgid])


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


# ---- parent-death signals -------------------------------------------------------------------------

_prctl: Callable[..., int] | None = None


def _load_prctl() -> Callable[..., int] | None:
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = None
    return _prctl


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux only)."""
    prctl = _load_prctl()
    if prctl is None:
        return False
    return prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def _die_with(parent: int) -> Callable[[], None]:
    """preexec_fn for Snakemake: SIGKILL when the launcher dies, even if it already has."""
    _load_prctl()  # load libc in the parent, not between fork and exec

    def setup() -> None:
        if set_parent_death_signal(signal.SIGKILL) and os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


# ---- the guard ----------------------------------------------------------------------------------


def start_guard(pgid: int, close: Sequence[int] = ()) -> tuple[int, int]:
    """Fork a process that kills process group `pgid` if the launcher ends without saying it is
    done. Returns (guard pid, write end of its pipe): write b"x" to it when the group is gone."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(read_end)
        return pid, write_end
    try:  # the guard: own session (a kill of make's process group does not reach it)
        os.close(write_end)
        for fd in close:
            os.close(fd)
        os.setsid()
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
            signal.signal(s, signal.SIG_IGN)
        if os.read(read_end, 1) == b"":  # the launcher died without releasing us
            kill_group(pgid)
    finally:
        os._exit(0)


def kill_group(pgid: int) -> None:
    """SIGKILL process group `pgid`, then wait (a few seconds at most) until none of it runs."""
    deadline = time.monotonic() + REAP_SECONDS
    while True:
        try:
            os.killpg(pgid, signal.SIGKILL)  # again each time: a process may have forked meanwhile
        except (ProcessLookupError, PermissionError):
            return
        if time.monotonic() >= deadline:
            return
        time.sleep(0.01)
        if not _group_running(pgid):  # only zombies left, for their (new) parent to reap
            return


def _group_running(pgid: int) -> bool:
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return True  # cannot tell: let killpg say when the group is gone
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


# ---- running the build --------------------------------------------------------------------------


def snakemake_command(args: Sequence[str], project: Path, engine: Path | None = None) -> list[str]:
    """Snakemake with what recovery needs, unless the caller said otherwise. With `engine` (a
    study folder apart from the engine), the engine's Snakefile and profile are named."""
    engine = engine or project
    cmd = [sys.executable, "-m", "snakemake"]
    if "--rerun-incomplete" not in args and "--ri" not in args:
        cmd.append("--rerun-incomplete")
    if not any(a.startswith("--workflow-profile") for a in args) and (engine / PROFILE).is_dir():
        cmd += ["--workflow-profile", str(engine / PROFILE) if engine != project else PROFILE]
    if engine != project and not {"-s", "--snakefile"} & set(args):
        cmd += ["--snakefile", str(engine / "Snakefile")]
    return cmd + list(args)


def _study_folder(args: list[str]) -> tuple[Path | None, list[str]]:
    """(study folder, the other arguments) from `--study FOLDER` or `--study=FOLDER`."""
    for i, arg in enumerate(args):
        if arg == "--study" and i + 1 < len(args):
            return Path(args[i + 1]), args[:i] + args[i + 2:]
        if arg.startswith("--study="):
            return Path(arg.split("=", 1)[1]), args[:i] + args[i + 1:]
    return None, args


class _Forwarder:
    """Handler for SIGINT, SIGTERM, SIGHUP and SIGALRM. The first of the first three stops the build
    as Ctrl-C stops a plain Snakemake (SIGINT to its whole process group) and starts the grace
    alarm; a second one, or the alarm, kills the group."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.pgid: int | None = None
        self.sent = 0

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if signum != signal.SIGALRM:
            self.received.append(signum)
        self.send()

    def start(self, pgid: int) -> None:
        """Snakemake runs as group `pgid`: pass on what came while it was starting."""
        self.pgid = pgid
        self.send()

    def send(self) -> None:
        if self.pgid is None or not self.received:
            return
        if self.sent == 0:
            _signal_group(self.pgid, signal.SIGINT)
            signal.alarm(GRACE_SECONDS)
        else:
            _signal_group(self.pgid, signal.SIGKILL)
        self.sent += 1


def run_build(project: Path, command: Sequence[str]) -> int:
    """Run `command` in `project` under the lock and return its exit status (128+n for signal n)."""
    parent = os.getppid()
    forward = _Forwarder()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, forward)
    state = project / STATE_DIR
    try:
        lock_fd = acquire_lock(state / LOCK_NAME)
    except BuildBusy as busy:
        print(busy.message(), file=sys.stderr, flush=True)
        return 1
    if set_parent_death_signal(signal.SIGTERM) and os.getppid() != parent:
        forward.received.append(signal.SIGTERM)  # make is already gone
    stopped = stop_leftovers(project)
    if stopped:
        print(f"Stopped {stopped} leftover process(es) of an interrupted build.", file=sys.stderr)
    if clear_stale_locks(project):
        print("Removed the Snakemake lock left by an interrupted build.", file=sys.stderr)
    if forward.received:  # stopped before Snakemake started
        return 128 + forward.received[0]

    proc = subprocess.Popen(
        list(command), cwd=project, start_new_session=True, preexec_fn=_die_with(os.getpid())
    )
    (state / PGID_NAME).write_text(f"{proc.pid}\n")
    guard, release = start_guard(proc.pid, close=(lock_fd,))
    forward.start(proc.pid)
    code = proc.wait()
    signal.alarm(0)
    kill_group(proc.pid)  # a job's children that outlived Snakemake
    os.write(release, b"x")  # the guard may go: nothing is left to kill
    os.close(release)
    os.waitpid(guard, 0)
    (state / PGID_NAME).unlink(missing_ok=True)
    os.close(lock_fd)
    if forward.received:
        name = signal.Signals(forward.received[0]).name
        print(f"Build stopped ({name}); run it again to continue where it stopped.",
              file=sys.stderr, flush=True)
        return 128 + forward.received[0]
    return code if code >= 0 else 128 - code


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# ---- what was built ----------------------------------------------------------------------------


def list_outputs(project: Path) -> list[tuple[str, list[Path]]]:
    """The outputs to open, as (label, paths relative to `project`) for every glob with a match."""
    found = []
    for label, pattern in OUTPUT_GLOBS:
        paths = sorted(p.relative_to(project) for p in project.glob(pattern) if p.is_file())
        if paths:
            found.append((label, paths))
    return found


def format_outputs(project: Path, outputs: list[tuple[str, list[Path]]]) -> str:
    width = max(len(label) for label, _ in outputs) + 1
    lines = [f"Outputs (in {project}):"]
    for label, paths in outputs:
        lines += [f"  {(label + ':') if i == 0 else '':<{width}} {p}" for i, p in enumerate(paths)]
    return "\n".join(lines)


DRY_RUN_FLAGS = {"-n", "--dry-run", "--dryrun"}


def main(argv: Sequence[str] | None = None) -> int:
    study, args = _study_folder(list(sys.argv[1:] if argv is None else argv))
    engine = Path.cwd()
    project = engine
    if study is not None:
        project = study.resolve()
        if not (project / "config" / "config.yaml").is_file():
            print(f"ERROR: --study {study}: no config/config.yaml there; a study folder holds "
                  f"config/config.yaml, config/report.yaml and its data (docs/new-study.md).",
                  file=sys.stderr)
            return 2
    code = run_build(project, snakemake_command(args, project, engine))
    if code == 0 and not DRY_RUN_FLAGS & set(args):
        outputs = list_outputs(project)
        if outputs:
            print(format_outputs(project, outputs), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
