# Weight stage: rake the weighted survey's design weight to the population margins (config weighting).


# Only for a study with a weighted survey (config weighting).
if WEIGHTED:

    rule weight:
        input:
            data="results/clean/{survey}.parquet",
            meta="results/clean/{survey}_meta.json",
            targets=setting("weighting.targets"),
            code=code_inputs("weight.py"),
        output:
            weights="results/weights/{survey}_weights.csv",
            diagnostics=report(
                "results/weights/{survey}_diagnostics.json",
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
            "logs/weight_{survey}.log",
        resources:
            mem_mb=2000,
            runtime=20,
        script:
            "../scripts/weight.py"
