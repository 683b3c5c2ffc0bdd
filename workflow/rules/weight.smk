# Weight stage: rake the main survey's design weight to the population margins (config weighting).


rule weight:
    input:
        data=lambda wc: f"results/clean/{setting('weighting.survey')}.parquet",
        meta=lambda wc: f"results/clean/{setting('weighting.survey')}_meta.json",
        targets=setting("weighting.targets"),
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
            "weighting.method",
            "weighting.calfun",
            "weighting.bounds",
            "weighting.trim_weights",
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
