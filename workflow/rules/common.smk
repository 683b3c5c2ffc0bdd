# Helpers shared by all rules. Kept cheap to load: every cluster job re-parses the Snakefile.

SURVEYS = sorted(config["surveys"])
AUDIENCES = ["local_authorities", "national_policy", "parents"]


wildcard_constraints:
    survey="|".join(SURVEYS),
    audience="|".join(AUDIENCES),


def all_outputs():
    """The output contract (docs/data-contract.md)."""
    outs = []
    for s in SURVEYS:
        outs += [
            f"results/clean/{s}.parquet",
            f"results/clean/{s}_flow.csv",
            f"results/tables/{s}_estimates.csv",
            f"results/tables/{s}_tests.csv",
            f"results/codebook/{s}.html",
        ]
    outs += [
        "results/weights/main_weights.csv",
        "results/weights/main_diagnostics.json",
        "results/models/main_social_licence_glm.csv",
        "results/documents/code_frequencies.csv",
        "reports/technical_report.pdf",
    ]
    outs += [f"reports/briefings/{a}.pdf" for a in AUDIENCES]
    return outs
