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
        means="results/tables/{survey}_means.csv",
        audit="results/tables/{survey}_disclosure_audit.csv",
    params:
        config=uses(
            "surveys.{survey}.weighted",
            "surveys.{survey}.design",
            "analysis.{survey}",
            "disclosure",
            "weighting",
            "report.population",
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
        unpack(estimate_inputs),
        code=code_inputs("model.py"),
    output:
        "results/models/{survey}_{model}_glm.csv",
    params:
        config=uses("models.{model}", "surveys.{survey}.design", "weighting"),
    log:
        "logs/model_{survey}_{model}.log",
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/model.py"
