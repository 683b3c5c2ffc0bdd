"""comments.py: which open-text comments the briefings quote, by a fixed and stated rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from parentlink import comments as Q
from parentlink.errors import UserError
from parentlink.privacy import redact
from parentlink.weights_file import read_final_weights

ITEM = "acc_notasked_net"
META = {"variables": {ITEM: {
    "type": "categorical", "label": "How acceptable is it to identify families (collapsed)",
    "value_labels": {"1": "Acceptable", "2": "Neither", "3": "Unacceptable", "8": "Don't know"},
    "missing": {"8": "dont_know"}, "exclude_from_base": [8],
}}}
SETTINGS = {"survey": "main", "text": "comment", "item": ITEM, "n": 3, "min_chars": 20,
            "max_chars": 120, "seed": 7}


def frame(rows: list[tuple[str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame({
        "respondent_id": [f"R{i:03d}" for i in range(len(rows))],
        "comment": [c for c, _ in rows],
        ITEM: [v for _, v in rows],
    })


def select(df: pd.DataFrame, weights: pd.Series | None = None, **kw: Any) -> dict[str, Any]:
    args = {k: v for k, v in SETTINGS.items() if k not in ("survey",)} | kw
    return Q.select_quotes(df, META, weights=weights, **args)  # type: ignore[arg-type]


def make_quotes() -> dict[str, Any]:
    """A small, realistic parent_quotes.json for the render tests."""
    rows = [("Ask parents first & tell us why — it is our children's data.", 3),
            ("If it keeps a child safe it is worth it, as long as it is secure.", 1),
            ("Councils make mistakes with records and families pay the price.", 3)]
    out = select(frame(rows))
    out["survey"] = "main"
    return out


def test_exclusion_reasons() -> None:
    assert Q.exclusion_reason("Call me on [phone] about the council records", 10, 200) == "redacted"
    assert Q.exclusion_reason("<b>Important:</b> please read this comment", 10, 200) == "markup"
    assert Q.exclusion_reason("We moved here from Leeds and the school knows us.", 10, 200) \
        == "names_or_numbers"
    assert Q.exclusion_reason("My son is 7 and the council already knows us.", 10, 200) \
        == "names_or_numbers"
    assert Q.exclusion_reason("I think so. Councils should ask. I'm sure of it.", 10, 200) is None
    assert Q.exclusion_reason("Too short", 10, 200) == "length"
    assert Q.exclusion_reason("x" * 201, 10, 200) == "length"
    assert Q.exclusion_reason("A long comment cut at ingest…", 10, 200) == "length"
    assert Q.exclusion_reason("Data should only be shared if parents are told.", 10, 200) is None


def test_allocation_is_proportional_and_prefixes_stay_proportional() -> None:
    shares = {"1": 0.175, "2": 0.147, "3": 0.678}
    many = {"1": 9, "2": 9, "3": 9}
    assert Q.allocate(shares, many, 3) == ["3", "3", "1"]
    ten = Q.allocate(shares, many, 10)
    assert {k: ten.count(k) for k in shares} == {"1": 2, "2": 1, "3": 7}
    assert ten[:3] == Q.allocate(shares, many, 3)  # house-monotone: no Alabama paradox
    # An answer without quotable comments left is skipped.
    assert Q.allocate(shares, {"1": 0, "2": 5, "3": 1}, 3) == ["3", "2", "2"]
    assert Q.allocate(shares, {"1": 0, "2": 0, "3": 1}, 3) == ["3"]
    assert Q.allocate(shares, many, 0) == []


def test_rule_counts_every_comment_once() -> None:
    rows: list[tuple[str, float | None]] = [
        ("Data should only be shared if parents are told first.", 3),
        ("data should  only be shared if parents are told first.", 3),  # duplicate
        ("My name is [name] and you can contact me about this.", 3),    # redacted
        ("<b>Important:</b> please read what I think of this", 1),      # markup
        ("Fine.", 1),                                                     # length
        ("Ask Gemma at Oakfield school what happened to us.", 3),        # names_or_numbers
        ("I do not know enough about this to say either way.", 8),       # no view (DK)
        ("Early help is good but this feels like surveillance.", None),  # no answer
        ("If it helps a child at risk then it is worth it.", 1),
        ("", 2),
    ]
    out = select(frame(rows))
    assert out["counts"] == {"comments": 9, "redacted": 1, "markup": 1, "names_or_numbers": 1,
                             "length": 1, "no_view": 2, "duplicate": 1, "eligible": 2,
                             "approved": 2, "not_approved": 0}
    assert sorted(q["text"] for q in out["quotes"]) == [
        "Data should only be shared if parents are told first.",
        "If it helps a child at risk then it is worth it."]
    assert sorted(q["view"] for q in out["quotes"]) == ["Acceptable", "Unacceptable"]
    assert "respondent_id" not in json.dumps(out) and "R00" not in json.dumps(out)


def test_weights_set_the_shares_and_the_draw_is_repeatable() -> None:
    rows = [(f"Comment {'x' * (i + 1)} about linking family records.", 1 + i % 2) for i in range(40)]
    df = frame(rows)
    w = pd.Series([1.0 if v == 1 else 9.0 for v in df[ITEM]], index=df["respondent_id"])
    out = select(df, weights=w, n=4)
    assert {v["code"]: v["quoted"] for v in out["views"]} == {"1": 0, "2": 4}
    assert out["views"][1]["share"] == pytest.approx(0.9)
    assert out == select(df, weights=w, n=4)
    assert out != select(df, weights=w, n=4, seed=8)
    assert out["rule"]["weighted"] is True


def test_hostile_answers_are_never_quoted() -> None:
    """The issue's hostile answers, redacted as at ingest, are cut by the rule."""
    hostile = ['<img src="file:///etc/passwd">', "<link rel=attachment href=\"file:///etc/passwd\">",
               "<style>body{display:none}</style> parents should be asked",
               "See http://evil.example/x.png for what I think of linking records",
               "A" * 100_000]
    rows = [(redact(h, 600), 3) for h in hostile] + [("A plain comment that can be quoted here.", 3)]
    out = select(frame(rows), n=5)
    assert [q["text"] for q in out["quotes"]] == ["A plain comment that can be quoted here."]
    assert out["counts"]["eligible"] == 1


def test_bad_settings_are_named(tmp_path: Path) -> None:
    df = frame([("Data should only be shared if parents are told first.", 3)])
    with pytest.raises(UserError, match="no column 'opinion'; set quotes.text"):
        select(df, text="opinion")
    with pytest.raises(UserError, match="quotes.item 'comment' is not a labelled categorical"):
        select(df, item="comment")
    with pytest.raises(UserError, match="1 respondent\\(s\\) have no weight"):
        select(df, weights=pd.Series({"R999": 1.0}))
    with pytest.raises(UserError, match="not found; run the clean stage first"):
        Q.build_quotes(data=tmp_path / "x.parquet", meta=tmp_path / "m.json", weights=None,
                       settings=SETTINGS, out=tmp_path / "q.json")


def test_build_writes_the_file(tmp_path: Path) -> None:
    data, meta = tmp_path / "main.parquet", tmp_path / "main_meta.json"
    text = "Data should only be shared if parents are told first."
    frame([(text, 3)]).to_parquet(data)
    meta.write_text(json.dumps(META))
    out = tmp_path / "report" / "parent_quotes.json"
    review = tmp_path / "review" / "quote_candidates.json"
    approved = dict(SETTINGS, approved=[Q.fingerprint(text)])
    Q.build_quotes(data=data, meta=meta, weights=None, settings=approved, out=out, review=review)
    saved = json.loads(out.read_text())
    assert saved["survey"] == "main" and saved["quotes"][0]["view"] == "Unacceptable"
    assert "candidates" not in saved
    listed = json.loads(review.read_text())["candidates"]
    assert listed == [{"fingerprint": Q.fingerprint(text), "view_code": "3",
                       "view": "Unacceptable", "draw": 1, "text": text, "approved": True}]


def test_no_comment_is_printed_without_a_researchers_approval(tmp_path: Path) -> None:
    """A child's name and school written in lower case pass every pattern; only a person reading
    the candidates can stop it. Unapproved candidates are never quoted, and a setting with no
    approvals quotes nobody."""
    leak = "please ask aisling o'brien at holy cross school what the council did to us."
    safe = "Data should only be shared if parents are told first."
    rows = [(leak, 3), (safe, 3), ("If it helps a child at risk then it is worth it.", 1)]
    data, meta = tmp_path / "main.parquet", tmp_path / "main_meta.json"
    frame(rows).to_parquet(data)
    meta.write_text(json.dumps(META))
    out, review = tmp_path / "q.json", tmp_path / "c.json"
    none = Q.build_quotes(data=data, meta=meta, weights=None, settings=SETTINGS, out=out,
                          review=review)
    assert none["quotes"] == [] and none["counts"]["eligible"] == 3
    assert none["counts"]["approved"] == 0 and none["counts"]["not_approved"] == 3
    assert "aisling" in review.read_text() and "aisling" not in out.read_text()
    some = Q.build_quotes(data=data, meta=meta, weights=None, out=out, review=review,
                          settings=dict(SETTINGS, approved=[Q.fingerprint(safe)]))
    assert [q["text"] for q in some["quotes"]] == [safe]
    assert "aisling" not in out.read_text()
    assert Q.fingerprint("DATA should only be shared  if parents are told first.") == Q.fingerprint(safe)
    with pytest.raises(UserError, match="quotes.approved has 'abc', which is not a fingerprint"):
        Q.build_quotes(data=data, meta=meta, weights=None, out=out,
                       settings=dict(SETTINGS, approved=["abc"]))


def test_choice_does_not_depend_on_the_pseudonym_key() -> None:
    rows = [(f"Comment {'y' * (i + 1)} about linking family records.", 1 + i % 3) for i in range(30)]
    df = frame(rows)
    rekeyed = df.assign(respondent_id=[f"R{hash(('k', i)) & 0xFFFF:05d}{i}" for i in range(30)])
    assert select(df, n=4)["quotes"] == select(rekeyed.iloc[::-1], n=4)["quotes"]


def test_unicode_forms_of_one_comment_are_one_duplicate() -> None:
    nfc, nfd = "Caf\u00e9 owners should not see our records at all.", \
        "Caf\u0065\u0301 owners should not see our records at all."
    out = select(frame([(nfc, 3), (nfd, 3)]))
    assert out["counts"]["duplicate"] == 1 and len(out["quotes"]) == 1


def test_zero_weights_quote_nobody() -> None:
    df = frame([("Data should only be shared if parents are told first.", 3)])
    out = select(df, weights=pd.Series(0.0, index=df["respondent_id"]))
    assert out["quotes"] == [] and out["views"][0]["share"] == 0


def test_bad_weights_and_lengths_are_named(tmp_path: Path) -> None:
    df = frame([("Data should only be shared if parents are told first.", 3)])
    with pytest.raises(UserError, match=r"quotes.min_chars \(200\) is above quotes.max_chars"):
        select(df, min_chars=200)
    bad = tmp_path / "w.csv"
    bad.write_text("respondent_id,final_weight\nR000,1\nR000,2\n")
    with pytest.raises(UserError, match="'R000' appears twice"):
        read_final_weights(bad)
    bad.write_text("respondent_id,final_weight\nR000,-1\n")
    with pytest.raises(UserError, match="final_weight must be a number >= 0"):
        read_final_weights(bad)


def test_a_repeated_comment_counts_under_the_answer_most_of_its_writers_gave() -> None:
    said = "Data should only be shared if parents are told first."
    out = select(frame([(said, 1), (said, 3), (said.upper().lower(), 3), (said, 3)]))
    assert out["counts"]["duplicate"] == 3 and out["counts"]["eligible"] == 1
    assert [q["view"] for q in out["quotes"]] == ["Unacceptable"]
    assert {v["code"]: v["eligible"] for v in out["views"]} == {"1": 0, "3": 1}
