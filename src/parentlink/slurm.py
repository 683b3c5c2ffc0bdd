"""Choose how Snakemake's Slurm executor checks job status on this cluster, or say why it cannot.

snakemake-executor-plugin-slurm (2.x) asks ``sacct`` for the state of its jobs whenever the
``sacct`` binary exists. On a cluster without accounting (``AccountingStorageType`` unset or
``accounting_storage/none``, no slurmdbd) ``sacct`` only answers "Slurm accounting storage is
disabled", the plugin takes every job for still running, and the run waits forever on jobs that
have long finished. Such a cluster needs ``squeue`` for status, and ``squeue`` sees a finished job
only until slurmctld purges it, ``MinJobAge`` seconds after it ended. The plugin waits up to
``MAX_STATUS_INTERVAL`` seconds between status checks (sized for Slurm's default MinJobAge of
300 s), and it goes back to ``sacct`` by itself whenever MinJobAge is unknown or below three
times ``init_seconds_before_status_checks``.

``configure_status_command`` reads ``scontrol show config`` once (short timeout) and:

* accounting on: leaves the plugin's choice alone;
* accounting off and MinJobAge long enough: sets the status command to ``squeue``;
* accounting off and MinJobAge too short (or not reported): returns a one-line error naming
  exactly what to set, for the caller to stop with before any job is submitted;
* ``scontrol`` fails or its output is not understood: leaves the plugin's choice alone and
  returns a warning saying what to set if the cluster has no accounting.

The Snakemake side (the onstart hook in ``workflow/rules/cluster.smk``) calls it only in the main
process of a run with the slurm executor.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

SCONTROL_TIMEOUT = 10.0  # seconds; the plugin uses the same for its own `scontrol show config`
# The plugin never waits longer than this between two status checks (max_sleep_time).
MAX_STATUS_INTERVAL = 180
# What a cluster without accounting needs at least: Slurm's default, for which the plugin's
# 180 s cap was chosen (a finished job stays visible to squeue for at least MinJobAge).
MIN_JOB_AGE_FLOOR = 300
# The plugin's own default for init_seconds_before_status_checks.
DEFAULT_INIT_SECONDS = 40
PROFILE = "workflow/profiles/slurm/config.yaml"
# AccountingStorageType values meaning "no accounting": Slurm < 23.02 prints the none plugin,
# later versions print (null) for an unset or none type.
_NO_ACCOUNTING = {"", "(null)", "none", "accounting_storage/none"}


class SlurmConfigError(RuntimeError):
    """`scontrol show config` could not be run or did not succeed."""


@dataclass(frozen=True)
class SlurmConfig:
    """What the status check needs from `scontrol show config`."""

    accounting_storage_type: str | None  # None: no such line in the output
    min_job_age: int | None  # seconds; None: no such line, or not a number

    @property
    def has_accounting(self) -> bool | None:
        """True/False when the output says; None when it has no AccountingStorageType line."""
        if self.accounting_storage_type is None:
            return None
        return self.accounting_storage_type.strip().lower() not in _NO_ACCOUNTING


@dataclass(frozen=True)
class Decision:
    """What to do before the first job is submitted.

    status_command: set the executor's status command to this (None: leave it as it is).
    error: one sentence; the run must stop with ``ERROR: <error>`` before submitting anything.
    message: what to log (a warning if `warning`, else for information); None: nothing.
    """

    status_command: str | None = None
    error: str | None = None
    message: str | None = None
    warning: bool = False


class StatusSettings(Protocol):
    """The part of the plugin's ExecutorSettings this module reads and writes."""

    status_command: str | None


def parse_show_config(text: str) -> SlurmConfig:
    """AccountingStorageType and MinJobAge (in seconds) from `scontrol show config` output."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values.setdefault(key.strip(), value.strip())
    return SlurmConfig(
        accounting_storage_type=values.get("AccountingStorageType"),
        min_job_age=_seconds(values.get("MinJobAge")),
    )


def _seconds(value: str | None) -> int | None:
    """'300 sec', '300', '1h' or '5 min' as seconds; None if it is not a duration."""
    if value is None:
        return None
    m = re.fullmatch(r"(\d+)\s*([a-zA-Z]*)", value.strip())
    if not m:
        return None
    unit = m.group(2).lower()
    scale = {"": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
             "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
             "h": 3600, "hour": 3600, "hours": 3600}.get(unit)  # fmt: skip
    return None if scale is None else int(m.group(1)) * scale


def read_show_config(timeout: float = SCONTROL_TIMEOUT) -> str:
    """Output of `scontrol show config`; SlurmConfigError if it cannot be had within `timeout`."""
    try:
        res = subprocess.run(
            ["scontrol", "show", "config"],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise SlurmConfigError("scontrol not found on the PATH") from None
    except subprocess.TimeoutExpired:
        raise SlurmConfigError(f"no answer within {timeout:g} s") from None
    except OSError as e:
        raise SlurmConfigError(str(e)) from None
    if res.returncode != 0:
        detail = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise SlurmConfigError(f"exit code {res.returncode}: {detail}")
    return res.stdout


def required_min_job_age(init_seconds: int) -> int:
    """The shortest MinJobAge with which squeue-based status checks cannot miss a finished job."""
    return max(MIN_JOB_AGE_FLOOR, 3 * init_seconds)


def decide(cfg: SlurmConfig | None, configured: str | None, init_seconds: int, problem: str = "") -> Decision:
    """The status command for a cluster described by `cfg` (None: could not be read, `problem`
    says why), given the configured command and init_seconds_before_status_checks."""
    if cfg is None or cfg.has_accounting is None:
        why = problem or "no AccountingStorageType in its output"
        return Decision(
            warning=True,
            message=f"could not tell whether this Slurm cluster keeps accounting (scontrol show "
            f"config: {why}); job status via {configured or 'the plugin default'}. Without "
            "accounting (no slurmdbd) the run would not see its jobs finish: then stop it and make "
            "`scontrol show config` work on this node (the Slurm plugin reads MinJobAge from it).",
        )
    if cfg.has_accounting:
        return Decision()
    acct = f"AccountingStorageType={cfg.accounting_storage_type}"
    need = required_min_job_age(init_seconds)
    age = cfg.min_job_age
    if age is not None and age >= need:
        switched = "" if configured == "squeue" else f" instead of {configured or 'sacct'}"
        return Decision(
            status_command="squeue",
            message=f"this Slurm cluster has no accounting ({acct}): job status via squeue"
            f"{switched} (MinJobAge={age} s >= {need} s).",
        )
    if age is None:
        seen = "reports no MinJobAge"
    elif age == 0:  # never purged, but the plugin takes 0 for too short and polls with sacct
        seen = "MinJobAge=0 (never purge), which the Slurm plugin takes for too short"
    else:
        seen = f"forgets finished jobs after MinJobAge={age} s"
    if age is not None and age >= MIN_JOB_AGE_FLOOR:
        # Only a long first wait before status checks is in the way (need = 3 * init_seconds).
        why = f"with slurm-init-seconds-before-status-checks: {init_seconds} "
        fix = (
            f"set slurm-init-seconds-before-status-checks: {age // 3} or less (in {PROFILE}, or "
            "--slurm-init-seconds-before-status-checks on the command line)"
        )
    else:
        why = ""
        fix = f"ask the cluster's administrators for MinJobAge={need} (or more) in slurm.conf"
    return Decision(
        error=f"this Slurm cluster has no accounting ({acct}) and {seen}; Snakemake then checks "
        f"job status with squeue and {why}needs MinJobAge >= {need} s to see every job finish "
        f"(else it waits forever): {fix}."
    )


def configure_status_command(
    settings: StatusSettings,
    init_seconds: int = DEFAULT_INIT_SECONDS,
    show_config: Callable[[], str] = read_show_config,
) -> Decision:
    """Read the cluster's configuration, decide, and set ``settings.status_command`` if needed."""
    configured = settings.status_command
    try:
        cfg: SlurmConfig | None = parse_show_config(show_config())
        problem = ""
    except SlurmConfigError as e:
        cfg, problem = None, str(e)
    decision = decide(cfg, configured, init_seconds, problem)
    if decision.status_command is not None and decision.error is None:
        settings.status_command = decision.status_command
    return decision
