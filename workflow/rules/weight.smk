# Weight stage: rake the main survey's design weight to the population margins (config weighting).


rule weight:
    input:
        data=f"results/clean/{config['weighting']['survey']}.parquet",
        meta=f"results/clean/{config['weighting']['survey']}_meta.json",
        targets=config["weighting"]["targets"],
    output:
        weights="results/weights/main_weights.csv",
        diagnostics=report(
            "results/weights/main_diagnostics.json",
            caption="../report/weights.rst",
            category="Weighting",
        ),
    log:
        "logs/weight.log",
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/weight.py"
