"""Codebook: every variable of a cleaned survey with label, type, values, missing codes and counts.

The codebook leaves the secure setting (results/codebook, the technical report, the Snakemake
report), so its counts obey the same rule as the estimates (:func:`protect`): a count of 1 to
``min_cell`` - 1 prints as ``[c]``, and so does any count whose complement within the variable
would be such a count:

* a coded variable's counts (including system missing) add up to the survey's n, which is
  published: hidden counts are added, smallest first, until they total at least ``min_cell``;
* a derived variable (a recode, a multi-response count) hides all its counts when its source
  hides any (net minus the visible codes would give the hidden one back);
* a numeric, text or date variable shows how many respondents have a value; where the number
  without one is from 1 to ``min_cell`` - 1, the count itself is hidden (else n minus it tells).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, select_autoescape

from parentlink import csvio
from parentlink.wording import SUPPRESSION_MARK

COLUMNS = [
    "variable",
    "label",
    "type",
    "source",
    "derived_from",
    "code",
    "value_label",
    "missing",
    "in_base",
    "n",
    "note",
]

_HTML = """<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<title>{% if synthetic %}SYNTHETIC DATA: {% endif %}Codebook: {{ survey }} survey</title>
<style>body{font-family:sans-serif;font-size:10pt} table{border-collapse:collapse}
th,td{border:1px solid #999;padding:2px 6px;text-align:left} td.n{text-align:right}</style></head>
<body>{% if synthetic %}<p role="note"
style="background:#B34700;color:#ffffff;font-weight:bold;padding:4px 8px">SYNTHETIC DATA —
illustrative only: generated to test the pipeline, not real survey responses</p>{% endif %}
<h1>Codebook: {{ survey }} survey ({{ n }} respondents)</h1>
{% for v in variables %}<h2 id="{{ v.name }}">{{ v.name }}</h2>
<p>{{ v.label }} — {{ v.type }}{% if v.source %}; agency name {{ v.source }}{% endif %}
{% if v.derived_from %}; derived from {{ v.derived_from }}{% endif %}
{%- if v.note %}; {{ v.note }}{% endif %}</p>
{% if v.rows %}<table><thead><tr><th scope="col">Code</th><th scope="col">Label</th>
<th scope="col">Missing</th><th scope="col">In base</th><th scope="col">Unweighted n</th></tr></thead><tbody>
{% for r in v.rows %}<tr><td>{{ r.code }}</td><td>{{ r.value_label }}</td><td>{{ r.missing }}</td>
<td>{{ r.in_base }}</td><td class="n">{{ r.n }}</td></tr>{% endfor %}</tbody></table>{% endif %}
{% endfor %}</body></html>
"""


def _rows(name: str, v: dict[str, Any], s: pd.Series) -> list[dict[str, Any]]:
    base = {
        "variable": name,
        "label": v.get("label", ""),
        "type": v["type"],
        "source": v.get("source") or "",
        "derived_from": " ".join(v.get("derived_from") or []),
        "note": v.get("note", ""),
    }
    if v["type"] != "categorical":
        note = base["note"]
        if v["type"] == "numeric" and s.notna().any() and pd.api.types.is_numeric_dtype(s):
            note = (note + "; " if note else "") + f"min {s.min():g}, median {s.median():g}, max {s.max():g}"
        return [
            dict(base, code="", value_label="", missing="", in_base="", n=int(s.notna().sum()), note=note)
        ]
    counts = s.value_counts(dropna=False)
    codes = sorted({_code(k) for k in v["value_labels"]} | {_code(x) for x in s.dropna().unique()})
    rows = []
    for code in codes:
        key = str(code)  # 1 -> "1", 1.5 -> "1.5": the meta's keys (non-integer codes are never rounded)
        rows.append(
            dict(
                base,
                code=key,
                value_label=v["value_labels"].get(key, ""),
                missing=v["missing"].get(key, ""),
                in_base="no" if code in v.get("exclude_from_base", []) else "yes",
                n=int(counts.get(code, 0)),
            )
        )
    if s.isna().any():
        rows.append(
            dict(
                base,
                code="(system missing)",
                value_label="",
                missing="system",
                in_base="no",
                n=int(s.isna().sum()),
            )
        )
    return rows


def _code(value: object) -> int | float:
    f = float(value)  # type: ignore[arg-type]
    return int(f) if f.is_integer() else f


def build(data: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for name in data.columns:
        v = meta["variables"].get(name)
        if v is None:  # respondent_id, design_weight, paradata
            col = data[name]
            kind = (
                "numeric"
                if pd.api.types.is_numeric_dtype(col)
                else "datetime"
                if pd.api.types.is_datetime64_any_dtype(col)
                else "text"
            )
            v = {"label": name.replace("_", " "), "type": kind}
        if v["type"] == "text":
            v = dict(v, type="text")
            rows.append(
                {
                    "variable": name,
                    "label": v.get("label", ""),
                    "type": "text",
                    "source": v.get("source") or "",
                    "derived_from": "",
                    "code": "",
                    "value_label": "",
                    "missing": "",
                    "in_base": "",
                    "n": int((data[name].astype(str) != "").sum()),
                    "note": v.get("note", ""),
                }
            )
            continue
        rows.extend(_rows(name, v, data[name]))
    return pd.DataFrame(rows, columns=COLUMNS)


def protect(book: pd.DataFrame, n_total: int, min_cell: int) -> pd.DataFrame:
    """The codebook with every disclosive count replaced by [c] (module docstring); `n` becomes
    text. `min_cell` 0 or 1 hides nothing.

    Within a coded variable, hidden counts are added (smallest visible count first) until they
    total at least `min_cell`: two hidden counts of 1 summing to 2 would otherwise both be known.
    A variable derived from another (a recode, a multi-response count) hides all its counts when
    a source hides any, since net minus the visible codes gives the hidden one back; repeated
    until nothing changes (derivations of derivations).
    """
    out = book.copy()
    counts_all = pd.to_numeric(out["n"]).to_numpy(dtype=float)
    hidden = pd.Series(False, index=out.index)
    for _, g in out.groupby("variable", sort=False):
        counts = counts_all[out.index.get_indexer(g.index)]
        small = (counts > 0) & (counts < min_cell)
        if g["type"].iloc[0] == "categorical":
            hide = small.copy()
            while hide.any() and counts[hide].sum() < min_cell and (~hide & (counts > 0)).any():
                others = counts.copy()
                others[hide | (counts == 0)] = float("inf")
                hide[int(others.argmin())] = True
        else:
            rest = n_total - counts
            hide = small | ((rest > 0) & (rest < min_cell))
        hidden[g.index] = hide
    sources = {str(v): str(d).split() for v, d in
               out.groupby("variable", sort=False)["derived_from"].first().items() if str(d).strip()}
    changed = True
    while changed:
        changed = False
        hiding = set(out.loc[hidden, "variable"])
        for var, srcs in sources.items():
            rows = (out["variable"] == var) & (pd.to_numeric(out["n"]) > 0)
            if any(s in hiding for s in srcs) and not hidden[rows].all():
                hidden[rows] = True
                changed = True
    out["n"] = [SUPPRESSION_MARK if h else str(int(c)) for h, c in zip(hidden, counts_all,
                                                                       strict=True)]
    return out


def write(book: pd.DataFrame, survey: str, n: int, csv: str | Path, html: str | Path,
          synthetic: bool = False) -> None:
    """The codebook as CSV (data, columns in docs/data-contract.md) and HTML (for people;
    titled and bannered SYNTHETIC DATA when the study is synthetic)."""
    csvio.neutralise(book).to_csv(csv, index=False, lineterminator="\n")
    variables = []
    for name, g in book.groupby("variable", sort=False):
        first = g.iloc[0]
        variables.append(
            {
                "name": name,
                "label": first["label"],
                "type": first["type"],
                "source": first["source"],
                "derived_from": first["derived_from"],
                "note": first["note"],
                "rows": g.to_dict("records") if first["type"] == "categorical" else [],
            }
        )
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    Path(html).write_text(env.from_string(_HTML).render(survey=survey, n=n, variables=variables,
                                                           synthetic=synthetic), "utf-8")
