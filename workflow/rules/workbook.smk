# Workbook for people: the estimates as an Excel file, one sheet per item, with a Notes sheet.


rule workbook:
    """Estimates + clean metadata -> results/tables/{survey}_tables.xlsx (suppressed cells [c])."""
    input:
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
        ),
        build_epoch=BUILD_EPOCH,
    log:
        "logs/workbook_{survey}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/workbook.py"
