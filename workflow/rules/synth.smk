rule synthesize_main:
    """A bigger SYNTHETIC main survey from the project's generator (scale scenario, benchmarks)."""
    input:
        code=code_inputs("synthesize.py"),
    output:
        "results/synthetic/main_survey_{n}.sav",
    wildcard_constraints:
        n=r"\d+",
    log:
        "logs/synthesize_main_{n}.log",
    resources:
        mem_mb=8000,
        runtime=30,
    script:
        "../scripts/synthesize.py"
