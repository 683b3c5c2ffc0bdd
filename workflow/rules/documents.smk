# Document analysis: coded national/local government and company documents (REFI-QDA .qdpx,
# .qde or flat CSV) -> code frequencies, co-occurrence, chains, reliability, quotes.


# Only for a study with a document analysis (config documents).
if HAS_DOCUMENTS:

    rule documents:
        input:
            source=setting("documents.source"),
            code=code_inputs("documents.py"),
        output:
            code_frequencies=report(
                "results/documents/code_frequencies.csv", category="Document analysis"
            ),
            cooccurrence="results/documents/cooccurrence.csv",
            chains="results/documents/chains.csv",
            reliability=report(
                "results/documents/reliability.csv", category="Document analysis"
            ),
            quotes="results/documents/quotes.json",
            segments="results/documents/segments.csv",
        log:
            "logs/documents.log",
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            config=uses(
                "study.synthetic",
                "documents.problem_root",
                "documents.solution_root",
                "documents.external_sources",
                "documents.max_file_mb",
                "documents.max_total_mb",
                "documents.position_unit",
            ),
        script:
            "../scripts/documents.py"
