"""Byte-stable SVG charts of the headline findings, each with alt text that states the finding.

Charts read facts.json only, so a chart, its alt text and the prose beside it quote the same
numbers. Suppressed estimates are drawn as the suppression mark with no bar.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on build machines; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from parentlink.facts import SUPPRESSION_MARK, one_in, pct_text  # noqa: E402

# Okabe–Ito: distinguishable under the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]
INK = "#222222"
WIDTH_IN = 6.6  # A4 text block is about 6.85 in wide with the briefing margins

CHART_NAMES = ["acceptability", "trust", "breakdown", "pilot", "documents"]


def setup_style(font_dir: Path | None) -> None:
    """Fix everything that would otherwise vary between runs or machines."""
    if font_dir is not None:
        for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
            font_manager.fontManager.addfont(str(font_dir / name))
    plt.rcParams.update({
        "svg.hashsalt": "parentlink",  # clip-path ids are random otherwise
        "svg.fonttype": "path",  # text as outlines: no dependence on viewer fonts
        "text.parse_math": False,  # a '$' in a data label must not switch to mathtext
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.edgecolor": INK,
        "axes.labelcolor": INK,
        "xtick.color": INK,
        "ytick.color": INK,
        "text.color": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg",
                metadata={"Date": None, "Creator": None})
    plt.close(fig)


def _bars(ax: Axes, items: Sequence[Mapping[str, Any]], labels: Sequence[str],
          colour: str) -> None:
    """Horizontal bars (top to bottom in given order) with 95% CI whiskers and value labels."""
    ys = list(range(len(items)))[::-1]
    for y, item in zip(ys, items, strict=True):
        if item["suppressed"]:
            ax.text(1, y, f"{SUPPRESSION_MARK} too few to show", va="center", ha="left",
                    fontsize=8)
            continue
        pct = item["pct"]
        ax.barh(y, pct, color=colour, height=0.62)
        ax.errorbar(pct, y, xerr=[[pct - item["ci_lower"]], [item["ci_upper"] - pct]],
                    fmt="none", ecolor=INK, elinewidth=0.8, capsize=2)
        ax.text(item["ci_upper"] + 1.5, y, pct_text(item), va="center", ha="left", fontsize=8)
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.6, len(items) - 0.4)  # keep a suppressed bottom row inside the axes
    ax.set_xlim(0, 100)
    ax.set_xticks(range(0, 101, 20), [f"{t}%" for t in range(0, 101, 20)])
    ax.tick_params(axis="y", length=0)


def _xlabel(ax: Axes, lines: Sequence[str], width: int = 62) -> None:
    """Axis title wrapped to fit under the bars and right-aligned with them, so a long title
    can never run past the figure's right edge (the y labels take the left of the figure)."""
    text = "\n".join(textwrap.fill(line, width) for line in lines)
    ax.set_xlabel(text, loc="right", multialignment="center")


def _view_base(facts: Mapping[str, Any], family: str) -> str:
    """'% of parents who gave a view' where the base leaves out "don't know"."""
    bases = facts["main"].get("bases", {})
    if bases.get("families", {}).get(family) == "excluded":
        return "weighted % of parents who gave a view; 95% confidence interval"
    return "weighted %; 95% confidence interval"


def _with_base(label: str, item: Mapping[str, Any]) -> str:
    return f"{_clip(label)} (n={item['base']:,})"


def _clip(text: str, limit: int = 48) -> str:
    # Labels come from results files: a runaway string must not take over the chart.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sorted(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # Shown items high to low, suppressed ones last: the order the reader scans.
    return sorted(items, key=lambda i: (i["suppressed"], -i.get("pct", 0), i["variable"]))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def acceptability_chart(facts: Mapping[str, Any], path: Path) -> str:
    items = _sorted(facts["main"]["acceptability"])
    fig, ax = plt.subplots(layout="constrained", figsize=(WIDTH_IN, 2.9))
    _bars(ax, items, [_with_base(_cap(i["short"]), i) for i in items], OKABE_ITO[0])
    _xlabel(ax, ["Parents saying this use of linked records is acceptable",
                 f"({_view_base(facts, 'acceptability')})"])
    _save(fig, path)
    hi, lo = facts["main"]["acceptability_ranked"]["highest"], \
        facts["main"]["acceptability_ranked"]["lowest"]
    return (f"Bar chart of acceptability of linking family records, by purpose. "
            f"{_cap(one_in(lo['pct']))} parents ({pct_text(lo)}) find it acceptable to "
            f"{lo['short']}; parents were most accepting of {hi['short']} ({pct_text(hi)})."
            + _list_values(items))


def trust_chart(facts: Mapping[str, Any], path: Path) -> str:
    items = _sorted(facts["main"]["trust"])
    fig, ax = plt.subplots(layout="constrained", figsize=(WIDTH_IN, 3.3))
    _bars(ax, items, [_with_base(_cap(i["short"]), i) for i in items], OKABE_ITO[2])
    _xlabel(ax, ["Parents who trust the organisation to use linked data responsibly",
                 f"({_view_base(facts, 'trust')})"])
    _save(fig, path)
    hi, lo = facts["main"]["trust_ranked"]["highest"], facts["main"]["trust_ranked"]["lowest"]
    return (f"Bar chart of trust in organisations to use linked family data responsibly. "
            f"Parents trusted the {hi['short']} most ({pct_text(hi)}) and "
            f"{lo['short']} least ({pct_text(lo)}, {one_in(lo['pct'])})."
            + _list_values(items))


def _list_values(items: Sequence[Mapping[str, Any]]) -> str:
    return " Values: " + "; ".join(f"{i['short']} {pct_text(i)}" for i in items) + "."


BREAKDOWN_ITEM = "trust_council_net"
BREAKDOWN_GROUPS = [("ethnicity", "Ethnicity"), ("family_type", "Family type"),
                    ("age_band", "Age"), ("income", "Household income")]


def breakdown_chart(facts: Mapping[str, Any], path: Path) -> str:
    gaps = facts["main"]["gaps"][BREAKDOWN_ITEM]
    panels = [(g, title) for g, title in BREAKDOWN_GROUPS if g in gaps]
    heights = [len(gaps[g]["rows"]) for g, _ in panels]
    height = 0.5 + 0.27 * sum(heights) + 0.35 * len(panels)
    fig, axes = plt.subplots(len(panels), 1, layout="constrained", figsize=(WIDTH_IN, height),
                             gridspec_kw={"height_ratios": heights}, sharex=True)
    for ax, (g, title), colour in zip(axes, panels, OKABE_ITO[1:], strict=False):
        rows = gaps[g]["rows"]
        _bars(ax, [{**r, "variable": r["group_code"]} for r in rows],
              [_with_base(r["group"], r) for r in rows], colour)
        ax.set_title(title, loc="left", fontsize=9, fontweight="bold")
    _xlabel(axes[-1], ["Parents who trust their local council to use linked data responsibly",
                       f"({_view_base(facts, 'trust')})"], width=70)
    _save(fig, path)
    parts = []
    for g, title in panels:
        gap = gaps[g]
        if gap["highest"] is None:
            continue
        parts.append(f"by {title.lower()}, from {pct_text(gap['lowest'])} "
                     f"({_clip(gap['lowest']['group'])}) to {pct_text(gap['highest'])} "
                     f"({_clip(gap['highest']['group'])})")
    supp = any(gaps[g]["any_suppressed"] for g, _ in panels)
    return ("Bar charts of trust in the local council by group of parents. Trust ranged "
            + "; ".join(parts) + "."
            + (f" {SUPPRESSION_MARK} marks a group whose base is too small to show."
               if supp else ""))


PILOT_ITEMS = [
    ("heard_know", "Heard of data linkage and know how it works"),
    ("acc_plan", "Acceptable: plan and improve family services"),
    ("acc_notasked", "Acceptable: identify families who have not asked for support"),
    ("acc_save", "Acceptable: save public money by early intervention"),
    ("more_we_know_agree", "Agree 'the more we know about families ...'"),
    ("trust_private_definitely", "Would definitely trust private companies"),
]


def pilot_chart(facts: Mapping[str, Any], path: Path) -> str:
    pilot = facts["pilot"]
    items = [{**pilot[k], "variable": k} for k, _ in PILOT_ITEMS]
    labels = [lab for _, lab in PILOT_ITEMS]
    fig, ax = plt.subplots(layout="constrained", figsize=(WIDTH_IN, 2.6))
    ys = list(range(len(items)))[::-1]
    for y, item in zip(ys, items, strict=True):
        if item["suppressed"]:
            ax.text(1, y, SUPPRESSION_MARK, va="center", fontsize=8)
            continue
        ax.barh(y, item["pct"], color=OKABE_ITO[3], height=0.62)
        ax.text(item["pct"] + 1.5, y, f"{item['count']:,} of {item['base']:,}",
                va="center", fontsize=8)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, 100)
    ax.set_xticks(range(0, 101, 20), [f"{t}%" for t in range(0, 101, 20)])
    ax.tick_params(axis="y", length=0)
    _xlabel(ax, ["Pilot respondents (unweighted %, convenience sample)"])
    _save(fig, path)
    no = pilot["trust_private_no"]
    return ("Bar chart of pilot survey answers (unweighted convenience sample). "
            + "; ".join(f"{lab}: {_count_text(it)}" for (_, lab), it in
                        zip(PILOT_ITEMS, items, strict=True))
            + f". {_count_text(no)} said they would not trust private companies.")


def _count_text(item: Mapping[str, Any]) -> str:
    if item["suppressed"]:
        return SUPPRESSION_MARK
    return f"{item['count']:,} of {item['base']:,} ({pct_text(item)})"


def documents_chart(facts: Mapping[str, Any], path: Path) -> str:
    docs = facts["documents"]
    types = docs["doc_types"]
    matrix = docs["matrix"]
    height = 0.8 + 0.11 * len(matrix) * max(len(types), 1)
    fig, ax = plt.subplots(layout="constrained", figsize=(WIDTH_IN, height))
    band = 0.8 / max(len(types), 1)
    ys = list(range(len(matrix)))[::-1]
    for k, (doc_type, colour) in enumerate(zip(types, OKABE_ITO, strict=False)):
        n_type = docs["by_type"][doc_type]["n_documents"]
        vals = [row["pct"].get(doc_type, 0.0) for row in matrix]
        ax.barh([y + 0.4 - band * (k + 0.5) for y in ys], vals, height=band * 0.95,
                color=colour, label=f"{_clip(docs['doc_type_labels'][doc_type], 30)} (n={n_type})")
    ax.set_yticks(ys, [_clip(row["code"]) for row in matrix])
    ax.set_xlim(0, 100)
    ax.set_xticks(range(0, 101, 20), [f"{t}%" for t in range(0, 101, 20)])
    ax.tick_params(axis="y", length=0)
    _xlabel(ax, ["Documents of each type in which the code appears (%);",
                 "the most frequent codes overall"])
    ax.set_ylim(-0.6, len(matrix) - 0.4)
    # Figure-level legend above the plot: the code labels leave the axes too narrow for it.
    fig.legend(frameon=False, fontsize=8, loc="outside upper center", ncol=len(types))
    _save(fig, path)
    parts = []
    for doc_type in types:
        top = docs["by_type"][doc_type]["top_codes"]
        if top:
            parts.append(f"in {docs['doc_type_labels'][doc_type]} documents the most frequent "
                         f"code was "
                         f"'{_clip(top[0]['code'], 120)}' ({top[0]['pct']:.0f}% of "
                         f"{docs['by_type'][doc_type]['n_documents']})")
    return ("Grouped bar chart of document analysis codes by document type: "
            + "; ".join(parts) + ".")


CHARTS = {
    "acceptability": acceptability_chart,
    "trust": trust_chart,
    "breakdown": breakdown_chart,
    "pilot": pilot_chart,
    "documents": documents_chart,
}


def make_charts(facts: Mapping[str, Any], out_dir: Path, font_dir: Path | None,
                alt_path: Path) -> dict[str, str]:
    """Write every chart as out_dir/<name>.svg and the alt texts to alt_path (JSON)."""
    setup_style(font_dir)
    alt = {name: fn(facts, out_dir / f"{name}.svg") for name, fn in CHARTS.items()}
    alt_path.parent.mkdir(parents=True, exist_ok=True)
    alt_path.write_text(json.dumps(alt, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return alt
