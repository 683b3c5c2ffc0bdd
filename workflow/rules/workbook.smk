# Workbook for people: the estimates as an Excel file, one sheet per item, with a Notes sheet.


rule workbook:
    """Estimates + clean metadata -> results/tables/{survey}_tables.xlsx (suppressed cells [c])."""
    input:
        estimates="results/tables/{survey}_estimates.csv",
        meta="results/clean/{survey}_meta.json",
    output:
        report("results/tables/{survey}_tables.xlsx", category="Estimates"),
    params:
        study=config["study"],
        disclosure=config["disclosure"],
        survey_label=lambda wc: config["surveys"][wc.survey].get("label", wc.survey),
        weighted=lambda wc: config["surveys"][wc.survey].get("weighted", False),
        # Raking margin files (config/targets/<variable>.csv): named in the Notes of weighted surveys.
        targets=config["weighting"]["targets"],
    log:
        "logs/workbook_{survey}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/workbook.py"
