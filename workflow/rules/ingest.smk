rule ingest:
    """Read the agency's delivery once (labels, user-missing codes kept); privacy applied here."""
    input:
        raw=lambda wc: setting("surveys.{survey}.raw", wc),
        plan=lambda wc: setting("surveys.{survey}.plan", wc),
        code=code_inputs("ingest.py"),
        # Redaction reads the names list (parentlink.privacy).
        names=package_data("data/first_names.txt"),
    output:
        data="results/ingest/{survey}.parquet",
        meta="results/ingest/{survey}_meta.json",
        # The redacted open text, for the clean stage only: its lasting copy is
        # results/clean/{survey}_text.parquet (docs/privacy.md).
        text=temp("results/ingest/{survey}_text.parquet"),
    params:
        config=uses("privacy", "study.synthetic"),
    log:
        "logs/ingest/{survey}.log",
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/ingest.py"
