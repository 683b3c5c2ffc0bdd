"""Deposit bundle: one zip that rebuilds the same bytes offline.

`build_bundle` stages, in a temporary folder, the code at the built commit (``git archive``), the
config, the raw inputs that config marks redistributable (instructions to obtain the others), the
results and reports, the Snakemake HTML report, the pinned lock with a wheel of every dependency,
a description of the environment, CITATION.cff, .zenodo.json, an RO-Crate
(Workflow Run Crate 0.6) and a SHA-256 manifest of every file; then writes a deterministic zip
(sorted entries, timestamps from SOURCE_DATE_EPOCH, fixed permissions).

`verify_bundle` unpacks a bundle in a temporary folder, checks every file against the manifest,
installs the environment with no network from the bundled wheels, rebuilds the workflow and
compares every file under results/ and reports/ with the manifest.

Command line::

    python -m parentlink.archive verify results/archive/parentlink-0.1.0.zip
    python -m parentlink.archive check  results/archive/parentlink-0.1.0.zip   # manifest only
    python -m parentlink.archive manifest DIR                                   # print a manifest
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path, PurePosixPath
from typing import Any

from parentlink.errors import UserError

MANIFEST_NAME = "MANIFEST.sha256"
ENVIRONMENT_NAME = "environment.json"
OBTAIN_NAME = "OBTAIN_DATA.md"
REPORT_NAME = "snakemake-report.html"
CRATE_NAME = "ro-crate-metadata.json"
WHEELS_DIR = "wheels"
LOCK_PATH = "env/requirements.lock"
# Files the rebuild must reproduce byte for byte.
REBUILT_PREFIXES = ("results/", "reports/")
# Never part of a bundle: the bundles themselves, caches, engine state.
EXCLUDED_PREFIXES = ("results/archive/", ".snakemake/", ".cache/", ".venv/", "logs/")
# Untracked files here make a working tree "dirty" (they could change the results).
CODE_PREFIXES = ("Snakefile", "workflow/", "src/", "config/", "raw/", "env/", "pyproject.toml")
# Members stored without compression (already compressed); everything else is deflated.
STORED_SUFFIXES = (".whl", ".zip", ".gz", ".tgz", ".xz", ".bz2", ".qdpx", ".xlsx")
ZIP_EPOCH_MIN = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold
KEY_PACKAGES = (
    "snakemake", "pandas", "numpy", "pyarrow", "pyreadstat", "scipy", "matplotlib", "weasyprint",
    "pydyf", "fonttools", "pikepdf", "openpyxl", "Jinja2", "PyYAML", "jsonschema", "rocrate",
)
# Row-level outputs: derived from the microdata, so they follow the redistribution status of the
# survey (or document corpus) they come from. Patterns use {survey}.
ROW_LEVEL_OUTPUTS = (
    "results/ingest/{survey}.parquet",
    "results/ingest/{survey}_meta.json",
    "results/clean/{survey}.parquet",
    "results/clean/{survey}_text.parquet",
    "results/clean/{survey}.sav",
    "results/weights/{survey}_weights.csv",
)
# The comments proposed for quoting (free text, before a researcher's approval).
QUOTE_CANDIDATES = "results/review/quote_candidates.json"
DOCUMENT_ROW_LEVEL_OUTPUTS = ("results/documents/segments.csv", "results/documents/quotes.json")
PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.6": "Process Run Crate",
    "https://w3id.org/ro/wfrun/workflow/0.6": "Workflow Run Crate",
}
WFRUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"


class ArchiveError(UserError):
    """A problem the user can fix; the message says what to do."""


# --------------------------------------------------------------------------- hashing, manifest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def list_files(root: Path) -> list[str]:
    """Every regular file under root as a sorted POSIX relative path (symlinks followed)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_file():
                out.append(p.relative_to(root).as_posix())
    return sorted(out)


def build_manifest(root: Path, exclude: Iterable[str] = (MANIFEST_NAME,)) -> dict[str, str]:
    skip = set(exclude)
    return {rel: sha256_file(root / rel) for rel in list_files(root) if rel not in skip}


def format_manifest(manifest: Mapping[str, str]) -> str:
    """`sha256sum -c` compatible: one `<hex>  <path>` line per file, sorted by path."""
    return "".join(f"{manifest[p]}  {p}\n" for p in sorted(manifest))


def write_manifest(manifest: Mapping[str, str], path: Path) -> None:
    path.write_text(format_manifest(manifest), encoding="utf-8", newline="\n")


def read_manifest(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ArchiveError(f"{path}:{n}: not a `<sha256>  <path>` line: {line!r}")
        out[rel] = digest
    return out


def compare_manifests(expected: Mapping[str, str], actual: Mapping[str, str],
                      prefixes: Sequence[str] | None = None) -> list[str]:
    """Differences as readable lines (empty list: identical). With prefixes, only those paths."""
    def keep(p: str) -> bool:
        return prefixes is None or p.startswith(tuple(prefixes))

    exp = {p: h for p, h in expected.items() if keep(p)}
    act = {p: h for p, h in actual.items() if keep(p)}
    diffs = []
    for p in sorted(set(exp) | set(act)):
        if p not in act:
            diffs.append(f"MISSING  {p}  (manifest {exp[p][:16]}…, not produced)")
        elif p not in exp:
            diffs.append(f"EXTRA    {p}  (not in the manifest)")
        elif exp[p] != act[p]:
            diffs.append(f"CHANGED  {p}  manifest {exp[p][:16]}… rebuilt {act[p][:16]}…")
    return diffs


# --------------------------------------------------------------------------- deterministic zip


def source_date_epoch(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    raw = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        raise ArchiveError("SOURCE_DATE_EPOCH is not set: run through `make archive` (it sets it "
                           "from the commit time) or export it.")
    try:
        return int(raw)
    except ValueError:
        raise ArchiveError(f"SOURCE_DATE_EPOCH={raw!r} is not an integer number of "
                           "seconds.") from None


def zip_date_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(max(epoch, ZIP_EPOCH_MIN))
    return (min(t.tm_year, 2107), t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2)


def write_deterministic_zip(src_dir: Path, out_zip: Path, epoch: int) -> int:
    """Zip every file under src_dir: sorted names, one fixed timestamp, 0644/0755, no directory
    entries, no extra fields. Returns the number of members. Written atomically."""
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_zip.with_name(out_zip.name + ".part")
    date_time = zip_date_time(epoch)
    names = list_files(src_dir)
    with zipfile.ZipFile(tmp, "w") as zf:
        for rel in names:
            path = src_dir / rel
            info = zipfile.ZipInfo(rel, date_time=date_time)
            info.create_system = 3  # unix, so the permission bits below are honoured
            mode = 0o755 if os.stat(path).st_mode & stat.S_IXUSR else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            if rel.lower().endswith(STORED_SUFFIXES):
                info.compress_type = zipfile.ZIP_STORED
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, out_zip)
    return len(names)


def safe_extract(zip_path: Path, dest: Path) -> None:
    """Extract, refusing absolute paths and `..`; restores the executable bit."""
    dest = dest.resolve()
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if dest not in target.parents and target != dest:
                raise ArchiveError(f"{zip_path}: member {info.filename!r} escapes the bundle")
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode)


# --------------------------------------------------------------------------- git


def git(project: Path, *args: str) -> str:
    try:
        res = subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True,
                             text=True)
    except FileNotFoundError:
        raise ArchiveError("git is not installed: the bundle takes its code from git.") from None
    except subprocess.CalledProcessError as err:
        raise ArchiveError(f"git {' '.join(args)} failed in {project}: {err.stderr.strip()} "
                           "(the bundle takes its code from a git commit).") from None
    return res.stdout


def git_state(project: Path) -> dict[str, Any]:
    commit = git(project, "rev-parse", "HEAD").strip()
    status = git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    # Modified tracked files, and untracked files where the workflow reads code or inputs, make
    # the results differ from the commit; other untracked files (logs, caches) do not.
    relevant = [line for line in status if not line.startswith("??")
                or line[3:].strip('"').startswith(CODE_PREFIXES)]
    # What the reports print as their code version (workflow/rules/common.smk code_version()); the rebuild
    # of an unpacked bundle (no .git) gets it through PARENTLINK_CODE_VERSION.
    describe = git(project, "describe", "--always", "--tags", "--dirty").strip()
    return {"commit": commit, "describe": describe,
            "commit_time": int(git(project, "log", "-1", "--format=%ct", commit).strip()),
            "dirty": bool(relevant), "uncommitted": relevant}


def export_commit(project: Path, commit: str, dest: Path) -> list[str]:
    """The tree of `commit` (git archive: honours export-ignore) unpacked into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        tar = Path(td) / "code.tar"
        with open(tar, "wb") as f:
            subprocess.run(["git", "-C", str(project), "archive", "--format=tar", commit],
                           check=True, stdout=f)
        with tarfile.open(tar) as tf:
            try:
                tf.extractall(dest, filter="data")
            except tarfile.FilterError as err:
                raise ArchiveError(f"commit {commit[:12]} holds a file the bundle cannot carry "
                                   f"({err}): remove it from git.") from None
    return list_files(dest)


# --------------------------------------------------------------------------- what goes in


@dataclass
class Input:
    path: str                 # as written in config (relative to the project, or absolute)
    kind: str                 # "survey" | "documents" | "config"
    name: str                 # survey id, "documents", or the config file's role
    redistributable: bool
    label: str = ""


@dataclass
class Plan:
    inputs: list[Input]
    excluded_outputs: list[str] = field(default_factory=list)

    @property
    def restricted(self) -> list[Input]:
        return [i for i in self.inputs if not i.redistributable]


def plan_inputs(config: Mapping[str, Any], config_path: str = "config/config.yaml") -> Plan:
    """Inputs and whether each may be redistributed. Unmarked raw data default to the study's
    `synthetic` flag: synthetic data go in, real data never go in unless marked true."""
    synthetic = bool(config.get("study", {}).get("synthetic", False))
    inputs: list[Input] = []
    excluded_outputs: list[str] = []
    for sid in sorted(config["surveys"]):
        s = config["surveys"][sid]
        ok = bool(s.get("redistributable", synthetic))
        inputs.append(Input(s["raw"], "survey", sid, ok, s.get("label", "")))
        if str(s["raw"]).lower().endswith(".csv"):
            inputs.append(Input(s["raw"] + ".meta.json", "survey", sid, ok, "metadata sidecar"))
        if not ok:
            excluded_outputs += [p.format(survey=sid) for p in ROW_LEVEL_OUTPUTS]
            if sid == config.get("quotes.survey", (config.get("quotes") or {}).get("survey")):
                excluded_outputs.append(QUOTE_CANDIDATES)
    docs = config.get("documents")
    if docs:  # a study with a document analysis
        ok = bool(docs.get("redistributable", synthetic))
        inputs.append(Input(docs["source"], "documents", "documents", ok, "coded document corpus"))
        if not ok:
            excluded_outputs += list(DOCUMENT_ROW_LEVEL_OUTPUTS)
    inputs.append(Input(config_path, "config", "config", True, "study configuration"))
    inputs.append(Input(str(Path(config_path).with_name("report.yaml")), "config", "report", True,
                        "what the study's documents say (findings, charts, documents)"))
    inputs.append(Input("config/schema.json", "config", "schema", True, "configuration schema"))
    for sid in sorted(config["surveys"]):
        inputs.append(Input(config["surveys"][sid]["plan"], "config", f"plan-{sid}", True,
                            f"cleaning plan of the {sid} survey"))
    for t in (config.get("weighting") or {}).get("targets", []):
        inputs.append(Input(t, "config", "target", True, "raking margin"))
    seen: set[str] = set()
    uniq = [i for i in inputs if not (i.path in seen or seen.add(i.path))]  # type: ignore[func-returns-value]
    return Plan(uniq, sorted(set(excluded_outputs)))


def obtain_text(plan: Plan, study_title: str, key_env: str = "PARENTLINK_PSEUDONYM_KEY") -> str:
    lines = [f"# Inputs not in this bundle — {study_title}", "",
             "These inputs are real data that may not be redistributed. The bundle has the code, "
             "config and checksums of everything else; to rebuild, obtain each file below, put it "
             "at the path shown (or change the path in `config/config.yaml`), then follow "
             "`docs/archive.md`.", ""]
    for i in plan.restricted:
        lines.append(f"- `{i.path}` — {i.kind} `{i.name}`{': ' + i.label if i.label else ''}. "
                     "Apply to the data controller named in the study's data access statement.")
    if plan.excluded_outputs:
        lines += ["", "Row-level outputs derived from these data are left out as well:", ""]
        lines += [f"- `{p}`" for p in plan.excluded_outputs]
    lines += ["", f"Pseudonyms are keyed: set the same `{key_env}` as the original "
              "run (obtain it from the data controller) or the row-level outputs will differ.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- environment


def _font_info(path: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"file": path.name, "sha256": sha256_file(path)}
    try:
        from fontTools.ttLib import TTFont

        with TTFont(str(path), lazy=True) as f:
            names = f["name"]
            info["family"] = str(names.getDebugName(1))
            info["style"] = str(names.getDebugName(2))
            info["version"] = str(names.getDebugName(5))
    except Exception:  # noqa: BLE001 - description only
        pass
    return info


def environment_description(project: Path, epoch: int, git_info: Mapping[str, Any] | None = None,
                            lock: Path | None = None) -> dict[str, Any]:
    """Python, OS, key package versions, every installed distribution and the fonts the outputs
    use. No host names, user names or times: two archives from one machine describe it alike."""
    try:
        os_release = platform.freedesktop_os_release()
        os_name = os_release.get("PRETTY_NAME", "")
    except OSError:
        os_name = ""
    dists = sorted({(d.metadata["Name"], d.version) for d in importlib_metadata.distributions()
                    if d.metadata["Name"]}, key=lambda x: x[0].lower())
    installed = {n: v for n, v in dists}
    lower = {n.lower(): v for n, v in installed.items()}
    locked: dict[str, str] = {}
    if lock is not None and lock.is_file():
        for line in lock.read_text("utf-8").splitlines():
            if "==" in line and not line.lstrip().startswith("#"):
                n, v = line.split("==", 1)
                locked[n.strip()] = v.strip()
    mismatches = {n: {"locked": v, "installed": lower.get(n.lower())} for n, v in locked.items()
                  if lower.get(n.lower()) != v}
    fonts_dir = project / "workflow" / "fonts"
    fonts = ([_font_info(p) for p in sorted(fonts_dir.glob("*.[ot]tf"))]
             if fonts_dir.is_dir() else [])
    return {
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "executable_note": "a venv made with `python -m venv` from this version"},
        "os": {"system": platform.system(), "release": platform.release(), "name": os_name,
               "machine": platform.machine(), "libc": " ".join(platform.libc_ver())},
        "source_date_epoch": epoch,
        "source_date": dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z"),
        "git": {k: v for k, v in (git_info or {}).items() if k != "uncommitted"},
        "key_packages": {n: lower.get(n.lower()) for n in KEY_PACKAGES},
        "installed": installed,
        "lock_mismatches": mismatches,
        "fonts": {"shipped": fonts,
                  "note": "PDFs embed subsets of the shipped fonts (@font-face); charts draw text "
                          "as paths with the same font. No system font is used."},
        "rebuild": {"command": "snakemake --cores all",
                    "env": {"SOURCE_DATE_EPOCH": str(epoch),
                            **({"PARENTLINK_CODE_VERSION": git_info["describe"]}
                               if git_info and git_info.get("describe") else {})}},
    }


# --------------------------------------------------------------------------- wheels


def collect_wheels(lock: Path, cache: Path, dest: Path, python: str = sys.executable) -> list[str]:
    """A wheel for every line of the lock, cached in `cache` (downloaded once with pip, sdists
    built into wheels once), copied into dest. Needs the package registry only to fill the cache."""
    cache.mkdir(parents=True, exist_ok=True)
    wanted = _lock_entries(lock)
    missing = [f"{n}=={v}" for n, v in wanted if _find_dist(cache, n, v, wheel_only=False) is None]
    if missing:
        req = cache / ".missing-requirements.txt"
        req.write_text("\n".join(missing) + "\n", encoding="utf-8")
        subprocess.run([python, "-m", "pip", "download", "--no-deps", "--prefer-binary",
                        "-r", str(req), "-d", str(cache)], check=True)
        req.unlink()
    for n, v in wanted:
        if _find_dist(cache, n, v, wheel_only=True) is None:
            sdist = _find_dist(cache, n, v, wheel_only=False)
            if sdist is None:
                raise ArchiveError(f"no wheel or sdist of {n}=={v} in {cache}")
            subprocess.run([python, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
                            str(sdist), "-w", str(cache)], check=True)
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for n, v in wanted:
        whl = _find_dist(cache, n, v, wheel_only=True)
        if whl is None:
            raise ArchiveError(f"no wheel of {n}=={v} could be made in {cache}")
        shutil.copy2(whl, dest / whl.name)
        copied.append(whl.name)
    return sorted(copied)


def _lock_entries(lock: Path) -> list[tuple[str, str]]:
    out = []
    for line in lock.read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            n, v = line.split("==", 1)
            out.append((n.strip(), v.split(";", 1)[0].strip()))
    return out


def _norm(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _find_dist(cache: Path, name: str, version: str, wheel_only: bool) -> Path | None:
    n = _norm(name)
    wheels, sdists = [], []
    for p in sorted(cache.iterdir()):
        fn = p.name
        if fn.endswith(".whl"):
            parts = fn[:-4].split("-")
            if _norm(parts[0]) == n and parts[1] == version:
                wheels.append(p)
        elif fn.endswith((".tar.gz", ".zip", ".tar.bz2")):
            base = fn.rsplit(".tar", 1)[0] if ".tar" in fn else fn[:-4]
            dname, _, dver = base.rpartition("-")
            if _norm(dname) == n and dver == version:
                sdists.append(p)
    if wheels:
        return wheels[0]
    if wheel_only:
        return None
    return sdists[0] if sdists else None


# --------------------------------------------------------------------------- outputs, times


def workflow_outputs(project: Path, snakemake_cmd: Sequence[str]) -> list[str] | None:
    """Files the workflow's default target makes and keeps (from `snakemake --summary`; a
    temporary file its consumers have used, such as the ingest stage's open text, is not one),
    or None."""
    try:
        res = subprocess.run([*snakemake_cmd, "--nolock", "--summary", "--quiet", "all"],
                             cwd=project, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    files = []
    for line in res.stdout.splitlines():
        cells = line.split("\t")
        first = cells[0].strip()
        if len(cells) > 4 and cells[4].strip() == "removed temp file":
            continue
        if first and first != "output_file" and "\t" in line:
            files.append(first)
    return sorted(set(files)) or None


def run_times(project: Path, outputs: Iterable[str]) -> tuple[float, float] | None:
    """Earliest start and latest end among the jobs that made `outputs` (Snakemake metadata)."""
    import base64

    meta_dir = project / ".snakemake" / "metadata"
    starts, ends = [], []
    for rel in outputs:
        f = meta_dir / base64.urlsafe_b64encode(rel.encode()).decode()
        try:
            rec = json.loads(f.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if rec.get("starttime"):
            starts.append(float(rec["starttime"]))
        if rec.get("endtime"):
            ends.append(float(rec["endtime"]))
    if not starts or not ends:
        return None
    return min(starts), max(ends)


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- RO-Crate


MEDIA_TYPES = {
    ".csv": "text/csv", ".json": "application/json", ".parquet": "application/vnd.apache.parquet",
    ".pdf": "application/pdf", ".svg": "image/svg+xml", ".html": "text/html",
    ".sav": "application/x-spss-sav", ".xlsx":
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".yaml": "application/yaml",
    ".qdpx": "application/zip", ".txt": "text/plain", ".md": "text/markdown",
}


def _media(rel: str) -> str | None:
    return MEDIA_TYPES.get(PurePosixPath(rel).suffix.lower())


def build_crate(staging: Path, *, meta: Mapping[str, Any], plan: Plan, outputs: Sequence[str],
                start: str, end: str, times_note: str) -> Path:
    """Write ro-crate-metadata.json (Workflow Run Crate 0.6 on RO-Crate 1.3) into staging."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    crate = ROCrate(version="1.3")
    crate.metadata.extra_contexts.append(WFRUN_CONTEXT)
    root = crate.root_dataset
    root["name"] = f"{meta['title']} — deposit bundle of the reproducible pipeline"
    root["description"] = meta["description"]
    root["datePublished"] = meta["date"]
    root["version"] = meta["version"]
    lic = crate.add(ContextEntity(crate, "https://spdx.org/licenses/MIT",
                                  properties={"@type": "CreativeWork", "name": "MIT License",
                                              "identifier": "MIT"}))
    root["license"] = lic
    funder = crate.add(ContextEntity(crate, "#funder-esrc", properties={
        "@type": "Organization", "name": "Economic and Social Research Council"}))
    grant = crate.add(ContextEntity(crate, "#grant-ES-T001623-1", properties={
        "@type": "Grant", "name": "ESRC grant ES/T001623/1", "identifier": "ES/T001623/1",
        "funder": funder}))
    root["funding"] = grant
    agent = crate.add(ContextEntity(crate, "#agent", properties={
        "@type": "Organization", "name": meta["agent"]}))
    root["creator"] = agent

    wf = crate.add_workflow(staging / "Snakefile", dest_path="Snakefile", main=True,
                            lang="snakemake", lang_version=meta["snakemake_version"],
                            properties={"name": f"{meta['title']} (Snakemake workflow)",
                                        "version": meta["commit"]})
    for pid, pname in PROFILES.items():
        ent = crate.add(ContextEntity(crate, pid, properties={
            "@type": "CreativeWork", "name": pname, "version": "0.6"}))
        root.append_to("conformsTo", ent)

    def add_file(rel: str, **props: Any) -> Any:
        existing = crate.get(rel)
        if existing is not None:
            return existing
        p = {k: v for k, v in props.items() if v is not None}
        fmt = _media(rel)
        if fmt:
            p.setdefault("encodingFormat", fmt)
        full = staging / rel
        if full.is_file():
            p.setdefault("contentSize", str(full.stat().st_size))
            p.setdefault("sha256", sha256_file(full))
        return crate.add_file(full, dest_path=rel, properties=p)

    objects = []
    for i in plan.inputs:
        if i.redistributable:
            objects.append(add_file(i.path, name=i.path, description=(
                f"{i.kind} input `{i.name}`{': ' + i.label if i.label else ''}")))
        else:
            objects.append(crate.add(ContextEntity(
                crate, f"#restricted-{i.kind}-{i.name}", properties={
                    "@type": "CreativeWork", "name": i.path,
                    "description": f"{i.kind} input `{i.name}` ({i.label}): not redistributable, "
                                   f"not in this bundle; see {OBTAIN_NAME}."})))
    results = [add_file(rel, name=rel) for rel in outputs]
    action = crate.add_action(wf, identifier=f"#run-{meta['commit'][:12]}", object=objects,
                              result=results, properties={
                                  "@type": "CreateAction",
                                  "name": f"Run of the workflow at commit {meta['commit'][:12]}",
                                  "description": times_note,
                                  "startTime": start, "endTime": end, "agent": agent,
                                  "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"},
                              })
    root.append_to("mentions", action)
    extras = [(ENVIRONMENT_NAME, "Environment of the build: Python, OS, packages, fonts"),
              (REPORT_NAME, "Snakemake HTML report of the run"),
              (LOCK_PATH, "Pinned lock of every Python package"),
              ("CITATION.cff", "How to cite"), (".zenodo.json", "Zenodo deposit metadata"),
              (OBTAIN_NAME, "How to obtain the inputs that are not redistributable")]
    for rel, desc in extras:
        if (staging / rel).is_file():
            ent = add_file(rel, name=rel, description=desc)
            if rel in (ENVIRONMENT_NAME, REPORT_NAME):
                ent["about"] = action
    for d, desc in [(WHEELS_DIR, "A wheel of every package in the lock, for offline install"),
                    ("src", "The parentlink package"),
                    ("workflow", "Rules, scripts, templates, fonts"),
                    ("tests", "Tests"), ("docs", "Documentation")]:
        if (staging / d).is_dir():
            crate.add_dataset(staging / d, dest_path=d + "/", properties={"name": d,
                                                                         "description": desc})
    crate.metadata.write(staging)
    return staging / CRATE_NAME


def load_crate_summary(source: Path | str) -> dict[str, Any]:
    """Load a crate (folder or zip) with rocrate; the parts a reader needs."""
    from rocrate.rocrate import ROCrate

    crate = ROCrate(source)
    actions = [e for e in crate.contextual_entities if "CreateAction" in _types(e)]
    if not actions:
        raise ArchiveError(f"{source}: no CreateAction in the crate")
    action = actions[0]

    def ids(v: Any) -> list[str]:
        vs = v if isinstance(v, list) else ([v] if v is not None else [])
        return [x.id if hasattr(x, "id") else str(x) for x in vs]

    def names(v: Any) -> list[str]:
        vs = v if isinstance(v, list) else ([v] if v is not None else [])
        return [str(x.get("name", x.id)) for x in vs]

    return {
        "conformsTo": sorted(ids(crate.root_dataset.get("conformsTo"))),
        "mainEntity": crate.mainEntity.id if crate.mainEntity is not None else None,
        "mainEntity_type": _types(crate.mainEntity) if crate.mainEntity is not None else [],
        "instrument": ids(action.get("instrument")),
        "object": ids(action.get("object")), "object_names": names(action.get("object")),
        "result": ids(action.get("result")),
        "startTime": action.get("startTime"), "endTime": action.get("endTime"),
        "agent": ids(action.get("agent")),
    }


def _types(e: Any) -> list[str]:
    t = e.type if hasattr(e, "type") else e.get("@type")
    return list(t) if isinstance(t, list) else [t]


# --------------------------------------------------------------------------- bundle


@dataclass
class BundleResult:
    zip_path: Path
    files: int
    size: int
    excluded_inputs: list[str]
    excluded_outputs: list[str]
    warnings: list[str]


def project_name_version(project: Path) -> tuple[str, str]:
    import tomllib

    data = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))
    return data["project"]["name"], data["project"]["version"]


def build_bundle(project: Path, out_zip: Path, config: Mapping[str, Any], *,
                 snakemake_cmd: Sequence[str], wheel_cache: Path, epoch: int | None = None,
                 allow_dirty: bool = False, make_report: bool = True,
                 contract_outputs: Sequence[str] = ()) -> BundleResult:
    project = project.resolve()
    epoch = source_date_epoch() if epoch is None else epoch
    warnings: list[str] = []
    gi = git_state(project)
    if gi["dirty"]:
        msg = ("the working tree differs from commit " + gi["commit"][:12] + " (" +
               "; ".join(gi["uncommitted"][:8]) + (" …" if len(gi["uncommitted"]) > 8 else "") +
               "): the bundle holds the committed code, so results built from uncommitted "
               "changes would not verify")
        if not allow_dirty:
            raise ArchiveError(msg + ". Commit first (or set PARENTLINK_ARCHIVE_ALLOW_DIRTY=1).")
        warnings.append("WARNING: " + msg)
    plan = plan_inputs(config)
    name, version = project_name_version(project)
    with tempfile.TemporaryDirectory(prefix="parentlink-bundle-") as td:
        staging = Path(td) / "bundle"
        code_files = export_commit(project, gi["commit"], staging)
        # No real data: drop restricted inputs even if someone committed them.
        for i in plan.restricted:
            p = staging / i.path
            if not Path(i.path).is_absolute() and p.is_file():
                p.unlink()
                warnings.append(f"WARNING: {i.path} is committed to git but marked not "
                                "redistributable: left out of the bundle (remove it from git).")
        for i in plan.inputs:
            if not i.redistributable:
                continue
            if Path(i.path).is_absolute() or ".." in Path(i.path).parts:
                raise ArchiveError(f"input {i.path} is marked redistributable but lies outside the "
                                   "project: copy it under raw/ and point config at it.")
            src = project / i.path
            if not src.is_file():
                raise ArchiveError(f"input {i.path} is missing: run the workflow first.")
            if i.path not in code_files:
                warnings.append(f"WARNING: input {i.path} is not committed to git; copied from "
                                "the working tree.")
                (staging / i.path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, staging / i.path)
            elif sha256_file(src) != sha256_file(staging / i.path):
                warnings.append(f"WARNING: {i.path} differs from its committed version; the "
                                "bundle holds the committed one.")
        for meta_file in ("CITATION.cff", ".zenodo.json"):
            if meta_file not in code_files and (project / meta_file).is_file():
                warnings.append(f"WARNING: {meta_file} is not committed; copied from the "
                                "working tree.")
                shutil.copy2(project / meta_file, staging / meta_file)
        if plan.restricted:
            text = obtain_text(plan, config["study"]["title"],
                               config["privacy"]["pseudonym_key_env"])
            (staging / OBTAIN_NAME).write_text(text, encoding="utf-8")
        # Results and reports: what the workflow makes, minus row-level data of restricted inputs.
        made = workflow_outputs(project, snakemake_cmd)
        on_disk = [f"{d}/{p}" for d in ("results", "reports") if (project / d).is_dir()
                   for p in list_files(project / d)]
        on_disk = [p for p in on_disk if not p.startswith(EXCLUDED_PREFIXES)]
        if made is not None:
            stray = sorted(set(on_disk) - set(made))
            if stray:
                warnings.append("WARNING: left out files the workflow does not make (stale?): "
                                + ", ".join(stray[:10]) + (" …" if len(stray) > 10 else ""))
            outputs = sorted(p for p in made if p.startswith(REBUILT_PREFIXES)
                             and not p.startswith(EXCLUDED_PREFIXES))
        else:
            warnings.append("WARNING: `snakemake --summary` failed; bundling every file under "
                            "results/ and reports/.")
            outputs = on_disk
        missing = [p for p in list(outputs) + list(contract_outputs) if not (project / p).is_file()]
        if missing:
            raise ArchiveError("outputs missing (run `make` first): " + ", ".join(missing[:10]))
        outputs = [p for p in outputs if p not in set(plan.excluded_outputs)]
        for rel in outputs:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project / rel, staging / rel)
        if make_report:
            rep = subprocess.run([*snakemake_cmd, "--nolock", "--quiet", "all", "--report",
                                  str(staging / REPORT_NAME)], cwd=project, capture_output=True,
                                 text=True)
            if rep.returncode != 0 or not (staging / REPORT_NAME).is_file():
                raise ArchiveError("snakemake --report failed: " + rep.stderr.strip()[-2000:])
        collect_wheels(project / LOCK_PATH, wheel_cache, staging / WHEELS_DIR)
        env = environment_description(project, epoch, gi, project / LOCK_PATH)
        (staging / ENVIRONMENT_NAME).write_text(json.dumps(env, indent=2, sort_keys=True) + "\n",
                                                encoding="utf-8")
        stale = [rel for rel in outputs
                 if (t := run_times(project, [rel])) is not None and t[1] < gi["commit_time"]]
        if stale:
            warnings.append(
                f"WARNING: {len(stale)} output(s) were made before commit {gi['commit'][:12]} "
                f"(e.g. {', '.join(stale[:3])}); outputs that print the code version or "
                "SOURCE_DATE_EPOCH will not verify. Rebuild them (e.g. `make clean && make "
                "archive`) if verify-archive reports CHANGED files.")
        times = run_times(project, outputs)
        if times is not None:
            start, end = iso(times[0]), iso(times[1])
            note = ("startTime/endTime: earliest start and latest end of the Snakemake jobs that "
                    "made the results (from .snakemake/metadata).")
        else:
            start = end = iso(epoch)
            note = ("startTime/endTime: the run's job times were not recorded; both are "
                    "SOURCE_DATE_EPOCH (the commit time).")
        meta = {"title": config["study"]["title"], "version": version, "commit": gi["commit"],
                "date": iso(epoch),
                "description": ("Code at commit " + gi["commit"] + ", config, redistributable raw "
                                "inputs, results, reports, the Snakemake report, the pinned lock "
                                "with a wheel of every dependency, and a SHA-256 manifest. Rebuild "
                                "offline and compare: see docs/archive.md." +
                                (" SYNTHETIC DATA: no real respondent is in this bundle."
                                 if config["study"].get("synthetic") else "")),
                "agent": ", ".join(config["study"].get("authors", [])) or "parentlink",
                "snakemake_version": env["key_packages"].get("snakemake") or ""}
        (staging / MANIFEST_NAME).write_text("", encoding="utf-8")  # listed by the crate
        build_crate(staging, meta=meta, plan=plan, outputs=outputs, start=start, end=end,
                    times_note=note)
        write_manifest(build_manifest(staging), staging / MANIFEST_NAME)
        n = write_deterministic_zip(staging, out_zip, epoch)
    return BundleResult(out_zip, n, out_zip.stat().st_size, [i.path for i in plan.restricted],
                        plan.excluded_outputs, warnings)


# --------------------------------------------------------------------------- verify


def clean_pip_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for pip with no network and no site config: drops PIP_* variables and points
    PIP_CONFIG_FILE at /dev/null, so only the bundled wheels can be found."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith("PIP_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    return env


def check_bundle(root: Path) -> list[str]:
    """Every unpacked file against the manifest (both ways)."""
    mf = root / MANIFEST_NAME
    if not mf.is_file():
        return [f"MISSING  {MANIFEST_NAME}"]
    return compare_manifests(read_manifest(mf), build_manifest(root))


def _run(cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path, what: str) -> None:
    t0 = time.monotonic()
    print(f"verify-archive: {what} …", flush=True)
    with open(log, "ab") as f:
        f.write(f"\n$ {' '.join(cmd)}\n".encode())
        f.flush()
        res = subprocess.run(list(cmd), cwd=cwd, env=dict(env), stdout=f, stderr=subprocess.STDOUT)
    if res.returncode != 0:
        tail = log.read_text("utf-8", errors="replace").splitlines()[-40:]
        raise ArchiveError(f"{what} failed (exit {res.returncode}); last lines of {log}:\n"
                           + "\n".join(tail))
    print(f"verify-archive: {what} done in {time.monotonic() - t0:.0f} s", flush=True)


def verify_bundle(zip_path: Path, *, workdir: Path | None = None, cores: str = "all",
                  python: str = sys.executable, keep: bool = False) -> int:
    """Unpack, check, install offline, rebuild, compare. 0 when every checksum matches."""
    zip_path = Path(zip_path).resolve()
    t_all = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="parentlink-verify-", dir=workdir))
    try:
        bundle = tmp / "bundle"
        safe_extract(zip_path, bundle)
        diffs = check_bundle(bundle)
        if diffs:
            print("verify-archive: the bundle does not match its own manifest:")
            print("\n".join("  " + d for d in diffs))
            return 1
        manifest = read_manifest(bundle / MANIFEST_NAME)
        print(f"verify-archive: {len(manifest)} files match {MANIFEST_NAME}")
        summary = load_crate_summary(bundle)
        print(f"verify-archive: RO-Crate loads: {len(summary['object'])} inputs, "
              f"{len(summary['result'])} outputs, mainEntity {summary['mainEntity']}")
        env_desc = json.loads((bundle / ENVIRONMENT_NAME).read_text("utf-8"))
        epoch = str(env_desc["source_date_epoch"])
        if (bundle / OBTAIN_NAME).is_file():
            cfg = _load_yaml(bundle / "config" / "config.yaml")
            absent = [i.path for i in plan_inputs(cfg).restricted
                      if not (bundle / i.path).is_file() and not Path(i.path).is_file()]
            if absent:
                print("verify-archive: cannot rebuild: inputs not in the bundle (not "
                      f"redistributable): {', '.join(absent)}. See {OBTAIN_NAME}.")
                return 2
        want_py = env_desc["python"]["version"].rsplit(".", 1)[0]
        have_py = ".".join(platform.python_version_tuple()[:2])
        if want_py != have_py:
            print(f"verify-archive: WARNING: bundle built with Python {want_py}, verifying with "
                  f"{have_py}: the bundled wheels may not install.")
        # The rebuild tree: the bundle without the outputs it is checked against.
        work = tmp / "rebuild"
        shutil.copytree(bundle, work, ignore=shutil.ignore_patterns("results", "reports"))
        for d in ("results", "reports"):
            shutil.rmtree(work / d, ignore_errors=True)
        log = tmp / "verify.log"
        venv = tmp / "venv"
        penv = clean_pip_env()
        _run([python, "-m", "venv", str(venv)], cwd=work, env=penv, log=log, what="create venv")
        vpy = str(venv / "bin" / "python")
        _run([vpy, "-m", "pip", "install", "--no-index", "--find-links", str(bundle / WHEELS_DIR),
              "--require-virtualenv", "-r", str(bundle / LOCK_PATH)], cwd=work, env=penv, log=log,
             what="install the lock offline from wheels/")
        _run([vpy, "-m", "pip", "install", "--no-index", "--no-deps", "--no-build-isolation",
              "-e", "."], cwd=work, env=penv, log=log, what="install parentlink offline")
        renv = dict(penv)
        renv["SOURCE_DATE_EPOCH"] = epoch
        if env_desc.get("git", {}).get("describe"):
            renv["PARENTLINK_CODE_VERSION"] = env_desc["git"]["describe"]
        renv["PATH"] = str(venv / "bin") + os.pathsep + renv.get("PATH", "")
        renv["VIRTUAL_ENV"] = str(venv)
        _run([str(venv / "bin" / "snakemake"), "--cores", cores], cwd=work, env=renv, log=log,
             what=f"rebuild (SOURCE_DATE_EPOCH={epoch})")
        rebuilt = {f"{d}/{p}": sha256_file(work / d / p) for d in ("results", "reports")
                   if (work / d).is_dir() for p in list_files(work / d)}
        rebuilt = {p: h for p, h in rebuilt.items() if not p.startswith(EXCLUDED_PREFIXES)}
        expected = {p: h for p, h in manifest.items() if p.startswith(REBUILT_PREFIXES)}
        # Row-level outputs left out of the bundle are rebuilt but have nothing to compare with.
        excluded = set(plan_inputs(_load_yaml(bundle / "config" / "config.yaml")).excluded_outputs)
        rebuilt = {p: h for p, h in rebuilt.items() if p not in excluded}
        diffs = compare_manifests(expected, rebuilt)
        if diffs:
            print(f"verify-archive: FAILED: {len(diffs)} difference(s) between the rebuild and "
                  f"{MANIFEST_NAME}:")
            print("\n".join("  " + d for d in diffs))
            print(f"verify-archive: rebuild kept in {work}")
            keep = True
            return 1
        print(f"verify-archive: OK: {len(expected)} files under results/ and reports/ rebuilt "
              f"byte-identical offline ({time.monotonic() - t_all:.0f} s)")
        return 0
    except ArchiveError as err:
        print(f"ERROR: {err}")
        keep = True
        return 1
    finally:
        if keep:
            print(f"verify-archive: work folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text("utf-8"))


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m parentlink.archive", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="unpack, install offline, rebuild, compare with the manifest")
    v.add_argument("zip", type=Path)
    v.add_argument("--cores", default="all")
    v.add_argument("--workdir", type=Path, default=None, help="where to make the temporary folder")
    v.add_argument("--python", default=sys.executable, help="interpreter for the new venv")
    v.add_argument("--keep", action="store_true", help="keep the temporary folder")
    c = sub.add_parser("check", help="check an unpacked bundle or zip against its manifest only")
    c.add_argument("path", type=Path)
    m = sub.add_parser("manifest", help="print a SHA-256 manifest of a folder")
    m.add_argument("dir", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "verify":
        return verify_bundle(args.zip, workdir=args.workdir, cores=args.cores, python=args.python,
                             keep=args.keep)
    if args.cmd == "check":
        if args.path.is_file():
            with tempfile.TemporaryDirectory() as td:
                safe_extract(args.path, Path(td))
                diffs = check_bundle(Path(td))
        else:
            diffs = check_bundle(args.path)
        print("\n".join(diffs) if diffs else "OK: every file matches the manifest")
        return 1 if diffs else 0
    sys.stdout.write(format_manifest(build_manifest(args.dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
