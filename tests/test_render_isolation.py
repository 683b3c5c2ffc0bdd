"""Render jobs open nothing outside the project, the Python installation, the shared libraries and
their own temporary render folder (docs/reports.md, "Isolation of render jobs").

Each document is rendered as a render job would be: a fresh Python process (the environment's
interpreter) in the project folder, under strace, following every process it starts. Every path the
job opens, stats, checks, reads as a link or executes is checked against the allowed set below; the
assertion names every path outside it. Slow-ish (a few seconds a document) but the only way to see
what native libraries (fontconfig, Pango, the dynamic loader) read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from parentlink.facts import write_facts
from tests.test_facts import STUDY
from tests.test_render import _project

ROOT = Path(__file__).resolve().parents[1]
STRACE = shutil.which("strace") or ("/usr/bin/strace" if os.access("/usr/bin/strace", os.X_OK) else None)

# Every syscall that takes a file name (open, stat, access, readlink, execve, mkdir, unlink, ...)
# and those that start processes (to follow the working folder of children).
TRACE = "trace=%file,%process"
# Calls that only look at a path (no content read, nothing written): allowed on the folders above
# an allowed root, which path resolution (os.path.realpath, the import system) walks through.
LOOK_ONLY = {"stat", "lstat", "statfs", "newfstatat", "fstatat64", "stat64", "lstat64", "statx",
             "access", "faccessat", "faccessat2", "readlink", "readlinkat"}
# Shared libraries and what the dynamic loader reads to find them.
LIBRARIES = ("/lib", "/lib32", "/lib64", "/libx32", "/usr/lib", "/usr/lib32", "/usr/lib64",
             "/usr/libx32", "/etc/ld.so.cache", "/etc/ld.so.preload")
# Kernel interfaces (not files on disk) that the interpreter and libraries ask: the process's own
# /proc entries, /dev/null and /dev/urandom, and the CPU count and limits thread pools are sized by.
KERNEL = re.compile(r"^(/proc/(self|thread-self|\d+)(/.*)?|/dev/(null|urandom|random)"
                    r"|/sys/devices/system/cpu(/.*)?|/sys/fs/cgroup(/.*)?"
                    r"|/proc/sys/vm/overcommit_memory|/sys/kernel/mm/transparent_hugepage(/.*)?)$")
# Not the renderer's doing and not about fonts: read by any Python process that imports the same
# libraries, mostly before any project code runs. Each is named here with who reads it; none can
# change a PDF (its dates come from SOURCE_DATE_EPOCH, in UTC).
NOT_THE_RENDERER = {
    r"/etc/localtime|/usr/share/zoneinfo/.+":
        "the machine's time zone: C library at Python start-up; Python's zoneinfo for pandas",
    r"/usr/share/locale/locale\.alias|/etc/locale\.alias": "C library: locale names (Python start-up)",
    r"/usr/lib/ssl/openssl\.cnf|/etc/ssl/openssl\.cnf":
        "OpenSSL's configuration, read when libcrypto starts (Python's hashlib; pyarrow)",
    r"/etc/selinux/config|/proc/filesystems|/sys/fs/selinux|/selinux":
        "libselinux's start-up check (loaded with GIO, a dependency of Pango)",
    r"/etc/je_arrow_malloc\.conf": "jemalloc's optional settings link (pyarrow, imported by pandas)",
}
NOT_THE_RENDERER_RE = re.compile("^(" + "|".join(NOT_THE_RENDERER) + ")$")
# CPython looking for its standard library in the folders above its executable, at start-up.
PYTHON_LANDMARK = re.compile(r"/lib/python3\d+\.zip$")
# Where a fontconfig, a Pango or a desktop would look for fonts, font rules and font caches.
HOME = Path.home()
FONT_PLACES = ("/etc/fonts", "/usr/share/fonts", "/usr/local/share/fonts", "/usr/share/fontconfig",
               "/var/cache/fontconfig", "/usr/lib/fontconfig", "/usr/local/etc/fonts",
               str(HOME / ".fonts"), str(HOME / ".fonts.conf"), str(HOME / ".fonts.conf.d"),
               str(HOME / ".fontconfig"), str(HOME / ".local/share/fonts"),
               str(HOME / ".config/fontconfig"), str(HOME / ".cache/fontconfig"))
FONTCONFIG_FILE = re.compile(r"(^|/)(fontconfig|fonts\.conf|conf\.d)(/|$)|\.cache-\d+$|CACHEDIR\.TAG")

AUDIENCE = "local_authorities"

# What the render script (workflow/scripts/render.py) does, without Snakemake's preamble: the
# same entry points of parentlink.render on the project's results, outputs under reports/.
DRIVER = r"""
import json, sys
from pathlib import Path

from parentlink import render
from parentlink.wording import load_facts

job, study = sys.argv[1], json.loads(sys.argv[2])
project = Path.cwd()
results = project / "results"
common = {
    "facts": load_facts(results / "report" / "facts.json"),
    "alt_text": json.loads((results / "figures" / "alt_text.json").read_text(encoding="utf-8")),
    "quotes": json.loads((results / "report" / "parent_quotes.json").read_text(encoding="utf-8")),
    "study": study,
    "templates_dir": Path("config/templates"),
    "engine_dir": Path("workflow/templates"),
    "fonts_dir": Path("workflow/fonts"),
    "results_dir": results,
}
if job == "appendix":
    render.render_appendix(
        survey="main", survey_label="Main survey", weighted=True, population="parents",
        min_base=50, study=study,
        estimates=Path("results/tables/main_estimates.csv"),
        codebook=Path("results/codebook/main.csv"), version="isolation-test", min_cell=10,
        out_pdf=Path("reports/appendix/main_tables.pdf"),
        **{k: common[k] for k in ("templates_dir", "engine_dir", "fonts_dir", "results_dir")})
elif job == "technical_report":
    estimates = {s: Path(f"results/tables/{s}_estimates.csv") for s in ("main", "pilot")}
    render.render_technical_report(
        **common,
        flows={s: Path(f"results/clean/{s}_flow.csv") for s in ("main", "pilot")},
        diagnostics={"main": Path("results/weights/main_diagnostics.json")},
        code_frequencies=Path("results/documents/code_frequencies.csv"),
        hashed_inputs=[*estimates.values(), Path("results/weights/main_diagnostics.json")],
        project_root=project, version="isolation-test", min_cell=10,
        out_pdf=Path("reports/technical_report.pdf"))
else:
    import yaml

    spec = yaml.safe_load(Path("config/report.yaml").read_text(encoding="utf-8"))["report"]
    render.render_briefing(audience=job, document=spec["documents"][job], **common,
                           out_pdf=Path(f"reports/briefings/{job}.pdf"),
                           out_html=Path(f"reports/briefings/{job}.html"))
"""


# ----------------------------------------------------------------------------- strace output

_CALL = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\((.*))")
# A path argument, with the folder descriptor before it when there is one (strace -y prints
# descriptors as 3</their/path>).
_PATH_ARG = re.compile(r'(?:(AT_FDCWD|-?\d+)(?:<([^>]*)>)?,\s*)?"((?:[^"\\]|\\.)*)"')
_CHILD = re.compile(r"\)\s+=\s+(\d+)\s*$")
_TWO_PATHS = {"rename", "renameat", "renameat2", "link", "linkat"}


def _unescape(text: str) -> str:
    """strace's C-style escapes (\\", \\\\, octal bytes) back to the path."""
    raw = text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "replace")


def touched_paths(trace: Path, cwd: Path) -> dict[str, set[str]]:
    """Every path named in a traced call -> the calls that named it (relative paths resolved
    against the folder descriptor or the process's working folder)."""
    workdir: dict[int, str] = {}
    out: dict[str, set[str]] = defaultdict(set)
    for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _CALL.match(line)
        if not m:
            continue
        pid, call, args = int(m.group(1)), m.group(2) or m.group(3), m.group(4)
        here = workdir.get(pid, str(cwd))
        child = _CHILD.search(line)
        if call in ("clone", "clone3", "fork", "vfork") and child:
            workdir[int(child.group(1))] = here
        if args is None:  # "<... resumed>": the arguments were on the unfinished line
            continue
        found = _PATH_ARG.findall(args)
        if call in _TWO_PATHS:
            found = found[:2]
        elif call.startswith("symlink"):  # the link's target is text, not a path it touches
            found = found[-1:]
        else:  # the first string: the path (execve's arguments follow it)
            found = found[:1]
        for fd, fd_path, text in found:
            path = _unescape(text)
            if not path:  # AT_EMPTY_PATH: the descriptor itself, already seen when it was opened
                continue
            if not path.startswith("/"):
                base = fd_path if fd not in ("", "AT_FDCWD") and fd_path else here
                path = os.path.join(base, path)
            path = os.path.normpath(path)
            out[path].add(call)
            if call == "chdir" and line.rstrip().endswith("= 0"):
                workdir[pid] = path
    return out


# ----------------------------------------------------------------------------- allowed set


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def allowed_roots(project: Path, env: dict[str, str]) -> list[str]:
    """Project, Python installation (prefixes and the job's import path, which includes wherever
    parentlink is installed from), shared libraries."""
    probe = ("import json, os, sys, parentlink; print(json.dumps([sys.prefix, sys.base_prefix, "
             "sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(sys.executable), "
             "os.path.dirname(parentlink.__file__), *sys.path]))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=project, env=env, capture_output=True,
                         text=True, check=True).stdout
    python = {p for p in json.loads(out) if p and os.path.isabs(p)}
    roots = {str(project), *python, *LIBRARIES}
    roots |= {os.path.realpath(r) for r in roots}
    return sorted(roots)


def outside(touched: dict[str, set[str]], roots: list[str], render_tmp: Path) -> dict[str, set[str]]:
    """Touched paths outside the allowed set, judged by the path as named and by where its
    symbolic links lead (/usr/lib/ssl/openssl.cnf is /etc/ssl/openssl.cnf). In render_tmp (the
    job's $TMPDIR) only the render folder (parentlink.render.RENDER_DIR_PREFIX) is allowed;
    `roots` from allowed_roots."""
    from parentlink.render import RENDER_DIR_PREFIX

    render_dirs = str(render_tmp / RENDER_DIR_PREFIX)

    def allowed(path: str, calls: set[str]) -> bool:
        if (any(_under(path, r) for r in roots) or path.startswith(render_dirs)
                or KERNEL.match(path) or NOT_THE_RENDERER_RE.match(path)):
            return True
        if not calls <= LOOK_ONLY:
            return False
        return bool(PYTHON_LANDMARK.search(path)) or any(_under(r, path) for r in [*roots, render_dirs])

    return {path: calls for path, calls in touched.items()
            if not (allowed(path, calls) and allowed(os.path.realpath(path), calls))}


def font_places_touched(touched: dict[str, set[str]], render_tmp: Path) -> list[str]:
    """System and user font folders, font configs and fontconfig caches other than the job's own."""
    from parentlink.render import RENDER_DIR_PREFIX

    own = str(render_tmp / RENDER_DIR_PREFIX)
    return sorted(p for p in touched
                  if any(_under(p, place) for place in FONT_PLACES)
                  or (FONTCONFIG_FILE.search(p) and not p.startswith(own)))


def _describe(paths: dict[str, set[str]], limit: int = 60) -> str:
    lines = [f"  {p}  ({', '.join(sorted(c))})" for p, c in sorted(paths.items())]
    more = f"\n  ... and {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


# ----------------------------------------------------------------------------- the jobs


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder as the render rules see it: engine and study templates, fonts, a complete results tree
    (facts, charts, quotes), no reports yet."""
    root = tmp_path_factory.mktemp("isolation") / "project"
    (root / "workflow").mkdir(parents=True)
    for sub in ("templates", "fonts"):
        shutil.copytree(ROOT / "workflow" / sub, root / "workflow" / sub)
    # The study's documents: its report spec and templates.
    shutil.copytree(ROOT / "config" / "templates", root / "config" / "templates")
    shutil.copy2(ROOT / "config" / "report.yaml", root / "config" / "report.yaml")
    p = _project(root)
    write_facts(p["facts"], root / "results" / "report" / "facts.json")
    # Fewer full tables in the technical report (as in test_render): same code, a third the time.
    est = p["paths"]["main_estimates"]
    lines = est.read_text(encoding="utf-8").splitlines()
    keep = ("acc_plan_net", "trust_council_net", "consent")
    est.write_text("\n".join([lines[0], *(ln for ln in lines[1:] if ln.split(",")[1] in keep)]) + "\n",
                   encoding="utf-8")
    (root / "results" / "report" / "parent_quotes.json").write_text(
        json.dumps(p["quotes"]), encoding="utf-8")
    (root / "results" / "codebook").mkdir(parents=True)
    (root / "results" / "codebook" / "main.csv").write_text(
        "variable,label,type,source,derived_from,code,value_label,missing,in_base,n,note\n"
        "ethnicity,Ethnic group,categorical,Q1,,1,White,,yes,700,\n", encoding="utf-8")
    return root.resolve()


def job_env(render_tmp: Path) -> dict[str, str]:
    """The job's environment: this one without fontconfig settings (an earlier render in this
    process may have set them), its own $TMPDIR, a fixed build date."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTCONFIG_")}
    env.update(TMPDIR=str(render_tmp), SOURCE_DATE_EPOCH="1700000000")
    return env


def run_job(project: Path, job: str, work: Path) -> tuple[dict[str, set[str]], Path, dict[str, str]]:
    """Render one document in a fresh process under strace; returns the touched paths, the job's
    $TMPDIR and its environment."""
    render_tmp = work / "tmp"
    render_tmp.mkdir(parents=True)
    trace = work / "strace.txt"
    env = job_env(render_tmp)
    cmd = [STRACE, "-f", "-qq", "-y", "-s", "4096", "-e", TRACE, "-o", str(trace),
           sys.executable, "-c", DRIVER, job, json.dumps(STUDY)]
    run = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"render of {job} failed:\n{run.stderr[-3000:]}"
    return touched_paths(trace, project), render_tmp.resolve(), env


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (Debian package strace); "
                                           "it is needed to see what a render job opens")
@pytest.mark.parametrize("job", [AUDIENCE, "technical_report", "appendix"])
def test_render_job_opens_only_allowed_paths(project: Path, job: str, tmp_path: Path) -> None:
    touched, render_tmp, env = run_job(project, job, tmp_path)
    pdf = project / {"technical_report": "reports/technical_report.pdf",
                     "appendix": "reports/appendix/main_tables.pdf"}.get(
                         job, f"reports/briefings/{job}.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    # The trace saw the job's reads (else an empty trace would pass).
    assert any(_under(p, str(project / "workflow" / "fonts")) for p in touched)
    assert any(p.startswith(str(render_tmp)) for p in touched)

    fonts = font_places_touched(touched, render_tmp)
    assert not fonts, (f"{job}: the render job looked at system/user font folders, font configs or "
                       f"fontconfig caches outside its render folder:\n  " + "\n  ".join(fonts))
    bad = outside(touched, allowed_roots(project, env), render_tmp)
    assert not bad, (f"{job}: the render job touched {len(bad)} paths outside the project, the "
                     f"Python installation, the shared libraries and its render folder:\n"
                     + _describe(bad))
