"""Parents' own words: which open-text comments the briefings quote, chosen by a fixed rule.

Input is the cleaned survey (comments already redacted at ingest, see parentlink.privacy), its
metadata and, for a weighted survey, the final weights. Output is results/report/parent_quotes.json
(docs/reports.md): the quotes and the counts behind the rule, with no respondent identifiers.

The rule, so that nobody picks quotes by hand and it can be stated in the method note:

1. A comment can be quoted only if it is `min_chars`-`max_chars` long, was not cut at ingest, had
   nothing redacted (a comment in which redaction found a name or contact details is not quoted,
   even with the marks, because what is left around them may still point to a family), has no
   digit and no capitalised word inside a sentence other than "I" (a possible name, school, place,
   age or date that the redaction patterns cannot know), and contains no `<` or `>` (answers that
   look like markup are not quoted; they would still print as plain text). Identical comments
   (ignoring case, spacing and Unicode normal form) count once, under the answer most of their
   writers gave. Patterns cannot catch every
   identifying detail (a name written in lower case, a rare condition): the research team reads
   the quotes, listed in the technical report, before anything is published.
2. Quotes are shared out over the answers to one item (`item`, e.g. acceptability of identifying
   families who have not asked for support) in proportion to the (weighted) share of parents
   giving each answer, one quote at a time by the Sainte-Laguë divisor method, so the first k
   quotes of the list are a proportional share-out of k (a briefing with less room shows the
   first ones); parents who gave no view are not quoted, and an answer with no quotable comment
   left is skipped.
3. Within an answer the comments are drawn at random with a fixed seed, so the choice is
   repeatable and nobody's favourite.
4. **A person approves every quote.** Patterns cannot catch every identifying detail (a child's
   name and school written in lower case pass rule 1), so a comment that passes the rule is only
   a *candidate*: it is printed only if its fingerprint (:func:`fingerprint`, ``q`` + 12 hex
   digits of the SHA-256 of its normalised text) is listed in ``quotes.approved`` in the config.
   The candidates, in the order the draw would use them, go to a review file
   (results/review/quote_candidates.json) that the research team reads; quotes are then drawn
   from the approved candidates only, and the counts say how many were proposed, approved and
   left out. No approval, no quote.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parentlink.errors import fail
from parentlink.weights_file import read_final_weights

REDACTION_MARKS = ("[name]", "[email]", "[phone]", "[postcode]", "[link]", "[school]", "[date]",
                   "[number]", "[nhs number]", "[handle]", "[ni number]")
CUT_MARK = "…"  # privacy.redact ends a capped comment with it
EXCLUSION_REASONS = ("redacted", "markup", "names_or_numbers", "length", "no_view", "duplicate")
FINGERPRINT = re.compile(r"^q[0-9a-f]{12}$")
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
PRONOUN_I = {"I", "I'm", "I’m", "I've", "I’ve", "I'd", "I’d", "I'll", "I’ll"}


def exclusion_reason(text: str, min_chars: int, max_chars: int) -> str | None:
    """Why a (non-empty, redacted) comment cannot be quoted, or None if it can."""
    if any(mark in text for mark in REDACTION_MARKS):
        return "redacted"
    if "<" in text or ">" in text:
        return "markup"
    if any(c.isdigit() for c in text) or _capitalised_inside(text):
        return "names_or_numbers"
    if not min_chars <= len(text) <= max_chars or text.endswith(CUT_MARK):
        return "length"
    return None


def _capitalised_inside(text: str) -> bool:
    """A word starting with a capital letter that is not the first of its sentence (nor "I")."""
    for sentence in SENTENCE_END.split(text.strip()):
        words = [w.strip("\"'“”‘’()[]-–—,;:") for w in sentence.split()][1:]
        if any(w[:1].isupper() and w not in PRONOUN_I for w in words):
            return True
    return False


def _tiebreak(seed: int, view: str, key: str) -> str:
    return hashlib.sha256(f"{seed}\0{view}\0{key}".encode()).hexdigest()


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().casefold()


def fingerprint(text: str) -> str:
    """The id under which a researcher approves a comment: stable for the same words (case,
    spacing and Unicode form ignored), and says nothing about who wrote it."""
    return "q" + hashlib.sha256(_normalised(text).encode("utf-8")).hexdigest()[:12]


def allocate(shares: Mapping[str, float], available: Mapping[str, int], n: int) -> list[str]:
    """The answer each of n quotes goes to, in order: Sainte-Laguë (Webster) one slot at a time.

    Each next slot goes to the answer with the largest share / (quotes so far + 0.5) that still has
    a quotable comment (ties: larger share, then code). Being a divisor method it is house-
    monotone: the first k slots are the proportional allocation of k quotes, so a briefing with
    room for fewer quotes takes the first ones and stays proportional.
    """
    given = dict.fromkeys(shares, 0)
    order: list[str] = []
    for _ in range(max(n, 0)):
        room = [k for k in shares if shares[k] > 0 and given[k] < available.get(k, 0)]
        if not room:
            break
        best = max(room, key=lambda k: (shares[k] / (given[k] + 0.5), shares[k], -int(k)))
        given[best] += 1
        order.append(best)
    return order


def select_quotes(
    data: pd.DataFrame,
    meta: Mapping[str, Any],
    *,
    text: str,
    item: str,
    n: int,
    min_chars: int,
    max_chars: int,
    seed: int,
    weights: pd.Series | None = None,
    source: str = "clean data",
    approved: Collection[str] | None = None,
) -> dict[str, Any]:
    """Apply the module's rule; returns what parent_quotes.json holds, plus ``candidates`` (for
    the review file, not for parent_quotes.json). `approved`: fingerprints a researcher approved;
    None skips the approval step (exploration and tests only; the workflow always passes the
    config's list)."""
    variables = meta.get("variables", {})
    for col in (text, item, "respondent_id"):
        if col not in data.columns:
            fail(f"{source}: no column '{col}'; set quotes.text / quotes.item in "
                 f"config/config.yaml to a variable of the cleaned survey.")
    info = variables.get(item) or {}
    labels = {str(k): str(v) for k, v in (info.get("value_labels") or {}).items()}
    if info.get("type") != "categorical" or not labels:
        fail(f"{source}: quotes.item '{item}' is not a labelled categorical variable; choose an "
             "item with value labels.")
    no_view = {str(c) for c in info.get("exclude_from_base", [])} | {
        str(c) for c in (info.get("missing") or {})}

    df = data[["respondent_id", text, item]].copy()
    df["_w"] = 1.0 if weights is None else df["respondent_id"].map(weights)
    if df["_w"].isna().any():
        fail(f"{source}: {int(df['_w'].isna().sum())} respondent(s) have no weight; rebuild the "
             f"weights (results/weights) from the same clean data.")
    if not min_chars <= max_chars:
        fail(f"config/config.yaml: quotes.min_chars ({min_chars}) is above quotes.max_chars "
             f"({max_chars}); make min_chars the smaller.")
    codes = pd.to_numeric(df[item], errors="coerce")
    df["_view"] = [str(int(c)) if pd.notna(c) and float(c).is_integer() else "" for c in codes]
    viewed = df["_view"].ne("") & ~df["_view"].isin(no_view) & df["_view"].isin(labels)
    shares = df[viewed].groupby("_view")["_w"].sum().to_dict()

    comments = df[df[text].fillna("").astype(str).str.strip().ne("")]
    counts = dict.fromkeys(EXCLUSION_REASONS, 0)
    # Quotable comments by their normalised text, with how many parents of each answer wrote it.
    writers: dict[str, dict[str, int]] = {}
    wording: dict[str, str] = {}
    for body, view, ok in zip(comments[text].astype(str).str.strip(), comments["_view"],
                              viewed.loc[comments.index], strict=True):
        reason = exclusion_reason(body, min_chars, max_chars)
        if reason is None and not ok:
            reason = "no_view"
        if reason is not None:
            counts[reason] += 1
            continue
        key = _normalised(body)
        writers.setdefault(key, {}).setdefault(view, 0)
        writers[key][view] += 1
        wording[key] = min(wording.get(key, body), body)  # one spelling, whatever the row order
    # A comment written by several parents counts once, under the answer most of its writers gave
    # (ties broken by a seeded hash). Pools are in text order, not by the keyed pseudonym, so anyone
    # with the clean data can re-derive the choice whatever PARENTLINK_PSEUDONYM_KEY was.
    counts["duplicate"] = sum(sum(v.values()) for v in writers.values()) - len(writers)
    pools: dict[str, list[str]] = {k: [] for k in shares}
    for key in sorted(writers):
        by_view = writers[key]
        home = max(by_view, key=lambda v: (by_view[v], _tiebreak(seed, v, key)))
        pools[home].append(wording[key])

    drawn = {}
    for code, pool in pools.items():
        # One generator per answer: an answer's draw does not depend on the other answers.
        rng = np.random.default_rng([seed, int(code) % 2**32])
        drawn[code] = [pool[i] for i in rng.permutation(len(pool))]
    candidates = [{"fingerprint": fingerprint(body), "view_code": code, "view": labels[code],
                   "draw": i + 1, "text": body}
                  for code in sorted(drawn, key=float) for i, body in enumerate(drawn[code])]
    ok = None if approved is None else set(approved)
    for c in candidates:
        c["approved"] = ok is None or c["fingerprint"] in ok
    drawn = {code: [b for b in bodies if ok is None or fingerprint(b) in ok]
             for code, bodies in drawn.items()}
    order = allocate(shares, {k: len(v) for k, v in drawn.items()}, n)
    taken = dict.fromkeys(pools, 0)
    quotes = []
    for code in order:
        quotes.append({"text": drawn[code][taken[code]], "view_code": code, "view": labels[code]})
        taken[code] += 1
    total = sum(shares.values()) or 1.0  # all-zero weights: no shares, no quotes
    views = [{"code": code, "label": labels[code], "share": shares[code] / total,
              "eligible": len(pools[code]), "quoted": taken[code]}
             for code in sorted(shares, key=float)]
    return {
        "item": item,
        "item_label": str(info.get("label", item)),
        "rule": {"n": n, "min_chars": min_chars, "max_chars": max_chars, "seed": seed,
                 "weighted": weights is not None},
        "counts": {"comments": len(comments), **counts,
                   "eligible": len(candidates),
                   "approved": sum(c["approved"] for c in candidates),
                   "not_approved": sum(not c["approved"] for c in candidates)},
        "approval": approved is not None,
        "views": views,
        "quotes": quotes,
        "candidates": candidates,
    }


def build_quotes(*, data: Path, meta: Path, weights: Path | None, settings: Mapping[str, Any],
                 out: Path, review: Path | None = None, text: Path | None = None) -> dict[str, Any]:
    """Read the cleaned survey (and its open text, kept apart in `text`:
    results/clean/<survey>_text.parquet), select the quotes and write parent_quotes.json (and the
    candidates for the researcher's approval to `review`)."""
    for path in (data, meta, *([text] if text is not None else [])):
        if not path.is_file():
            fail(f"{path}: not found; run the clean stage first.")
    approved = [str(a) for a in settings.get("approved", [])]
    bad = [a for a in approved if not FINGERPRINT.match(a)]
    if bad:
        fail(f"config/config.yaml: quotes.approved has {bad[0]!r}, which is not a fingerprint "
             "(q and 12 hex digits); copy it from results/review/quote_candidates.json.")
    frame = pd.read_parquet(data)
    if text is not None:
        apart = pd.read_parquet(text)
        apart = apart[["respondent_id", *(c for c in apart.columns if c not in frame.columns)]]
        frame = frame.merge(apart, on="respondent_id", how="left", validate="one_to_one")
    result = select_quotes(
        frame, json.loads(meta.read_text(encoding="utf-8")),
        text=str(settings["text"]), item=str(settings["item"]), n=int(settings["n"]),
        min_chars=int(settings["min_chars"]), max_chars=int(settings["max_chars"]),
        seed=int(settings["seed"]), weights=None if weights is None else read_final_weights(weights),
        source=str(data), approved=approved)
    result["survey"] = str(settings["survey"])
    candidates = result.pop("candidates")
    if review is not None:
        review.parent.mkdir(parents=True, exist_ok=True)
        review.write_text(json.dumps({
            "survey": result["survey"], "item": result["item"],
            "how": ("Read every candidate. To let the briefings quote one, add its fingerprint to "
                    "quotes.approved in config/config.yaml; only approved candidates are printed. "
                    "Candidates are in the order the draw uses them (draw 1 first, per answer)."),
            "candidates": candidates}, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    return result
