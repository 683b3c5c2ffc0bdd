# Reporting: findings -> charts -> documents (PDF + HTML) and the technical report.
# What the documents say is the study's (config/report.yaml, config/templates/); the layout,
# accessibility and the synthetic stamp are the engine's (workflow/templates/). Each document
# depends only on its own template plus the shared ones, so editing one re-renders only it.

ENGINE_TEMPLATES = engine_file("workflow/templates")
SHARED_TEMPLATES = [
    f"{ENGINE_TEMPLATES}/base.html",
    f"{ENGINE_TEMPLATES}/briefing.css",
    f"{ENGINE_TEMPLATES}/_engine.html",
    f"{ENGINE_TEMPLATES}/_technical.html",
    # The study's own shared macros, when it has them.
    *[f for f in [f"{STUDY_TEMPLATES}/_study.html"] if Path(f).is_file()],
]
# The long documents' layout (technical report and appendices), on top of briefing.css.
REPORT_CSS = f"{ENGINE_TEMPLATES}/report.css"
FONTS = [engine_file("workflow/fonts/DejaVuSans.ttf"), engine_file("workflow/fonts/DejaVuSans-Bold.ttf")]


rule facts:
    input:
        unpack(facts_inputs),
        code=code_inputs("facts.py"),
    output:
        "results/report/facts.json",
    log:
        "logs/render/facts.log",
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        config=uses("study", "disclosure.min_base", "report.population", "report.breakdowns",
                    "report.findings", "surveys", "models", "documents.type_labels",
                    "documents.contrast", "documents.concerns_root"),
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
                caption="../report/figure.rst",
                category="Figures",
            )
            for name in CHARTS
        ],
        alt="results/figures/alt_text.json",
    log:
        "logs/render/charts.log",
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        config=uses("report.charts"),
    script:
        "../scripts/charts.py"


rule render_briefing:
    input:
        unpack(quotes_file),
        facts="results/report/facts.json",
        alt="results/figures/alt_text.json",
        svg=lambda wc: document_charts(wc.audience),
        template=f"{STUDY_TEMPLATES}/{{audience}}.html",
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
        # Every document's audience: the links to the other briefings name them.
        config=uses("study", "report.documents.{audience}",
                    *[f"report.documents.{a}.audience" for a in sorted(AUDIENCES)]),
        # Sorted: a --configfile overlay can change the order of report.documents.
        audiences=sorted(AUDIENCES),
        surveys=SURVEYS,
        build_epoch=BUILD_EPOCH,
    script:
        "../scripts/render.py"


rule technical_report:
    input:
        unpack(facts_inputs),
        unpack(quotes_file),
        facts="results/report/facts.json",
        alt="results/figures/alt_text.json",
        svg=document_charts("technical_report"),
        template=f"{STUDY_TEMPLATES}/technical_report.html",
        shared=SHARED_TEMPLATES,
        css=REPORT_CSS,
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


rule appendix:
    """One survey's full estimate tables and codebook, labelled from the metadata: a PDF per
    survey, rendered as parallel jobs (the technical report keeps the key tables only)."""
    input:
        # Not facts.json: what the appendix needs of it comes from the config (params), so the
        # longest rendering job starts as soon as the estimates are written.
        estimates="results/tables/{survey}_estimates.csv",
        codebook="results/codebook/{survey}.csv",
        # The study's own appendix.html when it has one, else the engine's.
        template=lambda wc: (f"{STUDY_TEMPLATES}/appendix.html"
                             if Path(f"{STUDY_TEMPLATES}/appendix.html").is_file()
                             else f"{ENGINE_TEMPLATES}/appendix.html"),
        # base.html first: the script takes the engine's folder from it.
        shared=[f"{ENGINE_TEMPLATES}/base.html", f"{ENGINE_TEMPLATES}/briefing.css"],
        css=REPORT_CSS,
        fonts=FONTS,
        code=code_inputs("render.py"),
    output:
        pdf=report(
            "reports/appendix/{survey}_tables.pdf",
            caption="../report/appendix.rst",
            category="Reports",
            subcategory="Appendices",
        ),
    log:
        "logs/render/appendix_{survey}.log",
    wildcard_constraints:
        survey="|".join(SURVEYS),
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        config=uses("study", "disclosure.min_cell", "disclosure.min_base", "report.population",
                    "surveys.{survey}.label", "surveys.{survey}.weighted"),
        build_epoch=BUILD_EPOCH,
        code_version=CODE_VERSION,
    script:
        "../scripts/render.py"
