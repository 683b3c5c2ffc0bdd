# Weight stage: rake the main survey's design weight to the population margins (config weighting).


rule weight:
    input:
        data=f"results/clean/{config['weighting']['survey']}.parquet",
        meta=f"results/clean/{config['weighting']['survey']}_meta.json",
        targets=config["weighting"]["targets"],
        code=code_inputs("weight.py"),
    output:
        weights="results/weights/main_weights.csv",
        diagnostics=report(
            "results/weights/main_diagnostics.json",
            caption="../report/weights.rst",
            category="Weighting",
        ),
    params:
        config=uses(
            "weighting.design_weight",
            "weighting.trim",
            "weighting.tolerance",
            "weighting.max_iterations",
        ),
    log:
        "logs/weight.log",
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/weight.py"
