# Document analysis: coded national/local government and company documents (REFI-QDA .qdpx,
# .qde or flat CSV) -> code frequencies, co-occurrence, chains, reliability, quotes.


rule documents:
    input:
        source=config["documents"]["source"],
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
        synthetic=config["study"]["synthetic"],
        problem_root=config["documents"].get("problem_root", "Problem constructions"),
        solution_root=config["documents"].get("solution_root", "Solution rationales"),
    script:
        "../scripts/documents.py"
