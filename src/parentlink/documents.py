"""Document analysis: code frequencies, co-occurrence, problem -> solution chains, intercoder
reliability and exemplar quotes from coded documents (see docs/documents.md for the columns).

Counting rule: every document is counted once, through one coder -- the first coder in the
project's coder order (REFI-QDA ``Users`` order; first appearance in a flat CSV) among those who
coded it. On double-coded documents that is the primary coder; the second coding is used only
for reliability.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from itertools import combinations
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd

from parentlink import csvio
from parentlink.errors import fail
from parentlink.qdpx import SEP, QdaProject

ALL = "all"
ROUND = 6
PROBLEM_ROOT = "Problem constructions"
SOLUTION_ROOT = "Solution rationales"
COUNT_RULE = ("one coder per document: the first coder in the project's coder order who coded "
              "it (on double-coded documents, the primary coder)")
CODER_RULE = ("the PlainTextSelection's creatingUser, else its modifyingUser, else the Coding's "
              "creatingUser (QualCoder's import rule); a flat CSV's coder column")
RELIABILITY_UNIT = "document x code presence (double-coded documents)"
QUOTE_RULE = ("shortest segment of 60-300 characters from the counted coder, ties by document_id "
              "then start; if none is in range, the shortest segment (in_length_range false)")
QUOTE_MIN, QUOTE_MAX = 60, 300

FREQ_COLUMNS = ["code", "parent_code", "level", "doc_type", "n_documents", "n_segments",
                "n_documents_of_type", "pct_documents", "code_path"]
COOC_COLUMNS = ["scope", "doc_type", "code_a", "code_b", "parent_code_a", "parent_code_b",
                "n_documents", "n_segment_pairs", "jaccard_documents", "code_path_a",
                "code_path_b"]
CHAIN_COLUMNS = ["doc_type", "problem", "solution", "solution_level", "n_documents_both",
                 "n_documents_problem", "n_documents_solution", "n_documents_of_type",
                 "pct_of_problem_documents", "solution_path"]
RELIABILITY_COLUMNS = ["level", "code", "parent_code", "unit", "n_units", "n_present_coder_1",
                       "n_present_coder_2", "n_both_present", "percent_agreement",
                       "cohens_kappa", "krippendorff_alpha", "coders", "note", "code_path"]


# ---------------------------------------------------------------- which segments count


def primary_coders(project: QdaProject) -> dict[str, str]:
    """document_id -> the coder whose coding is counted."""
    rank = {c: i for i, c in enumerate(project.coders)}
    pairs = project.segments[["document_id", "coder"]].drop_duplicates()
    pairs = pairs.assign(rank=pairs["coder"].map(lambda c: rank.get(c, len(rank))))
    best = pairs.sort_values(["document_id", "rank", "coder"]).drop_duplicates("document_id")
    return dict(zip(best["document_id"], best["coder"], strict=True))


def with_counted(project: QdaProject) -> pd.DataFrame:
    """Segments plus ``counted`` (True for the coder whose coding enters the counts)."""
    primary = primary_coders(project)
    seg = project.segments.copy()
    seg["counted"] = seg["document_id"].map(primary) == seg["coder"]
    return seg


def counted_segments(project: QdaProject) -> pd.DataFrame:
    seg = with_counted(project)
    return seg[seg["counted"]].drop(columns="counted").reset_index(drop=True)


def ancestors(path: str) -> list[str]:
    parts = path.split(SEP)
    return [SEP.join(parts[:k]) for k in range(1, len(parts))]


def code_units(seg: pd.DataFrame, level: str) -> pd.DataFrame:
    """Segments keyed by the code they count toward: own code, or every ancestor (parents)."""
    seg = seg.reset_index(drop=True).assign(seg_id=lambda d: d.index)
    if level == "code":
        return seg
    rows = [(i, a) for i, p in zip(seg["seg_id"].tolist(), seg["code_path"].tolist(),
                                   strict=True)
            for a in ancestors(p)]
    up = pd.DataFrame(rows, columns=["seg_id", "target"])
    out = seg.drop(columns="code_path").merge(up, on="seg_id")
    return out.rename(columns={"target": "code_path"})


def code_table(project: QdaProject) -> pd.DataFrame:
    """code_path -> name, parent name, whether it is a parent and/or codable."""
    book = project.codebook[["code_path", "name", "parent", "is_codable"]].copy()
    used = set(project.segments["code_path"].unique().tolist())
    extra = sorted(used - set(book["code_path"]))
    if extra:  # a code used but missing from the codebook cannot happen after validation
        fail(f"{project.source}: codes {extra} are used but not in the codebook.")
    parents = {a for p in book["code_path"] for a in ancestors(p)}
    book["has_children"] = book["code_path"].isin(parents)
    book["counted_as_code"] = book["is_codable"].astype(bool) | book["code_path"].isin(used)
    return book.set_index("code_path")


def doc_types(project: QdaProject) -> list[str]:
    return [ALL] + sorted(set(project.documents["doc_type"]))


def type_sizes(project: QdaProject) -> dict[str, int]:
    sizes = project.documents["doc_type"].value_counts().to_dict()
    return {ALL: len(project.documents), **{str(k): int(v) for k, v in sizes.items()}}


def by_type(frame: pd.DataFrame) -> pd.DataFrame:
    """Stack the frame once per document type and once as ``all``."""
    return pd.concat([frame, frame.assign(doc_type=ALL)], ignore_index=True)


def type_order(project: QdaProject) -> dict[str, int]:
    return {t: i for i, t in enumerate(doc_types(project))}


# ---------------------------------------------------------------- frequencies


def code_frequencies(project: QdaProject) -> pd.DataFrame:
    """Documents and segments per code (and per parent code) by document type and overall."""
    seg, codes, sizes = counted_segments(project), code_table(project), type_sizes(project)
    frames = []
    for level, paths in (("code", codes.index[codes["counted_as_code"]]),
                         ("parent", codes.index[codes["has_children"]])):
        units = by_type(code_units(seg, level))
        stats = units.groupby(["code_path", "doc_type"]).agg(
            n_documents=("document_id", "nunique"), n_segments=("seg_id", "size"))
        grid = pd.MultiIndex.from_product([list(paths), doc_types(project)],
                                          names=["code_path", "doc_type"])
        stats = stats.reindex(grid, fill_value=0).reset_index().assign(level=level)
        frames.append(stats)
    out = pd.concat(frames, ignore_index=True)
    out["code"] = out["code_path"].map(codes["name"])
    out["parent_code"] = out["code_path"].map(codes["parent"])
    out["n_documents_of_type"] = out["doc_type"].map(sizes)
    out["pct_documents"] = 100 * out["n_documents"] / out["n_documents_of_type"]
    return sort_rows(out, ["level", "code_path", "doc_type"], project)[FREQ_COLUMNS]


def sort_rows(frame: pd.DataFrame, keys: list[str], project: QdaProject) -> pd.DataFrame:
    """Sort with doc_type in the order all, then alphabetical."""
    order = type_order(project)
    key = {"doc_type": lambda s: s.map(order)}
    return frame.sort_values(keys, key=lambda s: key.get(str(s.name), lambda x: x)(s),
                             kind="mergesort").reset_index(drop=True)


# ---------------------------------------------------------------- co-occurrence


def cooccurrence(project: QdaProject) -> pd.DataFrame:
    """Code pairs in the same document, and in overlapping segments of the same document."""
    seg, codes = counted_segments(project), code_table(project)
    rows = document_pairs(seg) + segment_pairs(seg)
    out = pd.DataFrame(rows, columns=["scope", "doc_type", "document_id", "code_path_a",
                                      "code_path_b", "n_pairs"])
    out = by_type(out)
    grouped = out.groupby(["scope", "doc_type", "code_path_a", "code_path_b"]).agg(
        n_documents=("document_id", "nunique"), n_segment_pairs=("n_pairs", "sum")).reset_index()
    doc_sets = by_type(seg[["document_id", "doc_type", "code_path"]].drop_duplicates())
    n_docs = doc_sets.groupby(["doc_type", "code_path"])["document_id"].nunique()
    either = [n_docs[(t, a)] + n_docs[(t, b)] for t, a, b in zip(
        grouped["doc_type"], grouped["code_path_a"], grouped["code_path_b"], strict=True)]
    grouped["jaccard_documents"] = grouped["n_documents"] / (np.array(either, dtype=float)
                                                             - grouped["n_documents"])
    is_doc = grouped["scope"] == "document"
    grouped["jaccard_documents"] = grouped["jaccard_documents"].where(is_doc)
    grouped["n_segment_pairs"] = grouped["n_segment_pairs"].astype("Int64").mask(is_doc)
    for side in ("a", "b"):
        grouped[f"code_{side}"] = grouped[f"code_path_{side}"].map(codes["name"])
        grouped[f"parent_code_{side}"] = grouped[f"code_path_{side}"].map(codes["parent"])
    keys = ["scope", "doc_type", "code_path_a", "code_path_b"]
    return sort_rows(grouped, keys, project)[COOC_COLUMNS]


def document_pairs(seg: pd.DataFrame) -> list[tuple[str, str, str, str, str, int]]:
    rows = []
    for (doc, dtype), grp in seg.groupby(["document_id", "doc_type"]):
        for a, b in combinations(sorted(set(grp["code_path"].tolist())), 2):
            rows.append(("document", str(dtype), str(doc), a, b, 0))
    return rows


def segment_pairs(seg: pd.DataFrame) -> list[tuple[str, str, str, str, str, int]]:
    """Pairs of differently coded segments whose character spans overlap.

    A sweep over span boundaries: at each start, the new segment pairs with every segment still
    open, counted per code (half-open spans, so an end at a position closes before a start
    there). Cost is linear in segments times the codes open at once, not quadratic in segments.
    """
    counts: dict[tuple[str, str, str, str], int] = {}
    for (doc, dtype), grp in seg.groupby(["document_id", "doc_type"]):
        codes = grp["code_path"].tolist()
        events = sorted([(e, 0, c) for e, c in zip(grp["end"].tolist(), codes, strict=True)]
                        + [(s, 1, c) for s, c in zip(grp["start"].tolist(), codes, strict=True)])
        open_by_code: dict[str, int] = {}
        for _, is_start, code in events:
            if not is_start:
                open_by_code[code] -= 1
                if not open_by_code[code]:
                    del open_by_code[code]
                continue
            for other, n in open_by_code.items():
                if other != code:
                    a, b = sorted((code, other))
                    key = (str(dtype), str(doc), a, b)
                    counts[key] = counts.get(key, 0) + n
            open_by_code[code] = open_by_code.get(code, 0) + 1
    return [("segment", t, d, a, b, n) for (t, d, a, b), n in sorted(counts.items())]


# ---------------------------------------------------------------- chains


def chains(project: QdaProject, problem_root: str = PROBLEM_ROOT,
           solution_root: str = SOLUTION_ROOT) -> pd.DataFrame:
    """Problem constructions co-occurring in a document with solution rationales, by type."""
    codes = code_table(project)
    for key, root in (("problem_root", problem_root), ("solution_root", solution_root)):
        if root not in codes.index:
            fail(f"{project.source}: the codebook has no top-level code '{root}'; set "
                 f"documents.{key} in config/config.yaml to the name of that code group.")
    problems = [p for p in codes.index if p.startswith(problem_root + SEP)
                and p.count(SEP) == problem_root.count(SEP) + 1]
    solutions = [p for p in codes.index if p.startswith(solution_root + SEP)]
    for key, root, found in (("problem_root", problem_root, problems),
                             ("solution_root", solution_root, solutions)):
        if not found:
            fail(f"{project.source}: the code '{root}' named by documents.{key} has no codes "
                 "beneath it, so there are no chains to count; set documents."
                 f"{key} in config/config.yaml to the code group that holds them.")
    present = document_presence(project, problems + solutions)
    sizes = type_sizes(project)
    rows = []
    for dtype in doc_types(project):
        docs = present if dtype == ALL else present[present["doc_type"] == dtype]
        for prob in problems:
            for sol in solutions:
                both = int((docs[prob] & docs[sol]).sum())
                n_prob = int(docs[prob].sum())
                rows.append({
                    "doc_type": dtype, "problem": codes.at[prob, "name"],
                    "solution": codes.at[sol, "name"],
                    "solution_level": "rationale" if sol.count(SEP) == solution_root.count(SEP)
                    + 1 else "sub-code", "n_documents_both": both,
                    "n_documents_problem": n_prob, "n_documents_solution": int(docs[sol].sum()),
                    "n_documents_of_type": sizes[dtype],
                    "pct_of_problem_documents": 100 * both / n_prob if n_prob else np.nan,
                    "solution_path": sol, "problem_path": prob,
                })
    out = pd.DataFrame(rows)
    return sort_rows(out, ["doc_type", "problem_path", "solution_path"], project)[CHAIN_COLUMNS]


def document_presence(project: QdaProject, paths: Iterable[str]) -> pd.DataFrame:
    """One row per document, a boolean column per code path (code or any code beneath it)."""
    seg = counted_segments(project)
    docs = project.documents[["document_id", "doc_type"]].set_index("document_id")
    for path in paths:
        hit = seg["code_path"].eq(path) | seg["code_path"].str.startswith(path + SEP)
        docs[path] = docs.index.isin(seg.loc[hit, "document_id"])
    return docs


# ---------------------------------------------------------------- reliability


def cohens_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa for two raters: (p_o - p_e) / (1 - p_e); NaN when p_e = 1."""
    a, b = np.asarray(a), np.asarray(b)
    p_o = float(np.mean(a == b))
    cats = np.union1d(a, b)
    p_e = float(sum(np.mean(a == c) * np.mean(b == c) for c in cats))
    return np.nan if p_e >= 1 else (p_o - p_e) / (1 - p_e)


def kripp_alpha(a: np.ndarray, b: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) via the krippendorff package; NaN with no variation."""
    data = np.vstack([a, b]).astype(float)
    if len(np.unique(data)) < 2:
        return np.nan  # the package refuses a one-value domain: alpha is undefined
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def agreement_row(a: np.ndarray, b: np.ndarray) -> dict[str, object]:
    kappa, alpha = cohens_kappa(a, b), kripp_alpha(a, b)
    note = "" if not (np.isnan(kappa) and np.isnan(alpha)) else (
        "no variation across units: kappa and alpha undefined")
    return {"n_units": len(a), "n_present_coder_1": int(a.sum()),
            "n_present_coder_2": int(b.sum()), "n_both_present": int((a & b).sum()),
            "percent_agreement": 100 * float(np.mean(a == b)) if len(a) else np.nan,
            "cohens_kappa": kappa, "krippendorff_alpha": alpha, "note": note}


def coder_pairs(project: QdaProject) -> dict[str, tuple[str, str]]:
    """Double-coded document -> (first, second) coder in project coder order."""
    rank = {c: i for i, c in enumerate(project.coders)}
    pairs = {}
    for doc, grp in project.segments.groupby("document_id"):
        coders = sorted(grp["coder"].unique().tolist(), key=lambda c: (rank.get(c, len(rank)), c))
        if len(coders) >= 2:
            pairs[str(doc)] = (coders[0], coders[1])
    return pairs


def presence_matrix(project: QdaProject, pairs: dict[str, tuple[str, str]], level: str
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """code_path -> presence vectors (coder 1, coder 2) over the double-coded documents."""
    codes = code_table(project)
    seg = project.segments[project.segments["document_id"].isin(pairs)]
    units = code_units(seg, level)
    have = set(zip(units["document_id"].tolist(), units["coder"].tolist(),
                   units["code_path"].tolist(), strict=True))
    wanted = codes.index[codes["counted_as_code" if level == "code" else "has_children"]]
    docs = sorted(pairs)
    return {p: (np.array([(d, pairs[d][0], p) in have for d in docs]),
                np.array([(d, pairs[d][1], p) in have for d in docs])) for p in wanted}


def reliability(project: QdaProject) -> pd.DataFrame:
    """Per-code agreement between two coders on double-coded documents (and pooled codes)."""
    pairs = coder_pairs(project)
    if not pairs:
        return pd.DataFrame(columns=RELIABILITY_COLUMNS)
    codes = code_table(project)
    names = sorted({f"{a} vs {b}" for a, b in pairs.values()})
    rows = []
    for level in ("code", "parent"):
        matrix = presence_matrix(project, pairs, level)
        for path, (a, b) in matrix.items():
            rows.append({"level": level, "code": codes.at[path, "name"],
                         "parent_code": codes.at[path, "parent"], "code_path": path,
                         **agreement_row(a, b)})
        if level == "code" and matrix:
            a = np.concatenate([v[0] for v in matrix.values()])
            b = np.concatenate([v[1] for v in matrix.values()])
            rows.append({"level": "pooled", "code": "(all codes)", "parent_code": "",
                         "code_path": "", **agreement_row(a, b)})
    out = pd.DataFrame(rows).assign(unit=RELIABILITY_UNIT, coders="; ".join(names))
    level_order = {"code": 0, "parent": 1, "pooled": 2}
    out = out.sort_values(["level", "code_path"], key=lambda s: s.map(level_order)
                          if s.name == "level" else s, kind="mergesort")
    return out.reset_index(drop=True)[RELIABILITY_COLUMNS]


# ---------------------------------------------------------------- quotes


def exemplar_quotes(project: QdaProject) -> list[dict[str, object]]:
    """One exemplar per code, overall and per document type (rule: QUOTE_RULE)."""
    seg = counted_segments(project)
    seg = seg.assign(length=seg["quote"].str.len())
    out = []
    for dtype in doc_types(project):
        pool = seg if dtype == ALL else seg[seg["doc_type"] == dtype]
        for path, grp in pool.groupby("code_path", sort=True):
            out.append(pick_quote(grp, dtype, str(path)))
    return out


def pick_quote(grp: pd.DataFrame, dtype: str, path: str) -> dict[str, object]:
    in_range = grp[(grp["length"] >= QUOTE_MIN) & (grp["length"] <= QUOTE_MAX)]
    pool = in_range if len(in_range) else grp
    best = pool.sort_values(["length", "document_id", "start", "end"], kind="mergesort").iloc[0]
    return {
        "doc_type": dtype, "code": best["code"], "code_path": path,
        "parent_code": best["parent_code"], "document_id": best["document_id"],
        "document": best["document"], "organisation": best["organisation"],
        "document_type": best["doc_type"],
        "year": None if pd.isna(best["year"]) else int(best["year"]),
        "coder": best["coder"], "start": int(best["start"]), "end": int(best["end"]),
        "quote": best["quote"], "in_length_range": bool(len(in_range)),
        "n_candidates": int(len(in_range)),
    }


# ---------------------------------------------------------------- writing


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV with floats rounded to ROUND places and '\\n' line ends, so reruns are identical."""
    out = frame.copy()
    floats = out.select_dtypes(include="float").columns
    out[floats] = out[floats].round(ROUND)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    csvio.neutralise(out).to_csv(path, index=False, lineterminator="\n")


def write_json(payload: object, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def reading_payload(project: QdaProject) -> dict[str, object]:
    """How the coded documents were read: tool, skipped non-text sources, position units."""
    r = project.reading
    return {"origin": r.origin, "skipped_sources": dict(sorted(r.skipped.items())),
            "n_skipped_sources": sum(r.skipped.values()),
            "position_units": dict(sorted(r.units.items())), "coder_rule": CODER_RULE,
            "n_codings_coder_differs": r.coder_differs}


def quotes_payload(project: QdaProject, synthetic: bool) -> dict[str, object]:
    return {"synthetic": synthetic, "source": project.source.name, "rule": QUOTE_RULE,
            "count_rule": COUNT_RULE, "reading": reading_payload(project),
            "quotes": exemplar_quotes(project)}


def write_outputs(project: QdaProject, out: Mapping[str, str | Path], synthetic: bool,
                  problem_root: str = PROBLEM_ROOT, solution_root: str = SOLUTION_ROOT) -> None:
    """Write every documents-stage output; ``out`` maps output name -> path."""
    write_csv(code_frequencies(project), out["code_frequencies"])
    write_csv(cooccurrence(project), out["cooccurrence"])
    write_csv(chains(project, problem_root, solution_root), out["chains"])
    write_csv(reliability(project), out["reliability"])
    write_json(quotes_payload(project, synthetic), out["quotes"])
    write_csv(with_counted(project), out["segments"])
