"""Briefings and the technical report: Jinja2 HTML -> deterministic, tagged PDF (and HTML).

Variant claimed: PDF/UA-1 (ISO 14289-1). Why not PDF/A-3a: the briefings are public-sector
documents for parents and policy readers, so the obligation that bites is accessibility
(Public Sector Bodies Accessibility Regulations 2018), and PDF/UA-1 is the standard for that;
the checks it rests on (document title shown, /Lang, tagged structure, alt text on every figure,
table headers, embedded fonts) are ones our tests can verify with pikepdf. Archival needs are
met by the reproducible pipeline itself (inputs hashed in the technical report), and PDF/A-3
would add an sRGB output intent and an archival claim we cannot check without veraPDF. Only one
variant can be claimed per file. WeasyPrint does not guarantee validity: the claim rests on the
templates being clean (headings in order, real tables with <th scope>, alt on every <img>).

Security: data only ever reaches HTML through autoescaped Jinja2 variables (never |safe, never a
template built from data), free text is capped, and WeasyPrint fetches only through
:class:`SafeFetcher`, which serves file: URLs inside the project's template, font and results
folders and data: URIs, and refuses everything else.

Isolation: WeasyPrint is imported only through :func:`_weasyprint`, which first points fontconfig
at a generated config (no /etc/fonts, no system or user font folders, no fontconfig cache outside
this process's temporary render folder), keeps :mod:`mimetypes` to Python's built-in table (no
/etc/mime.types) and stops cffi from running ``ldconfig``/``gcc``/``ld`` to look for the libraries
WeasyPrint loads (the dynamic loader finds them by soname). tests/test_render_isolation.py checks
with strace what a render job opens.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import hashlib
import mimetypes
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname
from xml.sax.saxutils import escape as xml_escape

import jinja2
import markupsafe

from parentlink import FALLBACK_SOURCE_DATE_EPOCH, __version__
from parentlink.errors import fail
from parentlink.wording import (
    SUPPRESSION_MARK,
    font_coverage,
    odds_words,
    one_in,
    pct_text,
    printable,
)

if TYPE_CHECKING:  # pandas is imported only by the technical report (~0.3 s a briefing saves)
    import pandas as pd

__all__ = ["__version__", "render_appendix", "render_briefing", "render_technical_report",
           "make_fetcher"]

PDF_VARIANT = "pdf/ua-1"
MAX_TEXT_CHARS = 200  # longest data string placed in a document (labels, code names)


# ----------------------------------------------------------------------------- fetching


class FetchRefused(ValueError):
    """A document asked for a resource outside what the reports may read."""


# Content types of what the documents fetch, fixed here: mimetypes would otherwise consult the
# machine's /etc/mime.types (Python's own table has no .ttf).
CONTENT_TYPES = {".svg": "image/svg+xml", ".ttf": "font/ttf", ".otf": "font/otf",
                 ".woff": "font/woff", ".woff2": "font/woff2", ".css": "text/css",
                 ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def make_fetcher(roots: Iterable[Path]) -> Any:
    """A WeasyPrint URL fetcher confined to `roots` (after resolving symlinks) and data: URIs."""
    urls = _weasyprint().urls

    class SafeFetcher(urls.URLFetcher):  # type: ignore[name-defined]
        def __init__(self, allowed: Sequence[Path]) -> None:
            # No redirects and only two schemes even if fetch() were bypassed; fail_on_errors
            # turns a refusal into a stopped render rather than a silently missing image.
            super().__init__(allowed_protocols=("file", "data"), allow_redirects=False,
                             fail_on_errors=True)
            self.roots = [Path(os.path.realpath(r)) for r in allowed]

        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = urlsplit(url).scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme != "file":
                raise FetchRefused(f"refused to fetch {url[:100]!r}: only file: and data: allowed")
            path = self.allowed_path(url)
            mime = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
            return urls.URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

        def allowed_path(self, url: str) -> Path:
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                raise FetchRefused(f"refused remote file URL {url[:100]!r}")
            path = Path(os.path.realpath(url2pathname(unquote(parts.path))))
            if not any(path.is_relative_to(root) for root in self.roots):
                raise FetchRefused(f"refused {str(path)[:100]!r}: outside the report folders")
            if not path.is_file():
                raise FetchRefused(f"refused {str(path)[:100]!r}: not a file")
            return path

    return SafeFetcher(list(roots))


# ----------------------------------------------------------------------------- templating


def clip(value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """Cap free text: a hostile or runaway string costs at most `limit` characters."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pct_ci(cell: Mapping[str, Any]) -> str:
    if cell.get("suppressed", True):
        return SUPPRESSION_MARK
    return f"{cell['pct']:.0f}% ({cell['ci_lower']:.0f}–{cell['ci_upper']:.0f})"


def cap(value: Any) -> str:
    """First letter upper case, the rest untouched (Jinja's capitalize lowers the rest)."""
    text = str(value)
    return text[:1].upper() + text[1:]


def num(value: Any, digits: int = 0) -> str:
    return f"{float(value):,.{digits}f}"


def items_by_variable(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {str(i["variable"]): i for i in items}


def make_env(templates_dir: Path | Sequence[Path],
             coverage: frozenset[int] | None = None) -> jinja2.Environment:
    """Jinja2 environment of the documents; with `coverage` (the code points the shipped fonts
    draw, for PDFs) every printed value is passed through wording.printable first."""

    def finalize(value: Any) -> Any:
        if coverage is None or not isinstance(value, str):
            return value
        if isinstance(value, markupsafe.Markup):  # a macro's output: already escaped HTML
            return markupsafe.Markup(printable(str(value), coverage))
        return printable(value, coverage)

    env = jinja2.Environment(
        # The study's templates first, then the engine's (base.html, _engine.html).
        loader=jinja2.FileSystemLoader(
            [str(templates_dir)] if isinstance(templates_dir, Path)
            else [str(d) for d in templates_dir]),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,  # a missing fact is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )
    env.filters.update(pct=pct_finding, pct_ci=pct_ci, one_in=one_in, num=num, clip=clip, cap=cap,
                       items_by_variable=items_by_variable, odds_words=odds_words)
    return env


def source_date() -> dt.datetime:
    """The build date: SOURCE_DATE_EPOCH (set to a fixed fallback when absent)."""
    os.environ.setdefault("SOURCE_DATE_EPOCH", str(FALLBACK_SOURCE_DATE_EPOCH))
    return dt.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), tz=dt.UTC)


def sha256_files(paths: Iterable[Path], root: Path) -> list[dict[str, str]]:
    """SHA-256 per file, named by its project-relative path (as the workflow names it)."""
    out = []
    for path in sorted({Path(p) for p in paths}, key=str):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        name = path
        if path.is_absolute():
            try:
                name = path.relative_to(root.absolute())
            except ValueError:
                name = Path(path.name)
        out.append({"path": name.as_posix(), "sha256": digest})
    return out


class Assets:
    """How a document refers to figures and fonts: file: URLs for the PDF, inline for HTML."""

    def __init__(self, figures_dir: Path, fonts_dir: Path, inline: bool) -> None:
        self.figures_dir = figures_dir
        self.fonts_dir = fonts_dir
        self.inline = inline

    def figure(self, name: str) -> str:
        path = self.figures_dir / f"{name}.svg"
        if not path.is_file():
            fail(f"{path}: chart not found; run the 'charts' rule first.")
        if self.inline:
            # Self-contained HTML: the page works wherever it is copied.
            return "data:image/svg+xml;base64," + base64.b64encode(path.read_bytes()).decode()
        return path.resolve().as_uri()

    def font(self, name: str) -> str:
        if self.inline:
            return ""  # HTML falls back to the reader's sans-serif; PDFs embed the shipped font
        return (self.fonts_dir / name).resolve().as_uri()


def document_meta(doc_name: str, title: str) -> dict[str, Any]:
    when = source_date()
    return {
        "doc_name": doc_name,
        "title": title,
        "date_iso": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "year": when.strftime("%Y"),
        "date_text": when.strftime("%d %B %Y").lstrip("0"),
    }


def render_html(env: jinja2.Environment, template: str, context: Mapping[str, Any]) -> str:
    """The template rendered; a missing or suppressed finding, an undefined name or a template
    syntax error is one line naming the template file and line."""
    try:
        return env.get_template(template).render(**context)
    except jinja2.TemplateSyntaxError as err:
        fail(f"{err.filename or template} line {err.lineno}: {err.message}")
    except jinja2.TemplateError as err:
        fail(f"{_template_line(err)}: {err}")
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as err:
        # e.g. a filter given the wrong kind of finding: still one line naming the template.
        fail(f"{_template_line(err)}: {type(err).__name__}: {err}")


# fontconfig for the renderer: the shipped fonts only, and the rules that shape text written out
# here rather than taken from the machine's /etc/fonts (distributions differ in hinting and in
# synthetic-italic rules, which change the PDF). Italic has no shipped face, so, as fontconfig's
# stock 90-synthetic.conf does, a slanted regular stands in for it.
FONTCONFIG_TEMPLATE = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
{dirs}  <cachedir>{cache_dir}</cachedir>
  <match target="font">
    <edit name="hinting" mode="assign"><bool>false</bool></edit>
    <edit name="antialias" mode="assign"><bool>true</bool></edit>
  </match>
  <match target="font">
    <test name="slant"><const>roman</const></test>
    <test target="pattern" name="slant" compare="not_eq"><const>roman</const></test>
    <edit name="matrix" mode="assign">
      <times><name>matrix</name>
        <matrix><double>1</double><double>0.2</double><double>0</double><double>1</double></matrix>
      </times>
    </edit>
    <edit name="slant" mode="assign"><const>oblique</const></edit>
  </match>
</fontconfig>
"""

RENDER_DIR_PREFIX = "parentlink-render-"


def render_dir() -> Path:
    """This process's temporary render folder, removed at exit: fontconfig's configs and cache and
    WeasyPrint's temporary font files live here and nowhere else.

    Made in $TMPDIR (else /tmp) without tempfile.gettempdir(), which would first probe the system
    temp folders by writing a file in them.
    """
    global _RENDER_DIR
    if _RENDER_DIR is None:
        base = tempfile.tempdir or next(
            (os.environ[v] for v in ("TMPDIR", "TEMP", "TMP") if os.environ.get(v)), "/tmp")
        # Real path: fontconfig compares paths with its sysroot after resolving links.
        _RENDER_DIR = Path(os.path.realpath(tempfile.mkdtemp(prefix=RENDER_DIR_PREFIX, dir=base)))
        atexit.register(shutil.rmtree, _RENDER_DIR, True)
    return _RENDER_DIR


_RENDER_DIR: Path | None = None


def isolate_fontconfig(fonts_dir: Path | None) -> Path:
    """Point fontconfig at a generated config naming only `fonts_dir` (None: no font at all);
    returns the config's path.

    WeasyPrint loads a fresh fontconfig configuration for every document, so this takes effect for
    the next render even if WeasyPrint is already imported. The config includes nothing (no
    /etc/fonts, no user config) and keeps its cache next to it. Each config lives in its own
    folder in the render folder, which is also fontconfig's FONTCONFIG_SYSROOT: fontconfig looks
    up every path of its configuration under it, which stops it from parsing its rule templates
    (/usr/share/fontconfig/conf.avail, which name /etc/fonts/local.conf and the user's
    ~/.config/fontconfig), as it does for every configuration it loads. `fonts_dir` is made
    visible there by a symlink at its own path; font files keep their real path. Written once
    per fonts folder and process.
    """
    fonts = None if fonts_dir is None else Path(os.path.realpath(fonts_dir))
    current = _FONTCONFIG.get(fonts)
    if current is None:
        sysroot = render_dir() / f"fontconfig-{len(_FONTCONFIG)}"
        sysroot.mkdir()
        dirs = ""
        if fonts is not None:
            mirror = sysroot / fonts.relative_to(fonts.anchor)
            mirror.parent.mkdir(parents=True)
            mirror.symlink_to(fonts, target_is_directory=True)
            dirs = f"  <dir>{xml_escape(str(fonts))}</dir>\n"
        current = sysroot / "fonts.conf"
        # fontconfig puts the sysroot in front of the cache folder too: the cache ends up in
        # sysroot/<sysroot>/cache, inside the render folder either way.
        current.write_text(FONTCONFIG_TEMPLATE.format(
            dirs=dirs, cache_dir=xml_escape(str(sysroot / "cache"))), encoding="utf-8")
        _FONTCONFIG[fonts] = current
    os.environ["FONTCONFIG_SYSROOT"] = str(current.parent)
    os.environ["FONTCONFIG_FILE"] = str(current)  # inside the sysroot: not prefixed again
    # Where fontconfig resolves relative config names (none in ours): never /etc/fonts.
    os.environ["FONTCONFIG_PATH"] = str(current.parent)
    return current


_FONTCONFIG: dict[Path | None, Path] = {}


def _builtin_mimetypes() -> None:
    """Initialise mimetypes from Python's built-in table only. Its first use (WeasyPrint makes one
    at import) would otherwise read /etc/mime.types and four other system files."""
    if mimetypes.inited:
        return
    system_files = mimetypes.knownfiles
    mimetypes.knownfiles = []
    try:
        mimetypes.init()
    finally:
        mimetypes.knownfiles = system_files


@contextlib.contextmanager
def _no_library_search() -> Iterator[None]:
    """WeasyPrint asks cffi for each library under several names; for a name the loader does not
    know, cffi falls back to ctypes.util.find_library, which runs ldconfig, gcc and ld (reading
    compiler folders and writing files in /tmp). With the fallback off, each library is loaded by
    its soname, which is in WeasyPrint's list (e.g. libpango-1.0.so.0): the same file as before."""
    import ctypes.util

    find_library = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        yield
    finally:
        ctypes.util.find_library = find_library


@contextlib.contextmanager
def _temporary_files_in(folder: Path) -> Iterator[None]:
    """tempfile's default folder is `folder` for the duration (WeasyPrint stores the fonts of
    @font-face rules in a temporary folder of its own)."""
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def _weasyprint(fonts_dir: Path | None = None) -> ModuleType:
    """WeasyPrint, imported so that nothing outside the project, the Python installation, the
    shared libraries and the render folder is read (see the module docstring).

    Every import of weasyprint in this package goes through here, so fontconfig is isolated
    before WeasyPrint's import-time font check (which would otherwise load /etc/fonts/fonts.conf,
    the system font folders and their caches). Lazy: importing WeasyPrint costs about a second and
    charts/facts don't need it. `fonts_dir`: the fonts fontconfig may see from now on; None
    (making a fetcher, before there is anything to draw) keeps the current config, or if there is
    none yet a config with no font (WeasyPrint's import-time warning about that is expected).
    """
    if fonts_dir is not None or not _FONTCONFIG:
        isolate_fontconfig(fonts_dir)
    _builtin_mimetypes()
    with _no_library_search(), _temporary_files_in(render_dir()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No fonts configured in FontConfig")
        import weasyprint
        import weasyprint.pdf.fonts
        import weasyprint.urls
    # Font subsets always come from fontTools (pinned in the lock), never from the system's
    # optional libharfbuzz-subset: WeasyPrint uses that library when it finds it, and its subsets
    # differ byte for byte, so a machine that has it would rebuild different PDFs.
    weasyprint.pdf.fonts.harfbuzz_subset = None
    return weasyprint


# WeasyPrint's user-agent stylesheet styles six pseudo-elements of *every* element (`::marker`,
# `::footnote-call`, `::footnote-marker`, `::note-call`, `::note-marker`, `::note-callback`), so
# it computes six extra styles per element: in a long table, more than the cells' own. Only a
# list item or a <summary> has a marker, and only a footnote or a note has the others. The lean
# sheet scopes the marker rule to those elements and leaves out the footnote and note rules; it
# is used only when the document has none (FULL_UA_WORDS), and the PDFs are byte-identical
# (tests/test_render.py). The appendix of the embedded study takes ~15% less CPU.
UA_SCOPED = (("\n::marker {", "\nli::marker, summary::marker {"),)
UA_LEFT_OUT = ("::footnote-call", "::footnote-marker", "::note-call", "::note-marker",
               "::note-callback")
# Words of a document that may need what the lean sheet leaves out: footnotes (float: footnote),
# notes (position: note(...)), or another element made a list item (display: list-item).
FULL_UA_WORDS = ("footnote", "note(", "list-item")


def lean_ua_css(ua: str) -> str:
    """WeasyPrint's user-agent stylesheet `ua` with the marker rule scoped and the footnote and
    note rules left out (one rule per line in WeasyPrint's file)."""
    for old, new in UA_SCOPED:
        ua = ua.replace(old, new)
    return "\n".join(line for line in ua.splitlines() if not line.startswith(UA_LEFT_OUT))


def _html_class(weasyprint: ModuleType, html: str) -> Any:
    """weasyprint.HTML, or for a document without footnotes, notes or other list items a
    subclass with the lean user-agent stylesheet (made once per process). WeasyPrint has no
    public option for this; if a later version no longer has `_ua_stylesheets`, the override is
    never called and the documents render as before, only slower (a test says so)."""
    if any(word in html for word in FULL_UA_WORDS):
        return weasyprint.HTML
    global _LEAN_HTML
    if _LEAN_HTML is None:
        from weasyprint import html as wp_html
        from weasyprint.css.counters import CounterStyle

        # Its @counter-style rules are WeasyPrint's own, already known: a throwaway registry.
        sheet = weasyprint.CSS(string=lean_ua_css(wp_html.UA), counter_style=CounterStyle())

        class LeanHTML(weasyprint.HTML):  # type: ignore[name-defined]
            def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
                return [sheet, wp_html.UA_FORM_STYLESHEET] if forms else [sheet]

        _LEAN_HTML = LeanHTML
    return _LEAN_HTML


_LEAN_HTML: Any = None


def write_pdf(html: str, out: Path, doc_name: str, fetcher: Any, base_dir: Path,
              fonts_dir: Path) -> None:
    """Deterministic tagged PDF: fixed identifier, dates from the document's dcterms meta, and
    fonts from `fonts_dir` only."""
    weasyprint = _weasyprint(fonts_dir)
    source_date()  # font subsets embed a timestamp unless SOURCE_DATE_EPOCH is set
    identifier = hashlib.sha256(f"parentlink:{doc_name}".encode()).hexdigest()[:32].encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_files_in(render_dir()):
        _html_class(weasyprint, html)(
            string=html, base_url=base_dir.resolve().as_uri() + "/", url_fetcher=fetcher,
        ).write_pdf(str(out), pdf_variant=PDF_VARIANT, pdf_identifier=identifier, pdf_tags=True)


# ----------------------------------------------------------------------------- documents

class FindingError(jinja2.TemplateError):
    """A template asked for a finding that does not exist, or printed a suppressed one."""


class Findings:
    """facts.findings as templates see it (`f`): an unknown name is an error naming the
    findings that exist, never an empty string."""

    def __init__(self, findings: Mapping[str, Any]) -> None:
        self._findings = dict(findings)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Any:
        if name not in self._findings:
            raise FindingError(f"no finding '{name}' in report.findings (config/report.yaml); "
                               f"findings: {', '.join(sorted(self._findings)) or 'none'}")
        return self._findings[name]

    def __contains__(self, name: object) -> bool:
        return name in self._findings


def pct_finding(cell: Mapping[str, Any], mark: str = SUPPRESSION_MARK) -> str:
    """A share as '46%'; a suppressed named finding (kind share) stops the render, a
    suppressed cell of a list or breakdown prints the suppression mark."""
    if cell.get("suppressed") and cell.get("finding"):
        raise FindingError(f"finding '{cell['finding']}' is suppressed (base "
                           f"{cell.get('base')}): a document cannot print it; test "
                           f"`.suppressed` in the template or cite another finding")
    return pct_text(cell, mark)


def _template_line(err: BaseException) -> str:
    """'config/templates/x.html line 12' for the innermost template frame of a render error."""
    tb, where = err.__traceback__, ""
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith((".html", ".css")):
            try:
                name = str(Path(name).resolve().relative_to(Path.cwd().resolve()))
            except ValueError:
                pass
            where = f"{name} line {tb.tb_lineno}"
        tb = tb.tb_next
    return where or "template"


def _base_context(facts: Mapping[str, Any], study: Mapping[str, Any], doc_name: str,
                  title: str, assets: Assets) -> dict[str, Any]:
    authors = study.get("authors") or []
    return {
        "facts": facts,
        "f": Findings(facts.get("findings") or {}),
        "study": study,
        "synthetic": bool(study.get("synthetic", True)),
        "meta": document_meta(doc_name, title),
        "authors": ", ".join(authors) if isinstance(authors, list) else str(authors),
        "figure": assets.figure,
        "font_url": assets.font,
        "mark": SUPPRESSION_MARK,
    }


def output_links(audience: str, audiences: Mapping[str, str],
                  surveys: Sequence[str], html: bool) -> list[dict[str, str]]:
    """Links from one briefing (reports/briefings/<audience>.*) to the study's other outputs,
    relative so that they work in the project folder and in an unpacked deposit: the other
    documents (in the same format), the technical report, and each survey's appendix of tables
    and workbook."""
    ext = "html" if html else "pdf"
    links = [{"href": f"{name}.{ext}", "text": f"Briefing for {text}"}
             for name, text in audiences.items() if name != audience]
    links.append({"href": "../technical_report.pdf",
                  "text": "Technical report (methods, weighting, limitations; PDF)"})
    links += [{"href": f"../appendix/{s}_tables.pdf",
               "text": f"Full tables and codebook of the {s} survey (PDF)"} for s in surveys]
    links += [{"href": f"../../results/tables/{s}_tables.xlsx",
               "text": f"All tables of the {s} survey (Excel workbook)"} for s in surveys]
    return links


def render_briefing(
    *,
    audience: str,
    document: Mapping[str, Any],
    facts: Mapping[str, Any],
    alt_text: Mapping[str, str],
    quotes: Mapping[str, Any],
    study: Mapping[str, Any],
    templates_dir: Path,
    engine_dir: Path,
    fonts_dir: Path,
    results_dir: Path,
    out_pdf: Path,
    out_html: Path,
    audiences: Mapping[str, str] | None = None,
    surveys: Sequence[str] = (),
) -> None:
    """One document of report.documents: `templates_dir`/<audience>.html with the engine's
    base templates (`engine_dir`) behind it. `audiences` ({document name: audience}) and
    `surveys` give the links to the study's other outputs (`links` in templates)."""
    title = str(document["title"])
    figures = results_dir / "figures"
    for inline, target in ((False, out_pdf), (True, out_html)):
        # The HTML keeps every character (the reader's browser has fonts for it); the PDF prints
        # only what the shipped font can draw.
        env = make_env([templates_dir, engine_dir],
                       None if inline else font_coverage(fonts_dir))
        ctx = _base_context(facts, study, audience, title, Assets(figures, fonts_dir, inline))
        ctx.update(alt=alt_text, audience=audience, inline=inline, quotes=quotes, doc=document,
                   links=output_links(audience, audiences or {}, surveys, html=inline))
        html = render_html(env, f"{audience}.html", ctx)
        if inline:
            out_html.parent.mkdir(parents=True, exist_ok=True)
            out_html.write_text(html, encoding="utf-8")
        else:
            fetcher = make_fetcher([templates_dir, engine_dir, fonts_dir, results_dir])
            write_pdf(html, target, audience, fetcher, engine_dir, fonts_dir)


NO_RESPONDENTS = "—"  # a share of 0 with an empty interval: nobody in the group gave the answer


# Why an appendix cell is hidden, as its label says (estimates column suppressed_reason;
# parentlink.disclosure.REASONS). A share hidden only to protect a small cell is labelled as
# what it is, not as a small cell: the key on page 1 explains each label.
HIDDEN_LABELS = {"small_base": "small base", "small_cell": "small cell",
                 "complementary": "secondary"}


def hidden_label(small_base: bool, reason: str) -> str:
    """The label of a hidden cell: 'small base' when its group is under min_base (whatever
    the file says), else from `reason` (suppressed_reason); a hidden cell without a known
    reason (an estimates file without the column) is a small cell."""
    if small_base:
        return HIDDEN_LABELS["small_base"]
    return HIDDEN_LABELS.get(reason, HIDDEN_LABELS["small_cell"])


def _cell_text(shown: bool, label: str, e: float, lo: float, hi: float) -> str:
    """One estimate cell: '46 (41–52)'; '[c] small base' / '[c] small cell' / '[c] secondary'
    when hidden (`label`, from hidden_label); the dash when nobody gave the answer; a share of
    100 without its empty interval. Never '0 (0–0)'."""
    if not shown:
        return f"{SUPPRESSION_MARK} {label}"
    if round(hi) == 0 and round(e) == 0:
        return NO_RESPONDENTS
    if round(lo) == round(hi):
        return f"{e:.0f}"
    return f"{e:.0f} ({lo:.0f}–{hi:.0f})"


def estimate_tables(df: pd.DataFrame, min_base: int,
                    titles: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """One table per item: rows are groups, columns categories; hidden cells as the mark with
    its reason (hidden_label), empty intervals as a dash (NO_RESPONDENTS) or a bare share.

    Items, categories and groups keep their order in the estimates file; a group's base is the
    largest unweighted base of its cells. `titles`: a group variable's label (the codebook's),
    so rows read 'Household size (group): 4 people' rather than the variable's name.
    """
    titles = titles or {}
    small = (df["base_unweighted"] < min_base).to_numpy()
    shown = ~df["suppressed"].astype(bool) & ~small & df["estimate"].notna()
    reasons = (df["suppressed_reason"].fillna("").astype(str) if "suppressed_reason" in df
               else [""] * len(df))
    pct = df[["estimate", "ci_lower", "ci_upper"]].astype(float).mul(100).to_numpy()
    cells = [_cell_text(ok, hidden_label(sb, why), e, lo, hi)
             for ok, sb, why, (e, lo, hi) in zip(shown, small, reasons, pct, strict=True)]
    tables: dict[str, dict[str, Any]] = {}
    for var, label, gv, gcode, group, code, cat, base, cell in zip(
            df["variable"], df["variable_label"], df["group_variable"], df["group_code"],
            df["group"], df["category_code"].astype(str), df["category"], df["base_unweighted"],
            cells, strict=True):
        t = tables.setdefault(str(var), {"label": label, "categories": {}, "rows": {}})
        t["categories"].setdefault(code, cat)
        title = "" if str(gv) == "all" else str(titles.get(str(gv), gv))
        row = t["rows"].setdefault((str(gv), str(gcode)), {
            "group_variable": str(gv), "group_title": clip(title, 80), "group": clip(group, 80),
            "base": int(base), "cells": {}})
        row["base"] = max(row["base"], int(base))
        row["cells"][code] = cell
    return [{
        "variable": clip(var, 60),
        "label": clip(t["label"]),
        "categories": [clip(c, 80) for c in t["categories"].values()],
        # `small_base`: every cell of the row is hidden for its base, so the template may print
        # the label once across the row instead of once per answer.
        "rows": [{**{k: r[k] for k in ("group_variable", "group_title", "group", "base")},
                  "small_base": r["base"] < min_base,
                  "cells": [r["cells"].get(code, "") for code in t["categories"]]}
                 for r in t["rows"].values()],
    } for var, t in tables.items()]


def codebook_summary(book: pd.DataFrame) -> list[dict[str, str]]:
    """One row per variable of a codebook CSV (parentlink.codebook): values joined with counts.

    The CSV's counts are already protected (parentlink.codebook.protect: [c] for counts of 1 to
    min_cell - 1 and for the counts that would give them away).
    """
    rows = []
    for name, g in book.groupby("variable", sort=False):
        first = g.iloc[0]
        origin = first["source"] or (f"derived from {first['derived_from']}" if first["derived_from"] else "")
        if first["type"] == "categorical":
            parts = []
            for r in g.itertuples():
                mark = f" [{r.missing}]" if r.missing else ""
                parts.append(f"{r.code} {r.value_label}{mark} ({r.n})".replace("  ", " "))
            values = "; ".join(parts)
        else:
            values = f"{first['type']}, n = {first['n']}" + (f"; {first['note']}" if first["note"] else "")
        rows.append({"variable": str(name), "label": first["label"], "origin": origin,
                     "value_list": values})
    return rows


def code_table(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Code frequencies (results/documents/code_frequencies.csv) as one row per code and one
    column per document type ('all' first), each cell {n, pct}: the long file, 4 rows a code,
    as a table a reader can scan across. Codes keep their order in the file."""
    types: list[str] = []
    codes: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        t = str(r["doc_type"])
        if t not in types:
            types.append(t)
        row = codes.setdefault((str(r["code"]), str(r["parent_code"])), {
            "code": clip(r["code"], 80), "parent_code": clip(r["parent_code"], 80), "cells": {}})
        row["cells"][t] = {"n": int(r["n_documents"]), "pct": float(r["pct_documents"])}
    types.sort(key=lambda t: t != "all")  # the whole corpus first, then types as in the file
    return {"doc_types": types, "rows": list(codes.values())}


def render_technical_report(
    *,
    facts: Mapping[str, Any],
    alt_text: Mapping[str, str],
    quotes: Mapping[str, Any],
    study: Mapping[str, Any],
    flows: Mapping[str, Path],
    diagnostics: Mapping[str, Path],
    code_frequencies: Path | None,
    hashed_inputs: Iterable[Path],
    project_root: Path,
    version: str,
    min_cell: int = 10,
    appendices: Sequence[str] = (),
    templates_dir: Path,
    engine_dir: Path,
    fonts_dir: Path,
    results_dir: Path,
    out_pdf: Path,
) -> None:
    """`templates_dir`/technical_report.html: methods, cleaning flow, weighting diagnostics
    (weighted surveys), key tables, document analysis and the inputs' checksums. The full
    estimate tables and the codebooks are in the appendices (render_appendix), named by
    `appendices` (their project-relative paths)."""
    import json

    from parentlink import csvio

    env = make_env([templates_dir, engine_dir], font_coverage(fonts_dir))
    # Small tables, read without pandas: the job does not pay for importing it.
    codes = (csvio.read_records(code_frequencies, text={"parent_code"}, empty="")
             if code_frequencies is not None else [])
    title = f"{study.get('title', 'Study')}: technical report"
    ctx = _base_context(facts, study, "technical_report", title,
                        Assets(results_dir / "figures", fonts_dir, inline=False))
    ctx.update(
        alt=alt_text,
        quotes=quotes,
        inline=False,
        flows={s: csvio.read_records(p) for s, p in flows.items()},
        diagnostics={s: json.loads(p.read_text(encoding="utf-8"))
                     for s, p in diagnostics.items()},
        codes=codes,
        code_table=code_table(codes),
        hashes=sha256_files(hashed_inputs, project_root),
        code_version=version,
        min_cell=min_cell,
        appendices=list(appendices),
    )
    html = render_html(env, "technical_report.html", ctx)
    fetcher = make_fetcher([templates_dir, engine_dir, fonts_dir, results_dir])
    write_pdf(html, out_pdf, "technical_report", fetcher, engine_dir, fonts_dir)


CODEBOOK_COLUMNS = ("variable", "label", "type", "source", "derived_from", "code", "value_label",
                    "missing", "n", "note")


def read_codebook(path: Path) -> pd.DataFrame:
    """A codebook CSV (parentlink.codebook) as text; a missing file or column is one error
    naming the file and the rule that writes it."""
    from parentlink import csvio

    if not path.is_file():
        fail(f"{path}: codebook not found; run the codebook rule first.")
    book = csvio.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CODEBOOK_COLUMNS if c not in book.columns]
    if missing:
        fail(f"{path}: codebook lacks column(s) {', '.join(missing)}; rebuild it with the "
             "codebook rule (docs/data-contract.md).")
    return book


def render_appendix(
    *,
    survey: str,
    survey_label: str,
    weighted: bool,
    population: str,
    min_base: int,
    study: Mapping[str, Any],
    estimates: Path,
    codebook: Path,
    version: str,
    min_cell: int = 10,
    templates_dir: Path,
    engine_dir: Path,
    fonts_dir: Path,
    results_dir: Path,
    out_pdf: Path,
) -> None:
    """The appendix of one survey (appendix.html, the study's if it has one): every estimate
    table with the question's wording and the groups' labels, and the codebook.

    Made from the estimates, the codebook and config values only (the survey's label, whether
    it is weighted, report.population, disclosure.min_base and min_cell), not from facts.json,
    so its job starts as soon as the estimates are written: the longest rendering job no longer
    waits for the facts. Templates get those values by name (`survey_title`, `weighted`,
    `population`, `min_base`, `min_cell`); `facts` and `f` are empty."""
    from parentlink.facts import read_estimates

    env = make_env([templates_dir, engine_dir], font_coverage(fonts_dir))
    title = f"{study.get('title', 'Study')}: appendix, {survey_label}"
    ctx = _base_context({}, study, f"appendix_{survey}", title,
                        Assets(results_dir / "figures", fonts_dir, inline=False))
    book = read_codebook(codebook)
    titles = dict(zip(book["variable"], book["label"], strict=True))
    ctx.update(
        inline=False,
        survey=survey,
        survey_title=survey_label,
        weighted=weighted,
        population=population,
        min_base=min_base,
        tables=estimate_tables(read_estimates(estimates), min_base, titles),
        codebook=codebook_summary(book),
        code_version=version,
        min_cell=min_cell,
    )
    html = render_html(env, "appendix.html", ctx)
    fetcher = make_fetcher([templates_dir, engine_dir, fonts_dir, results_dir])
    write_pdf(html, out_pdf, f"appendix_{survey}", fetcher, engine_dir, fonts_dir)
