rule clean:
    """Apply the declarative cleaning plan: rename, validate, exclude (counted), recode, derive."""
    input:
        data="results/ingest/{survey}.parquet",
        meta="results/ingest/{survey}_meta.json",
        text="results/ingest/{survey}_text.parquet",
        plan=lambda wc: setting("surveys.{survey}.plan", wc),
        code=code_inputs("clean.py"),
    output:
        data="results/clean/{survey}.parquet",
        meta="results/clean/{survey}_meta.json",
        # Open text (redacted), apart from the clean data and .sav: read only to choose quotes.
        text="results/clean/{survey}_text.parquet",
        flow=report(
            "results/clean/{survey}_flow.csv",
            caption="../report/flow.rst",
            category="Cleaning",
        ),
    params:
        config=uses("surveys.{survey}.weighted"),
    log:
        "logs/clean/{survey}.log",
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../scripts/clean.py"


rule export_clean:
    """For people: the cleaned data as a labelled SPSS file, and the codebook (CSV and HTML)."""
    input:
        data="results/clean/{survey}.parquet",
        meta="results/clean/{survey}_meta.json",
        text="results/clean/{survey}_text.parquet",
        # The weighted survey's final weight goes into the .sav (WEIGHT BY final_weight).
        weights=lambda w: [f"results/weights/{w.survey}_weights.csv"] if w.survey in WEIGHTED else [],
        code=code_inputs("export_clean.py"),
    output:
        sav="results/clean/{survey}.sav",
        codebook_csv="results/codebook/{survey}.csv",
        codebook_html=report("results/codebook/{survey}.html", category="Codebook"),
    params:
        config=uses("disclosure.min_cell", "study.synthetic", "surveys.{survey}.design"),
        build_epoch=BUILD_EPOCH,
    log:
        "logs/export_clean/{survey}.log",
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../scripts/export_clean.py"
