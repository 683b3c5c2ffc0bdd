rule clean:
    """Apply the declarative cleaning plan: rename, validate, exclude (counted), recode, derive."""
    input:
        data="results/ingest/{survey}.parquet",
        meta="results/ingest/{survey}_meta.json",
        plan=lambda wc: config["surveys"][wc.survey]["plan"],
    output:
        data="results/clean/{survey}.parquet",
        meta="results/clean/{survey}_meta.json",
        flow=report(
            "results/clean/{survey}_flow.csv",
            caption="../report/flow.rst",
            category="Cleaning",
        ),
    params:
        weighted=lambda wc: config["surveys"][wc.survey]["weighted"],
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
    output:
        sav="results/clean/{survey}.sav",
        codebook_csv="results/codebook/{survey}.csv",
        codebook_html=report("results/codebook/{survey}.html", category="Codebook"),
    log:
        "logs/export_clean/{survey}.log",
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../scripts/export_clean.py"
