# Estimate stage: domain proportions with calibrated SEs, Rao-Scott tests, survey logistic model.

rule estimate:
    input:
        unpack(estimate_inputs),
        code=code_inputs("estimate.py"),
    output:
        estimates=report(
            "results/tables/{survey}_estimates.csv",
            caption="../report/estimates.rst",
            category="Estimates",
        ),
        tests="results/tables/{survey}_tests.csv",
    params:
        config=uses(
            "surveys.{survey}.weighted",
            "surveys.{survey}.design",
            "analysis.{survey}",
            "disclosure",
            "weighting",
        ),
    log:
        "logs/estimate_{survey}.log",
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/estimate.py"


rule model:
    input:
        data="results/clean/main.parquet",
        meta="results/clean/main_meta.json",
        weights="results/weights/main_weights.csv",
        targets=setting("weighting.targets"),
        code=code_inputs("model.py"),
    output:
        "results/models/main_social_licence_glm.csv",
    params:
        config=uses("model", "surveys.main.design", "weighting"),
    log:
        "logs/model_main.log",
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/model.py"
