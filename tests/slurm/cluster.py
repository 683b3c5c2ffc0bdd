"""A throwaway one-node Slurm cluster on this machine, for the cluster test (tests/test_slurm.py).

Everything the cluster owns lives in one private directory: its own munge key and munged socket,
slurm.conf (non-default SlurmctldPort/SlurmdPort picked free at start), StateSaveLocation,
SlurmdSpoolDir, pid and log files. Clients find it through SLURM_CONF (see ``LocalSlurm.env``), so
a Slurm or munged that the machine already runs is never read, written or signalled. If a
slurmctld or slurmd is already running here, ``existing_slurm_daemons`` reports it and the test
skips instead of starting a second cluster next to it.

The daemons run in the foreground as children of this process; ``stop`` signals exactly those
pids (never by name), after cancelling any job left in *this* cluster's queue.

Needs root (SlurmUser=root, as in the reference setup) and the Debian packages slurm-wlm and
munge (``tests/slurm/install.sh`` installs them when missing).

    python tests/slurm/cluster.py     # start a cluster, print SLURM_CONF, stop on Ctrl-C
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "scontrol", "sinfo", "srun")
PARTITION = "plslurm"  # the test cluster's only (default) partition


def which(name: str) -> str | None:
    """Daemons live in /usr/sbin, which is not on every PATH."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")


def missing_binaries() -> list[str]:
    return [b for b in (*DAEMONS, *CLIENTS) if which(b) is None]


def install_if_missing() -> None:
    """Install slurm-wlm and munge from the Debian packages when a binary is missing."""
    if missing_binaries():
        subprocess.run(["bash", str(HERE / "install.sh")], check=True)


def existing_slurm_daemons() -> list[tuple[int, str]]:
    """(pid, name) of every slurmctld/slurmd already running on this machine (read from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if comm in ("slurmctld", "slurmd"):
            found.append((int(proc.name), comm))
    return found


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _node_line() -> tuple[str, str]:
    """(node name, slurm.conf NodeName line) for this machine, from `slurmd -C`."""
    out = subprocess.run(
        [which("slurmd") or "slurmd", "-C"], capture_output=True, text=True, check=True
    )
    line = out.stdout.splitlines()[0].strip()
    fields = dict(f.split("=", 1) for f in line.split())
    name = fields["NodeName"]
    # Leave headroom so the node is never drained for having less memory than configured.
    mem = max(int(int(fields.get("RealMemory", "2048")) * 0.9), 1024)
    keep = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
    parts = [f"NodeName={name}", "NodeAddr=127.0.0.1"]
    parts += [f"{k}={fields[k]}" for k in keep if k in fields]
    parts += [f"RealMemory={mem}", "State=UNKNOWN"]
    return name, " ".join(parts)


def _die_with_parent() -> None:
    """In the daemon's child before exec: SIGTERM it if this Python process dies (killed test run),
    so a killed pytest never leaves its daemons behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class SlurmError(RuntimeError):
    pass


class LocalSlurm:
    """Start munged, slurmctld and slurmd under a private directory; stop exactly those pids."""

    def __init__(self, base: Path | None = None) -> None:
        # Short path: the munge socket must fit in a Unix socket address (108 bytes).
        self.dir = Path(tempfile.mkdtemp(prefix="plslurm-", dir=base or "/tmp"))
        self.dir.chmod(0o755)  # munged wants the socket's directories searchable by all
        self.conf = self.dir / "slurm.conf"
        self.socket = self.dir / "munge.socket"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.node = ""

    # -- environment for clients (sbatch, squeue, snakemake) -------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ, SLURM_CONF=str(self.conf))
        path = [str(self.dir / "bin"), *env.get("PATH", "").split(":")]
        path += [extra for extra in ("/usr/sbin", "/usr/bin") if extra not in path]
        env["PATH"] = ":".join(p for p in path if p)
        return env

    @property
    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.procs.items()}

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(cmd), env=self.env, capture_output=True, text=True, check=check, timeout=60
        )

    # -- start ------------------------------------------------------------------------------
    def write_config(self) -> None:
        key = self.dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for sub in ("state", "spool", "log", "bin"):
            (self.dir / sub).mkdir(mode=0o755)
        # snakemake-executor-plugin-slurm-jobstep 0.6.1 drops every SLURM_* variable except the
        # job's identity before its nested `srun`, SLURM_CONF included, so inside a job srun would
        # look for /etc/slurm/slurm.conf (another cluster's, or none). This srun, first on the
        # PATH of the cluster's jobs, points it back at this cluster. Clusters configured at the
        # default path (every real site) do not need it.
        srun = self.dir / "bin" / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {which("srun")} "$@"\n')
        srun.chmod(0o755)
        ctld_port, slurmd_port = _free_ports(2)
        self.node, node_line = _node_line()
        d = self.dir
        self.conf.write_text(
            f"""# One-node test cluster written by tests/slurm/cluster.py; everything under {d}.
ClusterName=plslurm
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.socket}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
# No accounting (no slurmdbd, no AccountingStorageHost): `sacct` answers "Slurm accounting storage
# is disabled". The workflow must notice and check job status with squeue (test_slurm.py).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# Without accounting, finished jobs must stay visible to squeue long enough for the
# Snakemake plugin's status checks (at least 300 s: see parentlink.slurm).
MinJobAge=43200
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
{node_line}
PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""
        )

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.dir / "log" / f"{name}.out", "wb")
        self.procs[name] = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, not the daemons directly
            preexec_fn=_die_with_parent,
        )
        log.close()

    def _wait(self, what: str, ok: Callable[[], bool], timeout: float = 30.0) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise SlurmError(
                        f"{name} exited with {p.returncode} waiting for {what}:\n{self.logs()}"
                    )
            if ok():
                return
            time.sleep(0.2)
        raise SlurmError(f"timed out after {timeout:.0f} s waiting for {what}:\n{self.logs()}")

    def start(self) -> LocalSlurm:
        if missing := missing_binaries():
            raise SlurmError(
                f"missing {', '.join(missing)}: install slurm-wlm, munge (tests/slurm/install.sh)"
            )
        if os.geteuid() != 0:
            raise SlurmError(
                "the test cluster runs its daemons as root (SlurmUser=root); run as root"
            )
        self.write_config()
        d = self.dir
        try:
            self._spawn("munged", [
                which("munged") or "munged", "-F", f"--key-file={d}/munge.key",
                f"--socket={self.socket}", f"--pid-file={d}/munged.pid",
                f"--log-file={d}/log/munged.log", f"--seed-file={d}/munged.seed",
            ])  # fmt: skip
            self._wait("munged", self.socket.exists)
            self._spawn(
                "slurmctld", [which("slurmctld") or "slurmctld", "-D", "-i", "-f", str(self.conf)]
            )
            self._wait(
                "slurmctld",
                lambda: self.run("scontrol", "ping", check=False).stdout.count("UP") > 0,
            )
            self._spawn("slurmd", [which("slurmd") or "slurmd", "-D", "-f", str(self.conf)])
            self._wait("an idle node", self._node_idle)
        except BaseException:
            self.stop()
            raise
        return self

    def _node_idle(self) -> bool:
        out = self.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.split()
        return bool(out) and all(s.rstrip("*") == "idle" for s in out)

    # -- queries ------------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, str]]:
        """Jobs in this cluster's queue: id, state, name, comment."""
        out = self.run("squeue", "-h", "-t", "all", "-o", "%i|%T|%j|%k", check=False).stdout
        rows = []
        for line in out.splitlines():
            parts = line.split("|", 3)
            if len(parts) == 4:
                rows.append(dict(zip(("id", "state", "name", "comment"), parts, strict=True)))
        return rows

    def logs(self) -> str:
        out = []
        for f in sorted((self.dir / "log").glob("*")):
            text = f.read_text(errors="replace").splitlines()[-15:]
            out.append(f"--- {f.name}\n" + "\n".join(text))
        return "\n".join(out)

    # -- stop ---------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel this cluster's unfinished jobs, then stop exactly the daemons started here."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            active = [
                j["id"]
                for j in self.jobs()
                if j["state"] in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING")
            ]
            if active:
                self.run("scancel", *active, check=False)
                t0 = time.monotonic()
                while time.monotonic() - t0 < 20 and any(
                    j["state"] in ("RUNNING", "COMPLETING") for j in self.jobs()
                ):
                    time.sleep(0.5)
        for name in reversed(DAEMONS):  # slurmd, slurmctld, munged
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    if running := existing_slurm_daemons():
        print(
            f"A Slurm is already running here ({running}); not starting another.", file=sys.stderr
        )
        return 1
    install_if_missing()
    cluster = LocalSlurm()
    with cluster:
        print(f"one-node cluster up: export SLURM_CONF={cluster.conf}")
        print(f"daemon pids: {cluster.pids}; Ctrl-C stops them")
        try:
            while all(p.poll() is None for p in cluster.procs.values()):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    print("stopped", cluster.pids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
