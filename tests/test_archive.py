"""Deposit bundle: manifest, deterministic zip, input redistribution, RO-Crate (fast, offline)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from parentlink import archive as ar

EPOCH = 1_700_000_000
ROOT = Path(__file__).resolve().parents[1]


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


# --------------------------------------------------------------------------- manifest


def test_manifest_roundtrip_and_sha256sum_format(tmp_path):
    _tree(tmp_path, {"b.txt": b"b", "a/x.csv": b"1,2\n", ar.MANIFEST_NAME: b"old"})
    m = ar.build_manifest(tmp_path)
    assert list(m) == ["a/x.csv", "b.txt"]  # sorted, manifest itself left out
    assert m["b.txt"] == "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
    ar.write_manifest(m, tmp_path / ar.MANIFEST_NAME)
    assert ar.read_manifest(tmp_path / ar.MANIFEST_NAME) == m
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "--quiet", "-c", ar.MANIFEST_NAME], cwd=tmp_path, check=True)


def test_compare_manifests_names_every_difference():
    exp = {"results/a.csv": "0" * 64, "results/b.csv": "1" * 64, "reports/c.pdf": "2" * 64,
           "README.md": "3" * 64}
    act = {"results/a.csv": "0" * 64, "results/b.csv": "f" * 64, "results/new.csv": "4" * 64}
    diffs = ar.compare_manifests(exp, act, prefixes=ar.REBUILT_PREFIXES)
    assert [d.split()[0:2] for d in diffs] == [
        ["MISSING", "reports/c.pdf"], ["CHANGED", "results/b.csv"], ["EXTRA", "results/new.csv"]]
    assert ar.compare_manifests(exp, dict(exp)) == []


def test_read_manifest_rejects_garbage(tmp_path):
    (tmp_path / "m").write_text("not a manifest line\n")
    with pytest.raises(ar.ArchiveError, match="not a"):
        ar.read_manifest(tmp_path / "m")


# --------------------------------------------------------------------------- zip


def test_zip_is_deterministic_whatever_the_file_times_and_order(tmp_path):
    files = {"z.txt": b"z" * 1000, "a/b.csv": b"x,y\n", "wheels/p-1.0-py3-none-any.whl": b"PK..",
             "bin/run": b"#!/bin/sh\n"}
    one = _tree(tmp_path / "one", files)
    two = _tree(tmp_path / "two", dict(reversed(list(files.items()))))
    os.chmod(one / "bin/run", 0o755)
    os.chmod(two / "bin/run", 0o775)
    os.chmod(two / "z.txt", 0o600)
    os.utime(two / "a/b.csv", (1, 1))
    z1, z2 = tmp_path / "1.zip", tmp_path / "2.zip"
    ar.write_deterministic_zip(one, z1, EPOCH)
    ar.write_deterministic_zip(two, z2, EPOCH)
    assert z1.read_bytes() == z2.read_bytes()
    with zipfile.ZipFile(z1) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == sorted(files)
        assert {i.date_time for i in infos} == {(2023, 11, 14, 22, 13, 20)}
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in infos}
        assert modes["bin/run"] == 0o755 and modes["z.txt"] == 0o644
        assert zf.getinfo("wheels/p-1.0-py3-none-any.whl").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("z.txt").compress_type == zipfile.ZIP_DEFLATED
    out = tmp_path / "out"
    ar.safe_extract(z1, out)
    assert ar.build_manifest(out) == ar.build_manifest(one)
    assert os.stat(out / "bin/run").st_mode & 0o111


def test_zip_time_clamped_to_1980_and_epoch_required():
    assert ar.zip_date_time(0) == (1980, 1, 1, 0, 0, 0)
    with pytest.raises(ar.ArchiveError, match="SOURCE_DATE_EPOCH"):
        ar.source_date_epoch({})
    assert ar.source_date_epoch({"SOURCE_DATE_EPOCH": "42"}) == 42


def test_safe_extract_refuses_escaping_members(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../escape.txt", b"x")
    with pytest.raises(ar.ArchiveError, match="escapes"):
        ar.safe_extract(z, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


# --------------------------------------------------------------------------- inputs, wheels, pip


def _config(**survey_flags):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text("utf-8"))
    for sid, flag in survey_flags.items():
        cfg["surveys"][sid]["redistributable"] = flag
    return cfg


def test_synthetic_inputs_are_redistributable_by_default():
    plan = ar.plan_inputs(_config())
    assert plan.restricted == [] and plan.excluded_outputs == []
    paths = [i.path for i in plan.inputs]
    assert {"raw/main_survey.sav", "raw/pilot_survey.sav", "config/config.yaml",
            "config/plans/main.yaml", "config/targets/sex.csv"} <= set(paths)
    assert paths[:1] == ["raw/main_survey.sav"]


def test_real_data_stay_out_unless_marked_and_take_row_level_outputs_with_them():
    cfg = _config(main=False)
    cfg["study"]["synthetic"] = False
    cfg["surveys"]["pilot"]["redistributable"] = True
    cfg["documents"].pop("redistributable", None)  # no flag: follows study.synthetic
    plan = ar.plan_inputs(cfg)
    assert {i.path for i in plan.restricted} == {"raw/main_survey.sav", "raw/document_codes.qdpx"}
    assert "results/clean/main.parquet" in plan.excluded_outputs
    assert "results/weights/main_weights.csv" in plan.excluded_outputs
    assert "results/documents/quotes.json" in plan.excluded_outputs
    assert not any("pilot" in p for p in plan.excluded_outputs)
    text = ar.obtain_text(plan, "Study")
    assert "raw/main_survey.sav" in text and "PARENTLINK_PSEUDONYM_KEY" in text


def test_find_dist_normalises_names_and_prefers_wheels(tmp_path):
    for fn in ["PyYAML-6.0.4-cp311-cp311-manylinux_2_17_x86_64.whl", "connection_pool-0.0.3.tar.gz",
               "typing_extensions-4.16.0-py3-none-any.whl", "other-1.0-py3-none-any.whl"]:
        (tmp_path / fn).write_bytes(b"")
    assert ar._find_dist(tmp_path, "pyyaml", "6.0.4", True).name.startswith("PyYAML")
    assert ar._find_dist(tmp_path, "typing-extensions", "4.16.0", True) is not None
    assert ar._find_dist(tmp_path, "connection_pool", "0.0.3", True) is None
    assert ar._find_dist(tmp_path, "connection-pool", "0.0.3", False).name.endswith(".tar.gz")
    assert ar._find_dist(tmp_path, "other", "2.0", False) is None


def test_pip_env_for_verify_cannot_reach_any_index_or_site_config():
    env = ar.clean_pip_env({"PIP_FIND_LINKS": "/opt/wheels", "PIP_EXTRA_INDEX_URL": "x",
                            "PATH": "/bin", "PYTHONPATH": "/elsewhere"})
    assert "PIP_FIND_LINKS" not in env and "PIP_EXTRA_INDEX_URL" not in env
    assert "PYTHONPATH" not in env
    assert env["PIP_CONFIG_FILE"] == os.devnull and env["PIP_NO_INDEX"] == "1"
    assert env["PATH"] == "/bin"


def test_environment_description_has_no_host_or_time():
    env = ar.environment_description(ROOT, EPOCH, {"commit": "c" * 40, "dirty": False},
                                     ROOT / ar.LOCK_PATH)
    assert env["python"]["version"].count(".") == 2
    assert env["key_packages"]["snakemake"] and env["key_packages"]["rocrate"]
    assert {f["family"] for f in env["fonts"]["shipped"]} == {"DejaVu Sans"}
    text = json.dumps(env)
    assert os.uname().nodename not in text
    assert env == ar.environment_description(ROOT, EPOCH, {"commit": "c" * 40, "dirty": False},
                                             ROOT / ar.LOCK_PATH)


# --------------------------------------------------------------------------- RO-Crate


def _staging(tmp_path: Path) -> tuple[Path, ar.Plan, list[str]]:
    cfg = _config(main=False)
    plan = ar.plan_inputs(cfg)
    files = {"Snakefile": b"rule all:\n", ar.ENVIRONMENT_NAME: b"{}", ar.MANIFEST_NAME: b"",
             "wheels/x-1-py3-none-any.whl": b"w"}
    for i in plan.inputs:
        if i.redistributable:
            files[i.path] = (ROOT / i.path).read_bytes()
    outputs = ["results/tables/pilot_estimates.csv", "reports/technical_report.pdf",
               "results/figures/trust.svg"]
    for o in outputs:
        files[o] = o.encode()
    return _tree(tmp_path, files), plan, outputs


META = {"title": "Parental social licence for data linkage for service intervention",
        "version": "0.1.0", "commit": "a" * 40, "date": "2023-11-14T22:13:20Z",
        "description": "test", "agent": "Contributors", "snakemake_version": "9.27.1"}


def test_crate_is_a_workflow_run_crate_naming_every_input_and_output(tmp_path):
    staging, plan, outputs = _staging(tmp_path / "s")
    ar.build_crate(staging, meta=META, plan=plan, outputs=outputs, start="2023-11-14T22:00:00Z",
                   end="2023-11-14T22:01:00Z", times_note="test")
    s = ar.load_crate_summary(staging)
    assert {"https://w3id.org/ro/wfrun/process/0.6", "https://w3id.org/ro/wfrun/workflow/0.6",
            "https://w3id.org/workflowhub/workflow-ro-crate/1.1"} <= set(s["conformsTo"])
    assert s["mainEntity"] == "Snakefile" and s["instrument"] == ["Snakefile"]
    assert {"File", "SoftwareSourceCode", "ComputationalWorkflow"} <= set(s["mainEntity_type"])
    assert set(s["result"]) == set(outputs)
    assert set(s["object_names"]) == {i.path for i in plan.inputs}  # restricted ones by name too
    assert "raw/main_survey.sav" not in s["object"]  # not a data entity: not in the bundle
    assert (s["startTime"], s["endTime"]) == ("2023-11-14T22:00:00Z", "2023-11-14T22:01:00Z")
    assert s["agent"] == ["#agent"]
    doc = json.loads((staging / ar.CRATE_NAME).read_text("utf-8"))
    assert doc["@context"] == ["https://w3id.org/ro/crate/1.3/context", ar.WFRUN_CONTEXT]
    lang = next(e for e in doc["@graph"] if e["@id"].endswith("#snakemake"))
    assert lang["version"] == "9.27.1"


def test_crate_bytes_do_not_depend_on_the_run(tmp_path):
    blobs = []
    for n in ("a", "b"):
        staging, plan, outputs = _staging(tmp_path / n)
        ar.build_crate(staging, meta=META, plan=plan, outputs=outputs, start="x", end="y",
                       times_note="t")
        blobs.append((staging / ar.CRATE_NAME).read_bytes())
    assert blobs[0] == blobs[1]


# ---------------------------------------------------------------- whole bundle, tiny project


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_AUTHOR_DATE": "@1700000000 +0000", "GIT_COMMITTER_DATE": "@1700000000 +0000"}
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env, check=True,
                   capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_bundle_of_a_tiny_project_is_complete_checked_and_reproducible(tmp_path):
    proj = tmp_path / "proj"
    cfg = _config()
    cfg["surveys"]["main"]["redistributable"] = False  # as if the main survey were real
    files = {"Snakefile": b"rule all:\n    input: []\n",
             "pyproject.toml": b'[project]\nname = "tiny"\nversion = "1.2.3"\n',
             "env/requirements.lock": b"# lock\nfoo==1.0\n",
             "config/config.yaml": yaml.safe_dump(cfg).encode(),
             "CITATION.cff": b"cff-version: 1.2.0\n", ".zenodo.json": b"{}\n",
             "src/tiny/__init__.py": b""}
    for i in ar.plan_inputs(cfg).inputs:
        if i.path != "config/config.yaml":
            files[i.path] = (ROOT / i.path).read_bytes()
    _tree(proj, files)
    _git(proj, "init", "-q")
    _git(proj, "add", "-A")
    _git(proj, "commit", "-q", "-m", "tiny")
    outputs = {"results/tables/pilot_estimates.csv": b"a\n",
               "reports/technical_report.pdf": b"%PDF",
               "reports/appendix/pilot_tables.pdf": b"%PDF",
               "results/clean/main.parquet": b"rows", "results/archive/old.zip": b"no"}
    _tree(proj, outputs)
    (proj / ".gitignore").write_text("results/\nreports/\n")
    _git(proj, "add", ".gitignore")
    _git(proj, "commit", "-q", "-m", "ignore")
    cache = tmp_path / "cache"
    _tree(cache, {"foo-1.0-py3-none-any.whl": b"wheel"})
    zips = []
    for n in (1, 2):
        res = ar.build_bundle(proj, tmp_path / f"out{n}" / "tiny-1.2.3.zip", cfg,
                              snakemake_cmd=["false"], wheel_cache=cache, epoch=EPOCH,
                              make_report=False)
        zips.append(res.zip_path)
    assert zips[0].read_bytes() == zips[1].read_bytes()
    assert res.excluded_inputs == ["raw/main_survey.sav"]
    with zipfile.ZipFile(zips[0]) as zf:
        names = set(zf.namelist())
    assert {"Snakefile", "CITATION.cff", ".zenodo.json", ar.CRATE_NAME, ar.MANIFEST_NAME,
            ar.ENVIRONMENT_NAME, ar.OBTAIN_NAME, "wheels/foo-1.0-py3-none-any.whl",
            "raw/pilot_survey.sav", "env/requirements.lock", "config/config.yaml",
            "results/tables/pilot_estimates.csv", "reports/technical_report.pdf",
            "reports/appendix/pilot_tables.pdf"} <= names
    assert "raw/main_survey.sav" not in names          # restricted input (even though committed)
    assert "results/clean/main.parquet" not in names   # row-level output of it
    assert not any(n.startswith("results/archive/") for n in names)
    out = tmp_path / "unpacked"
    ar.safe_extract(zips[0], out)
    assert ar.check_bundle(out) == []
    (out / "results/tables/pilot_estimates.csv").write_bytes(b"tampered\n")
    assert [d.split()[0] for d in ar.check_bundle(out)] == ["CHANGED"]
    s = ar.load_crate_summary(zips[0])  # rocrate loads the zip itself
    assert set(s["result"]) == {"results/tables/pilot_estimates.csv",
                                "reports/technical_report.pdf",
                                "reports/appendix/pilot_tables.pdf"}
    assert "raw/main_survey.sav" in s["object_names"]
    assert s["startTime"] == s["endTime"] == "2023-11-14T22:13:20Z"  # no job times: the epoch


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_bundle_refuses_uncommitted_changes(tmp_path):
    proj = _tree(tmp_path / "p", {"Snakefile": b"", "pyproject.toml":
                                  b'[project]\nname = "t"\nversion = "1"\n'})
    _git(proj, "init", "-q")
    _git(proj, "add", "-A")
    _git(proj, "commit", "-q", "-m", "x")
    (proj / "Snakefile").write_text("changed")
    with pytest.raises(ar.ArchiveError, match="Commit first"):
        ar.build_bundle(proj, tmp_path / "x.zip", _config(), snakemake_cmd=["false"],
                        wheel_cache=tmp_path / "c", epoch=EPOCH, make_report=False)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_untracked_logs_and_caches_do_not_count_as_uncommitted_code(tmp_path):
    proj = _tree(tmp_path / "p", {"Snakefile": b"", "src/a.py": b""})
    _git(proj, "init", "-q")
    _git(proj, "add", "-A")
    _git(proj, "commit", "-q", "-m", "x")
    _tree(proj, {"logs/x.log": b"", ".cache/wheels/a.whl": b""})
    assert ar.git_state(proj)["dirty"] is False
    _tree(proj, {"workflow/rules/new.smk": b""})
    state = ar.git_state(proj)
    assert state["dirty"] is True and state["uncommitted"] == ["?? workflow/rules/new.smk"]


def test_workflow_outputs_leave_out_used_temporary_files(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The ingest stage's open text is a temporary file, deleted once cleaning has read it: the
    bundle neither needs nor lists it."""
    import subprocess as sp

    from parentlink import archive as ar
    summary = ("output_file\tdate\trule\tlog-file(s)\tstatus\tplan\n"
               "results/ingest/main.parquet\tMon\tingest\tlogs/i.log\tok\tno update\n"
               "results/ingest/main_text.parquet\t-\tingest\tlogs/i.log\tremoved temp file\t"
               "no update\n")
    monkeypatch.setattr(ar.subprocess, "run", lambda *a, **k: sp.CompletedProcess(a, 0, summary, ""))
    assert ar.workflow_outputs(tmp_path, ["snakemake"]) == ["results/ingest/main.parquet"]
