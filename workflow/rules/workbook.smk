# Workbook for people, to the Analysis Function spreadsheet standard: cover, contents and notes,
# then one table per sheet: each item's estimates, the briefings' figures, the models, the tests
# and the weighting diagnostics.


rule workbook:
    """Estimates + clean metadata -> results/tables/{survey}_tables.xlsx (suppressed cells [c])."""
    input:
        unpack(workbook_inputs),
        estimates="results/tables/{survey}_estimates.csv",
        meta="results/clean/{survey}_meta.json",
        code=code_inputs("workbook.py"),
    output:
        report("results/tables/{survey}_tables.xlsx", category="Estimates"),
    params:
        # Raking margin files (config/targets/<variable>.csv): named in the Notes of weighted surveys.
        config=uses(
            "study",
            "disclosure",
            "surveys.{survey}.label",
            "surveys.{survey}.weighted",
            "weighting.targets",
            "report.population",
            "report.findings",
            "models",
        ),
        build_epoch=BUILD_EPOCH,
    log:
        "logs/workbook_{survey}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/workbook.py"
