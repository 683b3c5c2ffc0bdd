# Reporting: headline facts -> charts -> briefings (PDF + HTML) and the technical report.
# Each briefing depends only on its own template plus the shared ones, so editing one
# briefing re-renders only that briefing.

FIGURES = ["acceptability", "trust", "breakdown", "pilot", "documents", "cooccurrence"]
# The briefings show every figure but the co-occurrence heatmap (technical report only).
BRIEFING_FIGURES = [f for f in FIGURES if f != "cooccurrence"]
TEMPLATES = "workflow/templates"
SHARED_TEMPLATES = [
    f"{TEMPLATES}/base.html",
    f"{TEMPLATES}/briefing.css",
    f"{TEMPLATES}/_macros.html",
]
FONTS = ["workflow/fonts/DejaVuSans.ttf", "workflow/fonts/DejaVuSans-Bold.ttf"]


rule facts:
    input:
        main_estimates="results/tables/main_estimates.csv",
        pilot_estimates="results/tables/pilot_estimates.csv",
        main_flow="results/clean/main_flow.csv",
        pilot_flow="results/clean/pilot_flow.csv",
        diagnostics="results/weights/main_diagnostics.json",
        code_frequencies="results/documents/code_frequencies.csv",
        cooccurrence="results/documents/cooccurrence.csv",
        chains="results/documents/chains.csv",
        reliability="results/documents/reliability.csv",
        main_tests="results/tables/main_tests.csv",
        model="results/models/main_social_licence_glm.csv",
        main_meta="results/clean/main_meta.json",
        code=code_inputs("facts.py"),
    output:
        "results/report/facts.json",
    log:
        "logs/render/facts.log",
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        config=uses("study", "disclosure.min_base"),
    script:
        "../scripts/facts.py"


rule quotes:
    """Parents' own words: open-text comments chosen by the rule in parentlink.comments."""
    input:
        unpack(quotes_inputs),
        code=code_inputs("quotes.py"),
    output:
        quotes="results/report/parent_quotes.json",
        # Every candidate comment, for the research team to read and approve (quotes.approved).
        review="results/review/quote_candidates.json",
    log:
        "logs/render/quotes.log",
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        config=uses("quotes"),
    script:
        "../scripts/quotes.py"


rule charts:
    input:
        facts="results/report/facts.json",
        fonts=FONTS,
        code=code_inputs("charts.py"),
    output:
        # Each chart in the Snakemake report (`snakemake --report`), with its own caption.
        svg=[
            report(
                f"results/figures/{name}.svg",
                caption=f"../report/figure_{name}.rst",
                category="Figures",
            )
            for name in FIGURES
        ],
        alt="results/figures/alt_text.json",
    log:
        "logs/render/charts.log",
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/charts.py"


rule render_briefing:
    input:
        facts="results/report/facts.json",
        alt="results/figures/alt_text.json",
        quotes="results/report/parent_quotes.json",
        svg=expand("results/figures/{name}.svg", name=BRIEFING_FIGURES),
        template=f"{TEMPLATES}/{{audience}}.html",
        shared=SHARED_TEMPLATES,
        fonts=FONTS,
        code=code_inputs("render.py"),
    output:
        pdf=report(
            "reports/briefings/{audience}.pdf",
            caption="../report/briefing.rst",
            category="Reports",
            subcategory="Briefings",
        ),
        html="reports/briefings/{audience}.html",
    log:
        "logs/render/{audience}.log",
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        config=uses("study"),
        build_epoch=BUILD_EPOCH,
    script:
        "../scripts/render.py"


rule technical_report:
    input:
        facts="results/report/facts.json",
        alt="results/figures/alt_text.json",
        quotes="results/report/parent_quotes.json",
        svg=expand("results/figures/{name}.svg", name=FIGURES),
        main_estimates="results/tables/main_estimates.csv",
        pilot_estimates="results/tables/pilot_estimates.csv",
        main_flow="results/clean/main_flow.csv",
        pilot_flow="results/clean/pilot_flow.csv",
        diagnostics="results/weights/main_diagnostics.json",
        code_frequencies="results/documents/code_frequencies.csv",
        codebooks=expand("results/codebook/{survey}.csv", survey=SURVEYS),
        template=f"{TEMPLATES}/technical_report.html",
        shared=SHARED_TEMPLATES,
        fonts=FONTS,
        hashed=report_inputs(),
        code=code_inputs("render.py"),
    output:
        pdf=report(
            "reports/technical_report.pdf",
            caption="../report/technical_report.rst",
            category="Reports",
            subcategory="Technical report",
        ),
    log:
        "logs/render/technical_report.log",
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        config=uses("study", "disclosure.min_cell"),
        build_epoch=BUILD_EPOCH,
        code_version=CODE_VERSION,
    script:
        "../scripts/render.py"
