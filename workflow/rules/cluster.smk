# Cluster execution (workflow/profiles/slurm): steps that take a second or two and little memory
# run on the submitting node instead of waiting in the Slurm queue. No effect on local runs.


localrules:
    all,
    facts,
    charts,
    quotes,


# Job status on a Slurm cluster without accounting (no slurmdbd). The Slurm executor plugin asks
# `sacct` whenever that binary exists, and without accounting sacct never reports a job, so the run
# would wait forever on jobs that have finished. Snakemake only knows the executor and its settings
# once the run starts (they are unset while this file is parsed), so the check is an onstart hook:
# it runs in the main Snakemake process after the DAG is built and before the first job is
# submitted, and the plugin reads the status command anew at every status check. It switches a
# cluster without accounting to squeue, or stops with one `ERROR:` line saying what to set
# (parentlink.slurm). Local runs return at the first test; cluster jobs run with --no-hooks and
# never call it. A Snakemake workflow has one onstart handler: add to this one rather than
# declaring another (tests/test_slurm_detect.py checks there is only this one).
def slurm_status_check():
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm" or not workflow.is_main_process:
        return
    import sys

    from snakemake.logging import logger

    from parentlink.slurm import DEFAULT_INIT_SECONDS, configure_status_command

    settings = workflow.executor_settings
    if not hasattr(settings, "status_command"):  # a plugin version without the setting
        return
    init = getattr(settings, "init_seconds_before_status_checks", None) or DEFAULT_INIT_SECONDS
    decision = configure_status_command(settings, init)
    if decision.error:
        print(f"ERROR: {decision.error}", file=sys.stderr, flush=True)
        raise SystemExit(1)  # before any job is submitted; Snakemake's lock is released on exit
    if decision.message:
        (logger.warning if decision.warning else logger.info)(decision.message)


onstart:
    slurm_status_check()
