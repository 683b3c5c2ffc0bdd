# Weight stage: rake the main survey's design weight to the population margins (config weighting).


rule weight:
    input:
        data=f"results/clean/{config['weighting']['survey']}.parquet",
        meta=f"results/clean/{config['weighting']['survey']}_meta.json",
        targets=config["weighting"]["targets"],
    output:
        weights="results/weights/main_weights.csv",
        diagnostics="results/weights/main_diagnostics.json",
    log:
        "logs/weight.log",
    script:
        "../scripts/weight.py"
