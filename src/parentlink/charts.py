"""Byte-stable SVG charts of the headline findings, each with alt text that states the finding.

Charts read facts.json only, so a chart, its alt text and the prose beside it quote the same
numbers. Suppressed estimates are drawn as the suppression mark with no bar.
"""

from __future__ import annotations

import io
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

from parentlink.errors import fail  # noqa: E402
from parentlink.wording import (  # noqa: E402
    FONT_FILES,
    SUPPRESSION_MARK,
    font_coverage,
    one_in,
    pct_text,
    printable_tree,
)

# Okabe–Ito: distinguishable under the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]
INK = "#222222"
# Colours of bars and other marks that carry meaning: Okabe–Ito hues with at least 3:1 contrast
# against the white page (WCAG 2.2 non-text contrast, 1.4.11; tests/test_accessibility.py).
GRAPHIC = ["#0072B2", "#D55E00", "#009E73", "#CC79A7"]
# Chart text names the PDF's own font first (the @font-face "Report Sans" in
# workflow/templates/base.html, i.e. the shipped DejaVu files), so WeasyPrint never looks for a
# system font; browsers showing the HTML briefings fall back to DejaVu Sans or any sans-serif.
MPL_FONT_FAMILY = "font-family: 'DejaVu Sans'"
SVG_FONT_FAMILY = "font-family: 'Report Sans', 'DejaVu Sans', sans-serif"
WIDTH_IN = 6.6  # A4 text block is about 6.85 in wide with the briefing margins

# Sequential and colour-blind safe (perceptually uniform, readable in greyscale); reversed so
# that few documents are light and many are dark on the white page.
HEATMAP_CMAP = "viridis_r"


def setup_style(font_dir: Path | None) -> None:
    """Fix everything that would otherwise vary between runs or machines."""
    if font_dir is not None:
        for name in FONT_FILES:
            font_manager.fontManager.addfont(str(font_dir / name))
    plt.rcParams.update({
        "svg.hashsalt": "parentlink",  # clip-path ids are random otherwise
        # Text as SVG <text>, not glyph outlines: WeasyPrint draws an outlined glyph as a <use>
        # of a path it re-parses each time (~2,000 per briefing, over half its render time).
        # The font family is rewritten in _save to name the PDF's shipped font first.
        "svg.fonttype": "none",
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
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue().decode("utf-8")
    if "<text" in svg:
        if MPL_FONT_FAMILY not in svg:
            raise RuntimeError(f"{path.name}: matplotlib wrote chart text without "
                               f"{MPL_FONT_FAMILY!r}; update SVG_FONT_FAMILY handling in charts.py.")
        svg = svg.replace(MPL_FONT_FAMILY, SVG_FONT_FAMILY)
    check_svg(svg, path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg, encoding="utf-8")


def check_svg(svg: str, name: str) -> None:
    """A chart the renderer could not draw fails the build here: WeasyPrint leaves an image it
    cannot parse out of the PDF without an error (a briefing once lost a page that way)."""
    from xml.etree import ElementTree

    try:
        ElementTree.fromstring(svg)
    except ElementTree.ParseError as err:
        fail(f"{name}: the chart is not valid SVG ({err}); a label probably holds a character "
             "that XML does not allow — check the labels in the clean metadata.")


SYNTHETIC_TITLE = "SYNTHETIC DATA, illustrative only"


def add_title(path: Path, title: str, synthetic: bool) -> None:
    """Give the SVG a <title> (what screen readers and browsers show for the file itself),
    stamped as synthetic when the study's data are; the chart stays valid SVG."""
    from xml.sax.saxutils import escape

    svg = path.read_text(encoding="utf-8")
    text = f"{SYNTHETIC_TITLE}: {title}" if synthetic else title
    at = svg.index(">", svg.index("<svg")) + 1
    svg = f"{svg[:at]}\n <title>{escape(text)}</title>{svg[at:]}"
    check_svg(svg, path.name)
    path.write_text(svg, encoding="utf-8")


def hidden_text(item: Mapping[str, Any]) -> str:
    """Why a bar is missing: a complementary suppression is not 'too few'."""
    if item.get("reason") == "complementary":
        return "hidden to protect another figure"
    return "too few to show"


def _bars(ax: Axes, items: Sequence[Mapping[str, Any]], labels: Sequence[str],
          colour: str) -> None:
    """Horizontal bars (top to bottom in given order) with 95% CI whiskers and value labels."""
    ys = list(range(len(items)))[::-1]
    for y, item in zip(ys, items, strict=True):
        if item["suppressed"]:
            ax.annotate(f"{SUPPRESSION_MARK} {hidden_text(item)}", (0, y), xytext=(8, 0),
                        textcoords="offset points", va="center", ha="left", fontsize=8)
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


def _base_note(weighted: bool, dont_know: str | None, population: str,
               note: str | None = None) -> str:
    """'(weighted % of parents who gave a view; 95% confidence interval)', or the chart's own
    `note` (report.charts.<name>.note), e.g. in plain words for a lay audience."""
    if note is not None:
        return note
    what = "weighted %" if weighted else "unweighted %"
    if dont_know == "excluded":
        what += f" of {population} who gave a view"
    return f"({what}; 95% confidence interval)"


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


def _finding(facts: Mapping[str, Any], spec: Mapping[str, Any], chart: str) -> Mapping[str, Any]:
    name = spec["finding"]
    found = facts["findings"].get(name)
    if found is None:
        fail(f"report.charts.{chart}: no finding '{name}' in report.findings.")
    return dict(found)


def _weighted(facts: Mapping[str, Any], finding: Mapping[str, Any]) -> bool:
    """Whether the finding's survey is weighted (its percentages are weighted)."""
    return bool(facts["surveys"].get(finding.get("survey"), {}).get("weighted", True))


def bars_chart(facts: Mapping[str, Any], spec: Mapping[str, Any], path: Path,
               name: str = "bars") -> str:
    """An `items` finding as horizontal bars, high to low, with 95% CIs and bases."""
    found = _finding(facts, spec, name)
    if "list" not in found or "ranked" not in found:
        fail(f"report.charts.{name}: finding '{spec['finding']}' is not of kind items.")
    items = _sorted(found["list"])
    fig, ax = plt.subplots(layout="constrained",
                           figsize=(WIDTH_IN, 1.25 + 0.25 * max(len(items), 1)))
    colour = OKABE_ITO[0 if _weighted(facts, found) else 3]
    _bars(ax, items, [_with_base(_cap(i["short"]), i) for i in items], colour)
    _xlabel(ax, [spec["axis"], _base_note(_weighted(facts, found), found.get("dont_know"),
                                          facts.get("population", "respondents"),
                                          spec.get("note"))])
    _save(fig, path)
    ranked = found["ranked"]
    hi, lo = ranked["highest"], ranked["lowest"]
    summary = ""
    if hi is not None and lo is not None and hi is not lo:
        summary = (f" Highest: {hi['short']} ({pct_text(hi)}); lowest: {lo['short']} "
                   f"({pct_text(lo)}, {one_in(lo['pct'])}).")
    return spec["alt"] + summary + _list_values(items)


def _list_values(items: Sequence[Mapping[str, Any]]) -> str:
    return " Values: " + "; ".join(f"{i['short']} {pct_text(i)}" for i in items) + "."


def panels_chart(facts: Mapping[str, Any], spec: Mapping[str, Any], path: Path,
                 name: str = "panels") -> str:
    """A `breakdown` finding: one panel of bars per breakdown, groups in code order."""
    found = _finding(facts, spec, name)
    if "by" not in found or not isinstance(found["by"], dict):
        fail(f"report.charts.{name}: finding '{spec['finding']}' is not of kind breakdown.")
    gaps = found["by"]
    missing = [g for g in spec["panels"] if g not in gaps]
    if missing:
        fail(f"report.charts.{name}: panel '{missing[0]}' is not a breakdown of finding "
             f"'{spec['finding']}' (it has {', '.join(gaps)}).")
    panels = list(spec["panels"].items())
    heights = [max(len(gaps[g]["rows"]), 1) for g, _ in panels]
    height = 0.5 + 0.27 * sum(heights) + 0.35 * len(panels)
    fig, axes = plt.subplots(len(panels), 1, layout="constrained", figsize=(WIDTH_IN, height),
                             gridspec_kw={"height_ratios": heights}, sharex=True, squeeze=False)
    for ax, (g, title), colour in zip(axes[:, 0], panels, (GRAPHIC[1:] + GRAPHIC[:1]) * 4,
                                      strict=False):
        rows = gaps[g]["rows"]
        _bars(ax, [{**r, "variable": r["group_code"]} for r in rows],
              [_with_base(r["group"], r) for r in rows], colour)
        ax.set_title(title, loc="left", fontsize=9, fontweight="bold")
    _xlabel(axes[-1, 0], [spec["axis"], _base_note(
        _weighted(facts, found), found.get("dont_know"), facts.get("population", "respondents"),
        spec.get("note"))], width=70)
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
    return (spec["alt"] + (" The share ranged " + "; ".join(parts) + "." if parts else "")
            + (f" {SUPPRESSION_MARK} marks a group whose base is too small to show."
               if supp else ""))


def counts_chart(facts: Mapping[str, Any], spec: Mapping[str, Any], path: Path,
                 name: str = "counts") -> str:
    """Share findings of an unweighted survey as counts: a dark bar of the respondents who gave
    the answer drawn over a pale bar of those asked, labelled 'count of base'. The axis counts
    respondents, so it carries no '%'."""
    items = []
    for finding, label in spec["bars"].items():
        found = facts["findings"].get(finding)
        if found is None or "pct" not in found and "suppressed" not in found:
            fail(f"report.charts.{name}: '{finding}' is not a finding of kind share.")
        items.append({**found, "variable": finding, "bar_label": label})
    fig, ax = plt.subplots(layout="constrained",
                           figsize=(WIDTH_IN, 0.8 + 0.3 * max(len(items), 1)))
    top = max([int(i.get("base") or 0) for i in items] + [1])
    ys = list(range(len(items)))[::-1]
    for y, item in zip(ys, items, strict=True):
        if item["suppressed"]:
            # Offset in points from the axis, so the mark never touches the axis line.
            ax.annotate(f"{SUPPRESSION_MARK} {hidden_text(item)}", (0, y), xytext=(8, 0),
                        textcoords="offset points", va="center", ha="left", fontsize=8)
            continue
        base = int(item.get("base") or 0)
        count = int(item["count"]) if "count" in item else round(item["pct"] * base / 100)
        ax.barh(y, base, color="#e3e3e3", height=0.62)
        ax.barh(y, count, color=OKABE_ITO[3], height=0.62)
        ax.annotate(_count_label(item), (base, y), xytext=(4, 0), textcoords="offset points",
                    va="center", ha="left", fontsize=8)
    ax.set_yticks(ys, [_clip(i["bar_label"], 64) for i in items])
    ax.set_ylim(-0.6, len(items) - 0.4)
    ax.set_xlim(0, top * 1.3)  # room for the 'count of base' labels
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:,.0f}")
    ax.tick_params(axis="y", length=0)
    _xlabel(ax, [spec["axis"]])
    _save(fig, path)
    return (spec["alt"] + " "
            + "; ".join(f"{i['bar_label']}: {_count_text(i)}" for i in items) + ".")


def _count_label(item: Mapping[str, Any]) -> str:
    if "count" in item:
        return f"{item['count']:,} of {item['base']:,}"
    return pct_text(item)


def _count_text(item: Mapping[str, Any]) -> str:
    if item["suppressed"]:
        return SUPPRESSION_MARK
    if "count" not in item:
        return pct_text(item)
    return f"{item['count']:,} of {item['base']:,} ({pct_text(item)})"


def documents_chart(facts: Mapping[str, Any], spec: Mapping[str, Any], path: Path,
                    name: str = "documents") -> str:
    """The most frequent codes: share of documents of each type with the code."""
    docs = _documents(facts, name)
    # No document types: one panel of all documents (facts.DOC_TYPE_ALL, "all" in by_type).
    types = docs["doc_types"] or ["all"]
    matrix = docs["matrix"]
    # One panel per document type, side by side and sharing the code labels: every bar has room
    # for its value label, and a row reads across the types.
    fig, axes = plt.subplots(1, len(types), sharey=True, layout="constrained", squeeze=False,
                             figsize=(WIDTH_IN, 0.95 + 0.2 * len(matrix)))
    ys = list(range(len(matrix)))[::-1]
    for ax, doc_type, colour in zip(axes[0], types, GRAPHIC * len(types), strict=False):
        vals = [row["pct"].get(doc_type, 0.0) for row in matrix]
        ax.barh(ys, vals, height=0.7, color=colour)
        for y, val in zip(ys, vals, strict=True):
            ax.annotate(f"{val:.0f}%", (val, y), xytext=(5, 0), textcoords="offset points",
                        va="center", ha="left", fontsize=7)
        n_type = docs["by_type"][doc_type]["n_documents"]
        # Narrow panels: the type's name over up to three short lines.
        ax.set_title(textwrap.fill(f"{_clip(docs['doc_type_labels'][doc_type], 40)} "
                                   f"(n={n_type})", 15), fontsize=7.5)
        ax.set_xlim(0, 125)  # room for the label of a bar at 100%
        ax.set_xticks([0, 100], ["0%", "100%"])
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(-0.6, len(matrix) - 0.4)
    axes[0][0].set_yticks(ys, [_clip(row["code"]) for row in matrix])
    fig.supxlabel(textwrap.fill(spec.get("axis") or "Documents of each type with the code (%)",
                                80), fontsize=8)
    _save(fig, path)
    parts = []
    for doc_type in types:
        top = docs["by_type"][doc_type]["top_codes"]
        if top:
            parts.append(f"in {docs['doc_type_labels'][doc_type]} documents the most frequent "
                         f"code was "
                         f"'{_clip(top[0]['code'], 120)}' ({top[0]['pct']:.0f}% of "
                         f"{docs['by_type'][doc_type]['n_documents']})")
    return spec["alt"] + (" " + _cap("; ".join(parts)) + "." if parts else "")


def _luminance(rgba: Sequence[float]) -> float:
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _pair_text(pair: Mapping[str, Any]) -> str:
    return f"'{_clip(pair['code_a'], 120)}' with '{_clip(pair['code_b'], 120)}'"


def _documents(facts: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    docs = facts.get("documents")
    if not docs:
        fail(f"report.charts.{name}: the study has no document analysis (config documents).")
    return dict(docs)


def cooccurrence_chart(facts: Mapping[str, Any], spec: Mapping[str, Any], path: Path,
                       name: str = "cooccurrence") -> str:
    """Lower-triangle heatmap: documents in which both codes appear, codes in code-path order.

    Each pair appears once (row below column); the diagonal (documents with the code) is left
    out so that it does not set the colour scale. Lines separate codes with different parents.
    """
    import numpy as np
    from matplotlib.colors import Normalize

    docs = _documents(facts, name)
    co = docs["cooccurrence"]
    codes = co["codes"]
    n = len(codes)
    n_docs = docs["n_documents"]
    rows, cols = codes[1:], codes[:-1]
    values = np.ma.masked_all((max(n - 1, 1), max(n - 1, 1)))
    for i in range(1, n):
        for j in range(i):
            values[i - 1, j] = co["matrix"][i][j]
    # Rows, plus room for the slanted column labels (longest label sets it).
    longest = max((len(_clip(c["code"])) for c in cols), default=0)
    height = 0.4 + 0.16 * max(n - 1, 1) + 0.032 * longest
    fig, ax = plt.subplots(layout="constrained", figsize=(WIDTH_IN, height))
    norm = Normalize(vmin=0, vmax=max(co["max"], 1))
    cmap = plt.get_cmap(HEATMAP_CMAP)
    mesh = ax.pcolormesh(values, cmap=cmap, norm=norm, edgecolors="white", linewidth=0.6)
    for i in range(1, n):
        for j in range(i):
            v = co["matrix"][i][j]
            ax.text(j + 0.5, i - 0.5, f"{v}", ha="center", va="center", fontsize=6.5,
                    color="white" if _luminance(cmap(norm(v))) < 0.3 else INK)
    # Separators where the parent code changes: the codebook's groups stay visible.
    for k in range(1, n):
        if codes[k]["parent_code"] != codes[k - 1]["parent_code"]:
            ax.plot([0, k], [k - 1, k - 1], color=INK, linewidth=0.8)  # under row group start
            ax.plot([k, k], [k - 1, n - 1], color=INK, linewidth=0.8)  # right of column group
    ax.set_xlim(0, max(n - 1, 1))
    ax.set_ylim(max(n - 1, 1), 0)  # first code at the top
    ax.set_yticks([k + 0.5 for k in range(len(rows))], [_clip(c["code"]) for c in rows],
                  fontsize=7.5)
    ax.set_xticks([k + 0.5 for k in range(len(cols))], [_clip(c["code"]) for c in cols],
                  fontsize=7.5, rotation=50, ha="right", rotation_mode="anchor")
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(mesh, ax=ax, shrink=0.5, aspect=25, pad=0.02,
                       ticks=MaxNLocator(integer=True))  # counts: whole numbers only
    bar.set_label(f"Documents with both codes (of {n_docs})", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    bar.outline.set_visible(False)
    _save(fig, path)
    strongest = co["strongest"]
    if not strongest:
        finding = "No two codes appear in the same document."
    else:
        best = strongest[0]["n_documents"]
        shown = strongest[:4]
        more = len(strongest) - len(shown)
        finding = (f"The strongest pairing{'s' if len(strongest) > 1 else ''}: "
                   + "; ".join(_pair_text(p) for p in shown)
                   + (f" and {more} more pairs" if more else "")
                   + f", each in {best} of {n_docs} documents.")
        nxt = [p for p in co["top_pairs"] if p["n_documents"] < best][:2]
        if nxt:
            finding += " Next: " + "; ".join(f"{_pair_text(p)} ({p['n_documents']})"
                                            for p in nxt) + "."
    return (f"{spec['alt']} {n} codes in codebook order across all {n_docs} documents; each "
            f"cell gives the number of documents with both codes. " + finding)


CHARTS = {
    "bars": bars_chart,
    "panels": panels_chart,
    "counts": counts_chart,
    "documents": documents_chart,
    "cooccurrence": cooccurrence_chart,
}


def make_charts(facts: Mapping[str, Any], charts: Mapping[str, Mapping[str, Any]], out_dir: Path,
                font_dir: Path | None, alt_path: Path) -> dict[str, str]:
    """Write every chart of `charts` (report.charts) as out_dir/<name>.svg and the alt texts
    to alt_path (JSON).

    With the shipped fonts (font_dir), characters they cannot draw print as U+FFFD, so neither
    matplotlib's layout nor the PDF renderer reaches for a system font.
    """
    setup_style(font_dir)
    if font_dir is not None:
        facts = printable_tree(facts, font_coverage(font_dir))
    synthetic = bool(facts.get("study", {}).get("synthetic", False))
    alt = {}
    for name, spec in charts.items():
        path = out_dir / f"{name}.svg"
        alt[name] = CHARTS[spec["kind"]](facts, spec, path, name)
        add_title(path, spec.get("title") or spec["alt"], synthetic)
    alt_path.parent.mkdir(parents=True, exist_ok=True)
    alt_path.write_text(json.dumps(alt, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return alt
