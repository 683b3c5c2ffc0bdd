"""The engine (src/parentlink and workflow/) knows no variable, label or wording of any study.

A study is its config (config/config.yaml, config/report.yaml), plans, margins, templates and
data. This test collects the embedded study's own words from those files — the variable names
its plans make and its config and report spec use, the short wording of its findings, its
titles — and fails on any that appears in engine code or engine templates. The synthetic-data
generators (synth*.py) are the embedded study's, not the engine's, and are left out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from parentlink.plan import load_plan, output_variables

ROOT = Path(__file__).resolve().parents[1]

# Names the engine itself makes for every survey (docs/data-contract.md), not the study's.
ENGINE_NAMES = {"respondent_id", "design_weight", "final_weight"}


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (str(k), *_strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def study_words() -> set[str]:
    """Identifiers and phrases that belong to the embedded study."""
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))
    report = yaml.safe_load((ROOT / "config/report.yaml").read_text(encoding="utf-8"))["report"]
    words: set[str] = set()
    for survey in config["surveys"].values():
        plan = load_plan(ROOT / survey["plan"])
        words |= set(output_variables(plan))
        words |= {str(k) for k in plan.get("rename", {})}  # the agency's names
    words |= set(_strings(config["analysis"]))
    words |= set(_strings(config.get("models", {})))
    words |= {k for k in report["findings"]} | set(report.get("charts", {}))
    for finding in report["findings"].values():
        words |= set(finding.get("items", {})) | set(finding.get("items", {}).values())
        words |= {v for v in (finding.get("item"), finding.get("short")) if v}
    for chart in report.get("charts", {}).values():
        words |= {v for k, v in chart.items() if k in ("axis", "alt")}
        words |= set(chart.get("bars", {}).values()) | set(chart.get("panels", {}).values())
    words |= {config["study"]["title"], config["study"]["short_title"]}
    words |= {d["title"] for d in report["documents"].values()}
    # Short, generic tokens (an agency's "Q1", a plain English word) are not the study's alone.
    return {w for w in words - ENGINE_NAMES
            if ("_" in w and len(w) > 5) or (" " in w and len(w) > 12)}


def engine_files() -> list[Path]:
    files = [p for p in (ROOT / "src/parentlink").rglob("*.py") if not p.name.startswith("synth")]
    files += [p for p in (ROOT / "workflow").rglob("*") if p.is_file()
              and p.suffix in (".smk", ".py", ".html", ".css", ".rst", ".yaml", ".json")]
    return sorted(files)


def test_the_study_has_words_to_look_for() -> None:
    words = study_words()
    assert {"acc_plan_net", "trust_council_net", "plan and improve services"} <= words
    assert len(words) > 80


def test_engine_names_nothing_of_the_embedded_study() -> None:
    words = study_words()
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(w)}(?![\w-])"
                                  for w in sorted(words, key=len, reverse=True)))
    hits = []
    for path in engine_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in pattern.finditer(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {m.group(0)!r}")
    assert not hits, "the engine names the embedded study:\n" + "\n".join(hits)


def test_the_scan_finds_a_planted_name(tmp_path: Path) -> None:
    """The scan is not vacuous: a study name written into engine-like text is found."""
    words = study_words()
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(w)}(?![\w-])" for w in words))
    assert pattern.search('GAP_ITEMS = {"trust_council_net": 1}')
    assert not pattern.search("x_trust_council_net_y = 1")
