"""Every rebuild re-runs exactly what changed (issue: never a stale output).

In a built copy of the project, each thing that shapes an output is changed in turn and a dry run
says which jobs Snakemake would run. That set must equal the jobs of the rules that declare the
thing, plus everything downstream of them — so a change re-runs what depends on it and nothing
else, and a new config key or package module without a declared consumer fails here.

* **Config**: every leaf key of config/schema.json (expanded over the surveys the config has) is
  given another valid value in an overlay config. A rule declares the keys it reads with
  ``uses("...")`` in its params or ``setting("...")`` in its inputs (workflow/rules/*.smk).
* **Package modules**: every module of src/parentlink is touched. What it must re-run is taken
  from what really happened: during the copy's build a ``sitecustomize`` records which parentlink
  modules each rule script had loaded when it ended. A module loaded by a script must re-run that
  script's jobs; a module no script loads must be in NOT_IN_ANY_RULE, with the reason.
* **Files**: scripts, templates, fonts, plans and margins are touched one at a time.
* Changing nothing runs nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from parentlink.config import leaf_keys, load_schema
from tests.conftest import ROOT, copy_project

pytestmark = pytest.mark.integration

Job = tuple[str, tuple[tuple[str, str], ...]]  # (rule, sorted wildcards)

# Package modules that no rule script imports, and why a change to them re-runs nothing.
NOT_IN_ANY_RULE = {
    "accessibility.py": "checks the documents' colours in tests (WCAG contrast); makes no output",
    "readability.py": "measures the documents' reading level in tests; makes no output",
    "archive.py": "the deposit bundle (rule archive, not part of `all`; `make archive`)",
    "build.py": "the launcher `make` runs; starts Snakemake, makes no output",
    "buildinfo.py": "read while the Snakefile is parsed: the date and version it yields are "
                    "params of the rules that print them",
    "config.py": "read while the Snakefile is parsed: validates config and fills defaults; the "
                 "values it yields are the rules' params",
    "deps.py": "read while the Snakefile is parsed: finds these very dependencies",
    "layout.py": "the layout check of rendered PDFs (tests/test_render.py, tests/test_charts.py, "
                 "bench/bench_render.py): reads PDFs, makes no output",
    "starter.py": "the starter-plan command (`python -m parentlink.starter`), run by a person "
                  "before any build; makes no pipeline output",
    "slurm.py": "read while the Snakefile is parsed on a cluster: chooses how job status is read",
    "synth.py": "the synthetic-data generator (`make raw`, rule synthesize_main for the scale "
                "scenario, not part of `all`)",
    "synth_documents.py": "the synthetic document generator (`make raw`)",
}

# Config keys that cannot take another valid value on their own, and what covers them instead.
NOT_VARIED = {
    "surveys.main.weighted": "the weighting survey must stay weighted (pre-flight check)",
    "surveys.pilot.weighted": "only the weighting survey may be weighted: the pre-flight check "
                              "refuses a second one (tests/test_bad_inputs.py)",
    "weighting.survey": "only one survey is weighted in the embedded study",
    "weighting.design_weight": "the cleaned data has one design weight, 'design_weight'",
    "quotes.text": "the main survey has one open-text variable",
    "models.social_licence.survey": "the model's variables exist only in the main survey",
}

SITECUSTOMIZE = '''
import atexit, json, os, sys
def _record():
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    if ".snakemake" not in (sys.argv[0] if sys.argv else "") or not script.endswith(".py"):
        return
    name = script.split(".")[-2] + ".py"  # tmpXXXX.<script>.py
    mods = sorted(m for m in sys.modules if m == "parentlink" or m.startswith("parentlink."))
    with open(os.environ["PARENTLINK_IMPORT_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"script": name, "modules": mods}) + "\\n")
atexit.register(_record)
'''


def env_for(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The copy's own package is the one imported (parse time and jobs), so touching it counts.
    env["PYTHONPATH"] = os.pathsep.join([str(work / "src"), str(work / ".trace")])
    env["PARENTLINK_IMPORT_LOG"] = str(work / "imports.jsonl")
    env["PARENTLINK_PSEUDONYM_KEY"] = "test-key"  # lets study.synthetic be flipped
    env.pop("SOURCE_DATE_EPOCH", None)
    env.pop("PARENTLINK_CODE_VERSION", None)
    return env


def snakemake(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=work, env=env_for(work),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = copy_project(tmp_path_factory.mktemp("deps"))
    shutil.copytree(ROOT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (work / ".trace").mkdir()
    (work / ".trace" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    res = snakemake(work, "--cores", "2", "--quiet")
    assert res.returncode == 0, res.stderr[-3000:]
    return work


# ----------------------------------------------------------------------------- dry-run parsing


def parse_jobs(out: str) -> dict[Job, tuple[list[str], list[str]]]:
    """Jobs of a dry run's output: {(rule, wildcards): (inputs, outputs)}."""
    jobs: dict[Job, tuple[list[str], list[str]]] = {}
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", "\n" + out):
        m = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block.strip())
        if not m:
            continue
        fields: dict[str, str] = {}
        for line in block.splitlines()[1:]:
            fm = re.match(r"\s+(\w+): (.*)", line)
            if fm:
                fields[fm.group(1)] = fm.group(2)
        wc = tuple(sorted(tuple(kv.split("=", 1)) for kv in fields.get("wildcards", "").split(", ")
                          if "=" in kv))  # type: ignore[misc]
        split = lambda s: [x for x in s.split(", ") if x]  # noqa: E731
        jobs[(m.group(1), wc)] = (split(fields.get("input", "")), split(fields.get("output", "")))
    return jobs


def dry_run(work: Path, *args: str) -> set[Job]:
    res = snakemake(work, "-n", "--nolock", *args)
    assert res.returncode == 0, (args, res.stdout[-2000:], res.stderr[-3000:])
    if "Nothing to be done" in res.stdout + res.stderr:
        return set()
    return {j for j in parse_jobs(res.stdout) if j[0] != "all"}


@pytest.fixture(scope="module")
def dag(built: Path) -> dict[Job, set[Job]]:
    """Downstream edges: job -> jobs that read one of its outputs."""
    res = snakemake(built, "-n", "--nolock", "--forceall")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = parse_jobs(res.stdout)
    producer = {o: j for j, (_, outs) in jobs.items() for o in outs}
    down: dict[Job, set[Job]] = {j: set() for j in jobs}
    for j, (ins, _) in jobs.items():
        for i in ins:
            if i in producer:
                down[producer[i]].add(j)
    return down


def closure(start: Iterable[Job], down: dict[Job, set[Job]]) -> set[Job]:
    seen: set[Job] = set()
    todo = [j for j in start if j in down]
    while todo:
        j = todo.pop()
        if j not in seen:
            seen.add(j)
            todo.extend(down[j])
    return {j for j in seen if j[0] != "all"}


# ----------------------------------------------------------------------------- declarations


# Settings read outside any rule shape which jobs exist (e.g. reports.audiences: which briefings
# `all` asks for); changing them must run nothing that already exists.
WORKFLOW = "(which jobs exist)"


def rule_blocks(project: Path) -> dict[str, str]:
    blocks: dict[str, str] = {WORKFLOW: ""}
    for smk in [project / "Snakefile", *sorted((project / "workflow/rules").glob("*.smk"))]:
        text = smk.read_text(encoding="utf-8")
        parts = re.split(r"^[ \t]*(?:rule|checkpoint) (\w+):", text, flags=re.M)
        blocks[WORKFLOW] += parts[0]
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            blocks[name] = body
    return blocks


def declared_keys(project: Path) -> dict[str, list[str]]:
    """Config key paths each rule declares (uses(...) in params, setting(...) in inputs)."""
    out: dict[str, list[str]] = {}
    for name, body in rule_blocks(project).items():
        keys: list[str] = []
        for m in re.finditer(r"uses\(([^)]*)\)", body):
            keys += re.findall(r'"([^"]+)"', m.group(1))
        keys += re.findall(r"""setting\(["']([^"']+)["']""", body)
        out[name] = [k for k in keys if not (name == WORKFLOW and "{" in k)]  # helpers' templates
    return out


def rule_scripts(project: Path) -> dict[str, str]:
    out = {}
    for name, body in rule_blocks(project).items():
        m = re.search(r'script:\s*"\.\./scripts/([\w.]+)"', body)
        if m:
            out[name] = m.group(1)
    return out


def jobs_declaring(key: str, down: dict[Job, set[Job]], project: Path) -> set[Job]:
    """Jobs (in the DAG of `all`) whose rule declares `key` or a key containing it."""
    found: set[Job] = set()
    for rule, keys in declared_keys(project).items():
        for job in down:
            if job[0] != rule:
                continue
            wc = dict(job[1])
            for d in keys:
                try:
                    d = d.format(**wc)
                except KeyError:
                    continue
                if key == d or key.startswith(d + ".") or key.startswith(d + "["):
                    found.add(job)
    return found


def fmt(jobs: Iterable[Job]) -> list[str]:
    return sorted(r + "".join(f"[{v}]" for _, v in wc) for r, wc in jobs)


# ----------------------------------------------------------------------------- config variations


def get_key(cfg: dict[str, Any], key: tuple[str, ...]) -> Any:
    node: Any = cfg
    for k in key:
        node = node[k]
    return node


def variation(key: tuple[str, ...], value: Any, work: Path) -> Any:
    dotted = ".".join(key)
    special: dict[str, Any] = {
        "privacy.pseudonym_key_env": "ANOTHER_KEY_VARIABLE",
        "quotes.survey": "pilot",
        "quotes.item": "acc_plan_net",
        "models.social_licence.outcome": "public_sources_acceptable_any",
        "documents.contrast": [{"name": "government", "label": "government",
                                "types": ["local_authority", "national_government"]},
                               {"name": "company", "label": "company", "types": ["company"]}],
        "documents.problem_root": "Problems (renamed)",
        "documents.solution_root": "Solutions (renamed)",
        "documents.position_unit": "utf16",
    }
    if dotted in special:
        return special[dotted]
    if key[-1] in ("raw", "plan", "source"):  # a file: the same content under another name
        src = work / value
        dst = src.with_name("copy_" + src.name)
        shutil.copy2(src, dst)
        if src.with_name(src.name + ".meta.json").is_file():
            shutil.copy2(src.with_name(src.name + ".meta.json"), dst.with_name(dst.name + ".meta.json"))
        return str(dst.relative_to(work))
    choices = schema_node(key).get("enum")
    if choices:  # another allowed value
        return next(c for c in choices if c != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        node = schema_node(key)
        return value - 1 if "maximum" in node and value + 1 > node["maximum"] else value + 1
    if isinstance(value, float):
        return value * 1.5
    if isinstance(value, str):
        return value + " (changed)"
    if isinstance(value, list):
        if len(value) > 1:
            return value[:-1]
        if schema_node(key).get("minItems", 0) == 0:
            return []
        return [*value, "Another"]
    raise AssertionError(f"no variation for {dotted} = {value!r}: add one to the test")


def parent_present(cfg: Any, key: tuple[str, ...]) -> bool:
    """Whether every block above `key` is written in the config."""
    node = cfg
    for k in key[:-1]:
        if not isinstance(node, dict) or k not in node:
            return False
        node = node[k]
    return True


def schema_node(key: tuple[str, ...]) -> dict[str, Any]:
    node: dict[str, Any] = load_schema(ROOT / "config/schema.json")
    for k in key:
        props = node.get("properties", {})
        node = props[k] if k in props else node.get("additionalProperties", {})
    return node


def overlay(key: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    for k in key[:-1]:
        node = node.setdefault(k, {})
    node[key[-1]] = value
    return out


def test_nothing_changed_runs_nothing(built: Path) -> None:
    assert dry_run(built) == set()


def test_every_config_key_reruns_exactly_its_consumers(built: Path, dag: dict[Job, set[Job]]) -> None:
    cfg = yaml.safe_load((built / "config/config.yaml").read_text(encoding="utf-8"))
    schema = load_schema(built / "config/schema.json")
    keys = leaf_keys(schema, cfg)
    declared_anywhere = {k for ks in declared_keys(built).values() for k in ks}
    cases = []
    problems: list[str] = []
    for key in keys:
        dotted = ".".join(key)
        if key[0] == "report":
            continue  # the report spec (config/report.yaml): test_report_spec_reruns_its_users
        here = [re.sub(r"\{\w+\}", key[1] if len(key) > 1 else "", d) for d in declared_anywhere]
        if not any(dotted == d or dotted.startswith(d + ".") for d in here):
            problems.append(f"{dotted}: no rule declares it (uses(...) or setting(...))")
            continue
        if dotted in NOT_VARIED:
            continue
        if not parent_present(cfg, key):
            continue  # inside an optional block left out (its default alone is not a setting)
        try:
            value = get_key(cfg, key)
        except KeyError:
            value = schema_node(key).get("default")
        if value is None:
            continue  # an optional setting left out: covered by its siblings' declaration
        new = variation(key, value, built)
        path = built / f"override_{dotted.replace('.', '_')}.yaml"
        path.write_text(yaml.safe_dump(overlay(key, new)), encoding="utf-8")
        cases.append((dotted, path))

    def check(case: tuple[str, Path]) -> str | None:
        dotted, path = case
        try:
            got = dry_run(built, "--configfile", str(path))
        except AssertionError as err:
            return f"{dotted}: the dry run failed: {str(err)[-600:]}"
        want = closure(jobs_declaring(dotted, dag, built), dag)
        if got != want:
            return (f"{dotted}: ran {fmt(got)} but the declarations say {fmt(want)} "
                    f"(extra {fmt(got - want)}, missing {fmt(want - got)})")
        return None

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems += [p for p in pool.map(check, cases) if p]
    print(f"\n{len(cases)} config keys varied in {time.monotonic() - t0:.1f} s")
    assert not problems, "\n".join(problems)


def module_users(built: Path) -> dict[str, set[str]]:
    """module file name -> scripts that had it loaded (recorded during the copy's build)."""
    users: dict[str, set[str]] = {}
    for line in (built / "imports.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        for mod in rec["modules"]:
            parts = mod.split(".")
            rel = "/".join(parts[1:]) + ".py" if len(parts) > 1 else "__init__.py"
            users.setdefault(rel, set()).add(rec["script"])
    return users


def touch(path: Path) -> tuple[float, bytes]:
    """Change `path` as an edit would: new content (Snakemake skips a newer file whose checksum
    is unchanged) and a newer modification time. Returns what untouch needs to undo it."""
    before = (path.stat().st_mtime, path.read_bytes())
    path.write_bytes(before[1] + b"\n")
    now = time.time() + 10
    os.utime(path, (now, now))
    return before


def untouch(path: Path, before: tuple[float, bytes]) -> None:
    path.write_bytes(before[1])
    os.utime(path, (before[0], before[0]))


def test_every_module_reruns_exactly_the_rules_that_import_it(
        built: Path, dag: dict[Job, set[Job]]) -> None:
    users = module_users(built)
    scripts = rule_scripts(built)
    problems: list[str] = []
    modules = sorted((built / "src/parentlink").rglob("*.py"))
    assert len(modules) > 10
    for mod in modules:
        rel = mod.relative_to(built / "src/parentlink").as_posix()
        loaded_by = users.get(rel, set())
        if not loaded_by and rel not in NOT_IN_ANY_RULE:
            problems.append(f"{rel}: no rule script loads it; declare a consumer or list it in "
                            "NOT_IN_ANY_RULE with the reason")
            continue
        if loaded_by and rel in NOT_IN_ANY_RULE:
            problems.append(f"{rel}: listed in NOT_IN_ANY_RULE but loaded by {sorted(loaded_by)}")
        before = touch(mod)
        try:
            got = dry_run(built)
        finally:
            untouch(mod, before)
        must = closure({j for j in dag if scripts.get(j[0]) in loaded_by}, dag)
        if not must <= got:
            problems.append(f"{rel}: loaded by {sorted(loaded_by)} but touching it does not re-run "
                            f"{fmt(must - got)}")
        if not loaded_by and got:
            problems.append(f"{rel}: no script loads it, yet touching it re-runs {fmt(got)}")
    assert dry_run(built) == set()
    assert not problems, "\n".join(problems)


FILE_CASES = [
    # (file, rules whose jobs it must re-run, before what is downstream of them)
    ("workflow/scripts/estimate.py", {"estimate"}),
    ("workflow/scripts/weight.py", {"weight"}),
    ("workflow/scripts/render.py", {"render_briefing", "technical_report", "appendix"}),
    ("config/templates/parents.html", {"render_briefing[parents]"}),
    ("config/templates/technical_report.html", {"technical_report"}),
    ("config/templates/_study.html", {"render_briefing", "technical_report"}),
    ("workflow/templates/_engine.html", {"render_briefing", "technical_report"}),
    ("workflow/templates/briefing.css", {"render_briefing", "technical_report", "appendix"}),
    ("workflow/templates/report.css", {"technical_report", "appendix"}),
    ("workflow/templates/appendix.html", {"appendix"}),
    ("workflow/fonts/DejaVuSans.ttf", {"charts", "render_briefing", "technical_report", "appendix"}),
    ("config/plans/pilot.yaml", {"ingest[pilot]", "clean[pilot]"}),
    ("config/targets/region.csv", {"weight", "estimate[main]", "model"}),
    ("raw/pilot_survey.sav", {"ingest[pilot]", "technical_report"}),
    ("raw/document_codes.qdpx", {"documents", "technical_report"}),
    ("config/report.yaml", {"technical_report"}),  # hashed there; a comment changes no finding
]

# The report spec (config/report.yaml): one change per part, and the jobs it must re-run.
REPORT_CASES = [
    (("report", "findings", "heard", "category"), 2, {"facts"}),
    (("report", "population"), "carers", {"facts", "estimate", "workbook"}),
    (("report", "breakdowns", "age_band", "title"), "age group", {"facts"}),
    (("report", "charts", "trust", "axis"), "Trust (changed)", {"charts"}),
    (("report", "documents", "parents", "title"), "What parents told us (changed)",
     {"render_briefing[parents]"}),
]


@pytest.mark.parametrize(("key", "value", "rules"), REPORT_CASES,
                         ids=[".".join(c[0]) for c in REPORT_CASES])
def test_report_spec_reruns_its_users(built: Path, dag: dict[Job, set[Job]], key: tuple[str, ...],
                                      value: Any, rules: set[str]) -> None:
    path = built / f"override_{'_'.join(key)}.yaml"
    path.write_text(yaml.safe_dump(overlay(key, value)), encoding="utf-8")
    got = dry_run(built, "--configfile", str(path))
    want = closure({j for j in dag if j[0] in rules or fmt([j])[0] in rules}, dag)
    assert got == want, f"extra {fmt(got - want)}, missing {fmt(want - got)}"


@pytest.mark.parametrize(("rel", "rules"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_touching_a_file_reruns_exactly_its_users(built: Path, dag: dict[Job, set[Job]], rel: str,
                                                  rules: set[str]) -> None:
    path = built / rel
    before = touch(path)
    try:
        got = dry_run(built)
    finally:
        untouch(path, before)
    start = {j for j in dag if j[0] in rules or fmt([j])[0] in rules}
    want = closure(start, dag)
    assert got == want, f"extra {fmt(got - want)}, missing {fmt(want - got)}"


def test_no_script_reads_the_config_directly() -> None:
    """Scripts read config values only through their rule's params (declared with uses), so the
    params trigger sees every value that shapes an output."""
    offenders = [p.name for p in sorted((ROOT / "workflow/scripts").glob("*.py"))
                 if re.search(r"\b(?:snakemake|sm)\.config\b", p.read_text(encoding="utf-8"))]
    assert offenders == []
