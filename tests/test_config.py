"""parentlink.config (strict validation, defaults from the schema, pre-flight), parentlink.plan's
output_variables and parentlink.buildinfo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from parentlink import FALLBACK_SOURCE_DATE_EPOCH, buildinfo
from parentlink.clean import Cleaned
from parentlink.config import check_study, leaf_keys, load_schema, prepare
from parentlink.errors import UserError
from parentlink.plan import load_plan, output_variables
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def schema() -> dict:
    return load_schema(ROOT / "config/schema.json")


@pytest.fixture()
def config() -> dict:
    """config/config.yaml with the report spec (config/report.yaml), as Snakemake merges them."""
    return {**yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8")),
            **yaml.safe_load((ROOT / "config/report.yaml").read_text(encoding="utf-8"))}


@pytest.mark.parametrize("survey", ["main", "pilot"])
def test_output_variables_are_what_cleaning_makes(survey: str, cleaned_main: Cleaned,
                                                  cleaned_pilot: Cleaned) -> None:
    cleaned = cleaned_main if survey == "main" else cleaned_pilot
    declared = output_variables(load_plan(ROOT / f"config/plans/{survey}.yaml"))
    assert set(declared) == set(cleaned.data.columns)
    for name, kind in declared.items():
        meta_kind = cleaned.meta["variables"].get(name, {}).get("type")
        if kind in ("categorical", "numeric", "text"):
            assert meta_kind == kind, name


def test_defaults_come_from_the_schema(schema: dict, config: dict) -> None:
    del config["disclosure"]["suppress_zeros"]
    del config["weighting"]["tolerance"]
    out = prepare(config, schema)
    assert out["disclosure"]["suppress_zeros"] is False
    assert out["weighting"]["tolerance"] == 1e-10
    assert out["documents"]["problem_root"] == "Problem constructions"
    assert out["quotes"]["approved"] == config["quotes"]["approved"]
    assert "suppress_zeros" not in config["disclosure"]  # the input is not changed


def test_leaf_keys_cover_the_schema_over_the_configs_surveys(schema: dict) -> None:
    """The keys the dependency test varies: one per setting, per survey where any key is allowed."""
    keys = leaf_keys(schema, yaml.safe_load((ROOT / "config/config.yaml").read_text("utf-8")))
    assert ("quotes", "approved") in keys and ("surveys", "main", "raw") in keys
    assert len(keys) >= 40


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c["weighting"].update(trimm=1), "weighting.trimm is not a setting the pipeline "
                                               "knows; did you mean weighting.trim?"),
    (lambda c: c["documents"].update(redistributable="false"),
     'documents.redistributable is "false" (a string) but must be true or false'),
    (lambda c: c["disclosure"].update(min_cell=-1), "disclosure.min_cell is -1"),
    (lambda c: c["quotes"].update(approved=["nope"]), 'quotes.approved[0] is "nope"'),
    (lambda c: c["report"]["documents"].clear(), "report.documents"),
    (lambda c: c["report"]["findings"]["heard"].update(kind="shares"),
     'report.findings.heard.kind is "shares"'),
    (lambda c: c["report"]["findings"]["heard"].pop("item"),
     "the setting report.findings.heard.item is missing"),
    (lambda c: c.pop("study"), "the setting study is missing"),
])
def test_bad_config_is_one_sentence(schema: dict, config: dict, change, message: str) -> None:
    change(config)
    with pytest.raises(UserError) as err:
        prepare(config, schema)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_preflight_names_the_key_and_the_fix(config: dict, schema: dict) -> None:
    cfg = prepare(config, schema)
    check_study(cfg, ROOT)  # the shipped study passes
    bad = json.loads(json.dumps(cfg))
    bad["models"]["social_licence"]["predictors"][0] = "ethnicty"
    with pytest.raises(UserError, match=r"models.social_licence.predictors\[0\] 'ethnicty' is not "
                                        r"a variable of "
                                        r"the cleaned main data .*did you mean 'ethnicity'\?"):
        check_study(bad, ROOT)
    bad = json.loads(json.dumps(cfg))
    bad["surveys"]["main"]["raw"] = "results/synthetic/main_survey_1000.sav"
    check_study(bad, ROOT, made_by_workflow=("results/",))  # made by a rule: not checked here


def test_preflight_matches_plan_names_in_any_case_as_ingest_does(config: dict, schema: dict,
                                                                  tmp_path: Path) -> None:
    cfg = prepare(config, schema)
    text = (ROOT / "config/plans/main.yaml").read_text("utf-8")
    shouted = tmp_path / "main.yaml"
    shouted.write_text(text.replace("id: panel_id", "id: PANEL_ID").replace("  D1: sex", "  d1: sex"),
                       "utf-8")
    cfg["surveys"]["main"]["plan"] = str(shouted)
    check_study(cfg, ROOT)  # SPSS names are case-insensitive: PANEL_ID is panel_id
    shouted.write_text(text.replace("id: panel_id", "id: panel_idx"), "utf-8")
    with pytest.raises(UserError, match=r"id names 'panel_idx', which raw/main_survey.sav does not "
                                        r"contain; did you mean 'panel_id'"):
        check_study(cfg, ROOT)
    shouted.write_text(text + "valid_range: {D2x: [16, 99]}\n", "utf-8")
    with pytest.raises(UserError, match=r"valid_range names 'D2x', which raw/main_survey.sav does not "
                                        r"contain; did you mean 'D2'"):
        check_study(cfg, ROOT)



def test_preflight_reads_types_from_the_header(config: dict, schema: dict, tmp_path: Path) -> None:
    """A string or date variable under 'rename' is named before any job runs (metadata only)."""
    cfg = prepare(config, schema)
    plan = yaml.safe_load((ROOT / "config/plans/main.yaml").read_text("utf-8"))
    for var, kind in (("Q8", "a string variable"), ("start_time", "a datetime variable")):
        bad = dict(plan, text={}, rename={**plan["rename"], var: "x"})
        (tmp_path / "main.yaml").write_text(yaml.safe_dump(bad), "utf-8")
        cfg["surveys"]["main"]["plan"] = str(tmp_path / "main.yaml")
        with pytest.raises(UserError, match=rf"rename names '{var}', {kind} of raw/main_survey.sav"):
            check_study(cfg, ROOT)


# ----------------------------------------------------------------------------- buildinfo


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("hello\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "c",
        "--date=2024-01-02T03:04:05Z")
    return tmp_path


def test_build_date_is_the_commit_time_unless_set(repo: Path) -> None:
    commit = int(git(repo, "log", "-1", "--format=%ct"))
    assert commit != FALLBACK_SOURCE_DATE_EPOCH
    assert buildinfo.build_epoch(repo, environ={}) == commit
    assert buildinfo.build_epoch(repo, environ={"SOURCE_DATE_EPOCH": "1234567890"}) == 1234567890


def test_code_version_is_dirty_only_for_what_shapes_outputs(repo: Path) -> None:
    clean = buildinfo.code_version(repo, environ={})
    assert clean and not clean.endswith("-dirty")
    (repo / "README.md").write_text("docs change\n")
    assert buildinfo.code_version(repo, environ={}) == clean
    (repo / "src" / "a.py").write_text("x = 2\n")
    assert buildinfo.code_version(repo, environ={}) == clean + "-dirty"


def test_an_unpacked_bundle_uses_its_pinned_date_and_version(tmp_path: Path) -> None:
    (tmp_path / "environment.json").write_text(json.dumps(
        {"env": {"SOURCE_DATE_EPOCH": "1712345678", "PARENTLINK_CODE_VERSION": "abc1234"}}))
    assert buildinfo.build_epoch(tmp_path, environ={}) == 1712345678
    assert buildinfo.code_version(tmp_path, environ={}) == "abc1234"
    (tmp_path / "environment.json").unlink()
    assert buildinfo.build_epoch(tmp_path, environ={}) == FALLBACK_SOURCE_DATE_EPOCH
    assert buildinfo.code_version(tmp_path, environ={}) == "no git checkout"
