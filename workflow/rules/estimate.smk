# Estimate stage: domain proportions with calibrated SEs, Rao-Scott tests, survey logistic model.

MODEL_PREDICTORS = [
    "ethnicity",
    "family_type",
    "age_band",
    "qualification",
    "income",
    "hh_size_group",
]


def estimate_inputs(wildcards):
    """Clean data and meta; weighted surveys also need the weights and the raking margins."""
    s = wildcards.survey
    inputs = {"data": f"results/clean/{s}.parquet", "meta": f"results/clean/{s}_meta.json"}
    if config["surveys"][s].get("weighted", False):
        inputs["weights"] = "results/weights/main_weights.csv"
        inputs["targets"] = config["weighting"]["targets"]
    return inputs


rule estimate:
    input:
        unpack(estimate_inputs),
    output:
        estimates="results/tables/{survey}_estimates.csv",
        tests="results/tables/{survey}_tests.csv",
    params:
        weighted=lambda wc: config["surveys"][wc.survey].get("weighted", False),
    log:
        "logs/estimate_{survey}.log",
    script:
        "../scripts/estimate.py"


rule model:
    input:
        data="results/clean/main.parquet",
        meta="results/clean/main_meta.json",
        weights="results/weights/main_weights.csv",
        targets=config["weighting"]["targets"],
    output:
        "results/models/main_social_licence_glm.csv",
    params:
        outcome="social_licence_high",
        predictors=MODEL_PREDICTORS,
    log:
        "logs/model_main.log",
    script:
        "../scripts/model.py"
