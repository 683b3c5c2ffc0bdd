"""Read coded documents: REFI-QDA projects (.qdpx / .qde) or a flat CSV of coded segments.

The REFI-QDA project exchange standard (QDA-XML 1.0, namespace ``urn:QDA-XML:project:1.0``) is
what NVivo, ATLAS.ti, MAXQDA and QualCoder export: a zip (``.qdpx``) holding ``project.qde`` and
the source files under ``Sources/``. What is read here:

* ``Users/User`` -- coders, in file order; the first is the primary coder.
* ``CodeBook/Codes/Code`` -- nested codes at any depth (``code_path`` joins names with ``/``).
* ``Sources/TextSource`` -- text inline (``PlainTextContent``) or in a file named by
  ``plainTextPath``: ``internal://`` (or no scheme) inside the archive's ``Sources/`` folder in
  any letter case; ``relative://`` and ``absolute://`` only from the folder the config names as
  ``documents.external_sources`` (never the project's own ``basePath``). Texts may carry a UTF-8
  or UTF-16 byte-order mark; CRLF line ends become LF.
* ``PlainTextSelection`` (``startPosition`` / ``endPosition``, end exclusive, in the unit the
  exporting tool counts in: :mod:`parentlink.qda_positions`) with ``Coding/CodeRef``; the coder
  is the selection's ``creatingUser``, else its ``modifyingUser``, else the Coding's
  ``creatingUser`` (QualCoder's import rule).
* ``Variables`` + ``Cases/Case`` (``VariableValue``, ``SourceRef``) and ``VariableValue`` on the
  source itself -- the case attributes document type, organisation and year.

Other source kinds (PDF, picture, audio, video) are skipped and counted (:class:`Reading`);
codes applied to a whole source, sets, notes and links are ignored. What the reader may open
and how much is bounded by :mod:`parentlink.qda_archive`. Any problem a user can fix raises
:class:`parentlink.errors.UserError` with one sentence.
"""

from __future__ import annotations

import codecs
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd

from parentlink.errors import fail
from parentlink.qda_archive import (
    MIB,
    Archive,
    Budget,
    Limits,
    check_root,
    find_folder,
    parse_xml,
    read_confined,
    safe_parts,
    too_big,
)
from parentlink.qda_positions import (
    CONFIG_UNITS,
    NAME_MIN,
    Choice,
    TextIndex,
    choose_unit,
    name_agrees,
)

NS = "urn:QDA-XML:project:1.0"
SEP = "/"
SEGMENT_COLUMNS = [
    "document_id", "document", "doc_type", "organisation", "year", "coder", "code",
    "code_path", "parent_code", "start", "end", "quote",
]
DOCUMENT_COLUMNS = ["document_id", "document", "doc_type", "organisation", "year", "n_chars",
                    "source_guid"]
CODEBOOK_COLUMNS = ["guid", "name", "code_path", "parent", "parent_path", "depth", "is_codable"]
CSV_COLUMNS = ["document", "type", "organisation", "year", "coder", "code", "start", "end",
               "quote"]
UNSPECIFIED = "unspecified"
# Case-variable names (normalised) that carry the three case attributes.
ATTRIBUTE_NAMES = {
    "doc_type": {"document_type", "doc_type", "type", "documenttype", "source_type"},
    "organisation": {"organisation", "organization", "org"},
    "year": {"year", "publication_year"},
}


@dataclass
class Reading:
    """How a project was read, for the log and the technical report."""

    origin: str = ""  # Project@origin: the exporting tool
    skipped: dict[str, int] = field(default_factory=dict)  # non-text source kind -> count
    units: dict[str, str] = field(default_factory=dict)  # source name -> position unit used
    coder_differs: int = 0  # codings whose Coding@creatingUser is not the counted coder

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {k}" for k, n in sorted(self.skipped.items())) or "none"
        units = sorted(set(self.units.values())) or ["none"]
        return (f"exported by {self.origin or 'unknown tool'}; non-text sources skipped: "
                f"{skipped}; positions read as {', '.join(units)}; codings whose Coding "
                f"creatingUser differs from the selection's: {self.coder_differs}")


@dataclass(frozen=True)
class QdaProject:
    """Coded documents as tidy tables; ``coders`` is in priority order (first = primary)."""

    segments: pd.DataFrame
    documents: pd.DataFrame
    codebook: pd.DataFrame
    coders: tuple[str, ...]
    source: Path
    reading: Reading = field(default_factory=Reading)


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


@lru_cache(maxsize=2**16)
def norm_guid(value: str) -> str:
    # The standard allows braces and either case; compare GUIDs in one spelling.
    return value.strip().strip("{}").lower()


@dataclass(frozen=True)
class ReadOptions:
    """What the config allows the reader: an external-sources folder and the size limits."""

    external_sources: Path | None = None
    limits: Limits = Limits()
    position_unit: str | None = None  # one of CONFIG_UNITS' values; None = detect

    @classmethod
    def from_config(cls, external_sources: str | None, max_file_mb: float, max_total_mb: float,
                    position_unit: str = "auto") -> ReadOptions:
        limits = Limits(max_file_bytes=int(max_file_mb * MIB),
                        max_total_bytes=int(max_total_mb * MIB))
        folder = Path(external_sources) if external_sources else None
        return cls(folder, limits, CONFIG_UNITS.get(position_unit))


def read_codes(path: str | Path, options: ReadOptions | None = None) -> QdaProject:
    """Read a .qdpx, a .qde or a flat .csv of coded segments (chosen by file extension)."""
    path, options = Path(path), options or ReadOptions()
    if not path.is_file():
        fail(f"{path}: file not found; set documents.source in config/config.yaml to an "
             "existing .qdpx, .qde or .csv file.")
    suffix = path.suffix.lower()
    if suffix == ".qdpx":
        project = read_qdpx(path, options)
    elif suffix == ".qde":
        project = read_qde(path, options)
    elif suffix == ".csv":
        project = read_segments_csv(path)
    else:
        fail(f"{path}: unknown extension '{path.suffix}'; give a .qdpx, .qde or .csv file.")
    if project.segments.empty:
        fail(f"{path}: the project has no coded text (0 codings on text sources); export it "
             "again after coding, or check that the codings are on text rather than PDF or "
             "media sources.")
    return project


# ---------------------------------------------------------------- REFI-QDA


class Loader:
    """Finds the bytes of a text source, never outside the archive or the named folders."""

    def __init__(self, path: Path, options: ReadOptions, budget: Budget,
                 archive: Archive | None) -> None:
        self.path, self.options, self.budget, self.archive = path, options, budget, archive
        self.external = (check_root(options.external_sources, "documents.external_sources")
                         if options.external_sources is not None else None)

    def load(self, location: str, label: str) -> bytes:
        scheme, sep, rest = location.partition("://")
        if not sep:  # some exports write the bare file name: it is in the archive's sources
            scheme, rest = "internal", location
        scheme = scheme.lower()
        rest = unquote(rest)
        what = f"{label} ({location})"
        if scheme == "internal":
            data = self.internal(rest, what)
            where = "in the archive's Sources/ folder"
        elif scheme in {"relative", "absolute"}:
            data, where = self.outside(scheme, rest, what, location)
        else:
            fail(f"{self.path}: {what} uses the scheme '{scheme}://', which is not a REFI-QDA "
                 "path; export the project again.")
        if data is None:
            fail(f"{self.path}: {label} points to {location}, which is missing {where}; copy "
                 "the source file there or export the project again with its sources.")
        return data

    def internal(self, rest: str, what: str) -> bytes | None:
        parts = safe_parts(rest)
        if parts is None:
            fail(f"{self.path}: {what} leaves the project's Sources/ folder; do not use this "
                 "file, export the project again.")
        if self.archive is not None:
            info = self.archive.source("/".join(parts))
            return self.archive.read(info) if info is not None else None
        folder = find_folder(self.path.parent, "Sources")
        if folder is None:
            return None
        return read_confined(folder, parts, self.options.limits, self.budget, what)

    def outside(self, scheme: str, rest: str, what: str, location: str
                ) -> tuple[bytes | None, str]:
        if self.external is None:
            fail(f"{self.path}: {what} is a file outside the project, which the reader opens "
                 "only from a folder you name; export the project with its sources embedded, "
                 "or set documents.external_sources in config/config.yaml to the folder "
                 "holding the source texts.")
        if scheme == "relative":
            parts = safe_parts(rest.lstrip("/"))
            if parts is None:
                fail(f"{self.path}: {what} leaves the folder documents.external_sources; do "
                     "not use this file, export the project again.")
        else:  # a path on the exporting machine: only its file name means anything here
            name = rest.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
            parts = safe_parts(name)
            if parts is None:
                fail(f"{self.path}: {what} has no file name; export the project again.")
        data = read_confined(self.external, parts, self.options.limits, self.budget, what)
        return data, f"from documents.external_sources ({self.external})"


def read_qdpx(path: Path, options: ReadOptions) -> QdaProject:
    """Read a REFI-QDA project archive (zip with project.qde and Sources/ in any case)."""
    if not zipfile.is_zipfile(path):
        fail(f"{path}: not a zip archive, so not a .qdpx project; export the project again "
             "from the QDA software as a REFI-QDA project (.qdpx).")
    budget = Budget(path, options.limits)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        fail(f"{path}: the zip archive cannot be opened ({err}); export the project again.")
    with zf:
        archive = Archive(zf, path, options.limits, budget)
        info = archive.project_member()
        if info is None:
            fail(f"{path}: the archive has no project.qde at its root; export the project "
                 "again as a REFI-QDA project (.qdpx).")
        loader = Loader(path, options, budget, archive)
        return parse_project(archive.read(info), path, loader)


def read_qde(path: Path, options: ReadOptions) -> QdaProject:
    """Read a bare project.qde; internal:// texts are looked up in a Sources/ folder beside it."""
    budget = Budget(path, options.limits)
    size = path.stat().st_size
    if size > options.limits.max_file_bytes:
        too_big(path, "project.qde", size, options.limits)
    data = path.read_bytes()
    budget.take(len(data), "project.qde")
    return parse_project(data, path, Loader(path, options, budget, None))


def parse_project(data: bytes, path: Path, loader: Loader) -> QdaProject:
    root = parse_xml(data, path, loader.options.limits)
    if root.tag != q("Project"):
        found = root.tag[1:].split("}")[0] if root.tag.startswith("{") else "no namespace"
        fail(f"{path}: root element is {root.tag.split('}')[-1]} in namespace '{found}', not "
             f"Project in '{NS}'; export a REFI-QDA 1.0 project (.qdpx).")
    all_guids = check_unique_guids(root, path)
    users = read_users(root)
    codebook = read_codebook(root)
    codes = {g: row for g, row in zip(codebook["guid"], codebook.to_dict("records"), strict=True)}
    origin = root.get("origin") or ""
    lengths: dict[str, int | None] = {}
    names: dict[str, str] = {}
    seg_rows: list[dict[str, object]] = []
    reading = Reading(origin=origin)
    for src in iter_sources(root, reading):
        sguid = norm_guid(src.get("guid", ""))
        index = TextIndex(source_text(src, path, loader))
        lengths[sguid], names[sguid] = len(index.text), src.get("name") or sguid
        seg_rows += read_selections(src, index, codes, users, path, reading,
                                    loader.options.position_unit)
    attrs = read_case_attributes(root, path, set(lengths), all_guids)
    documents = documents_frame(names, lengths, attrs)
    segments = segments_frame(seg_rows, documents)
    return QdaProject(segments, documents, codebook, tuple(users.values()) or ("unknown",), path,
                      reading)


def check_unique_guids(root: ET.Element, path: Path) -> set[str]:
    seen: dict[str, ET.Element] = {}
    for el in root.iter():
        raw = el.get("guid")
        if raw is None:
            continue
        g = norm_guid(raw)
        if g in seen:
            fail(f"{path}: GUID {g} is used by both <{local(seen[g])} name="
                 f"'{seen[g].get('name', '')}'> and <{local(el)} name='{el.get('name', '')}'>; "
                 "every element needs its own GUID, so repair or re-export the project.")
        seen[g] = el
    return set(seen)


def local(el: ET.Element) -> str:
    return el.tag.split("}")[-1]


def read_users(root: ET.Element) -> dict[str, str]:
    """User GUID -> display name (name, else id, else GUID), in file order."""
    users: dict[str, str] = {}
    for user in root.iterfind(f"{q('Users')}/{q('User')}"):
        g = norm_guid(user.get("guid", ""))
        users[g] = user.get("name") or user.get("id") or g
    return users


def read_codebook(root: ET.Element) -> pd.DataFrame:
    """Flatten nested Code elements depth-first, whatever the depth (no recursion)."""
    rows: list[dict[str, object]] = []
    codes = root.find(f"{q('CodeBook')}/{q('Codes')}")
    stack: list[tuple[ET.Element, str, str, int]] = [
        (code, "", "", 1) for code in reversed(codes.findall(q("Code")) if codes is not None
                                               else [])]
    while stack:
        el, parent_path, parent, depth = stack.pop()
        name = el.get("name", "")
        path = f"{parent_path}{SEP}{name}" if parent_path else name
        rows.append({
            "guid": norm_guid(el.get("guid", "")), "name": name, "code_path": path,
            "parent": parent, "parent_path": parent_path, "depth": depth,
            "is_codable": el.get("isCodable", "true").strip().lower() in {"true", "1"},
        })
        stack += [(child, path, name, depth + 1) for child in reversed(el.findall(q("Code")))]
    return pd.DataFrame(rows, columns=CODEBOOK_COLUMNS)


def iter_sources(root: ET.Element, reading: Reading) -> Iterator[ET.Element]:
    """The TextSources; every other source kind is counted in ``reading`` and skipped."""
    sources = root.find(q("Sources"))
    for src in sources if sources is not None else []:
        kind = local(src)
        if kind == "TextSource":
            yield src
        else:
            reading.skipped[kind] = reading.skipped.get(kind, 0) + 1


def decode(data: bytes, path: Path, label: str) -> str:
    """Text by its BOM (UTF-8, UTF-16 LE/BE), else UTF-8."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8):].decode("utf-8")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return fail(f"{path}: {label} text is neither UTF-8 nor UTF-16 with a byte-order mark; "
                    "re-save it as UTF-8 text.")


def source_text(src: ET.Element, path: Path, loader: Loader) -> str:
    label = f"TextSource '{src.get('name', '')}' ({src.get('guid', '')})"
    inline = src.find(q("PlainTextContent"))
    if inline is not None:
        return inline.text or ""
    location = src.get("plainTextPath")
    if not location:
        fail(f"{path}: {label} has neither PlainTextContent nor plainTextPath; export the "
             "project again with its text sources.")
    return decode(loader.load(location, label), path, label)


def read_selections(
    src: ET.Element, index: TextIndex, codes: dict[str, dict[str, object]],
    users: dict[str, str], path: Path, reading: Reading, forced_unit: str | None = None,
) -> list[dict[str, object]]:
    sels = src.findall(q("PlainTextSelection"))
    if not sels:
        return []
    label = f"source '{src.get('name', '')}'"
    start, end = positions(sels, path, label)
    choice = choose_unit(index, start, end, [s.get("name") or "" for s in sels],
                         reading.origin, forced_unit)
    check_choice(choice, sels, index, start, end, path, label)
    mapped = choice.mapped
    reading.units[src.get("name") or norm_guid(src.get("guid", ""))] = mapped.unit
    rows: list[dict[str, object]] = []
    sguid = norm_guid(src.get("guid", ""))
    for i, sel in enumerate(sels):
        s, e = int(mapped.start[i]), int(mapped.end[i])
        quote = index.text[s:e]
        for coding in sel.findall(q("Coding")):
            ref = coding.find(q("CodeRef"))
            target = norm_guid(ref.get("targetGUID", "")) if ref is not None else ""
            if target not in codes:
                fail(f"{path}: Coding in selection {sel.get('guid')} of {label} refers to code "
                     f"GUID '{target}', which is not in the CodeBook; add the code or remove "
                     "the coding and re-export.")
            code = codes[target]
            rows.append({
                "source_guid": sguid, "coder": coder_name(coding, sel, users, path, reading),
                "code": code["name"], "code_path": code["code_path"],
                "parent_code": code["parent"], "start": s, "end": e, "quote": quote,
            })
    return rows


def positions(sels: list[ET.Element], path: Path, label: str) -> tuple[np.ndarray, np.ndarray]:
    start, end = np.empty(len(sels), dtype=np.int64), np.empty(len(sels), dtype=np.int64)
    for i, sel in enumerate(sels):
        try:
            start[i], end[i] = int(sel.get("startPosition", "")), int(sel.get("endPosition", ""))
        except (ValueError, OverflowError):
            fail(f"{path}: PlainTextSelection {sel.get('guid')} in {label} lacks integer "
                 "startPosition/endPosition; export the project again.")
    return start, end


def check_choice(choice: Choice, sels: list[ET.Element], index: TextIndex, start: np.ndarray,
                 end: np.ndarray, path: Path, label: str) -> None:
    """Every selection inside the text; named selections agree with it when names are text."""
    mapped = choice.mapped
    if choice.ambiguous:
        fail(f"{path}: the positions in {label} select different text when counted in "
             f"{' or '.join(choice.ambiguous)}, and neither the selections' names nor the "
             "exporting tool says which; set documents.position_unit in config/config.yaml "
             "(code_points, utf16, code_points_crlf_one or utf16_crlf_one) to the unit your "
             "QDA software counts in.")
    if not mapped.ok.all():
        i = int(np.flatnonzero(~mapped.ok)[0])
        fail(f"{path}: PlainTextSelection {sels[i].get('guid')} in {label} spans characters "
             f"{start[i]}-{end[i]}, outside its source text of {len(index.text)} characters "
             "(or inside a character) in every unit tools count in; fix the positions or "
             "export the project again.")
    if choice.named and 2 * choice.agree >= choice.named and choice.agree < choice.named:
        for i, sel in enumerate(sels):
            name = sel.get("name") or ""
            quote = index.text[int(mapped.start[i]):int(mapped.end[i])]
            if len(name.strip()) >= NAME_MIN and not name_agrees(name, quote):
                fail(f"{path}: PlainTextSelection {sel.get('guid')} in {label} is named "
                     f"'{name[:40]}' but its positions {start[i]}-{end[i]} ({mapped.unit}) "
                     f"select '{quote[:40]}'; fix the positions or export the project again.")


def coder_name(coding: ET.Element, sel: ET.Element, users: dict[str, str], path: Path,
               reading: Reading) -> str:
    """The selection's creatingUser, else its modifyingUser, else the Coding's creatingUser.

    This is QualCoder's import rule; the Coding's user is counted when it differs.
    """
    user = sel.get("creatingUser") or sel.get("modifyingUser") or coding.get("creatingUser")
    other = coding.get("creatingUser")
    if other and user and norm_guid(other) != norm_guid(user):
        reading.coder_differs += 1
    if user is None:
        return "unknown"
    g = norm_guid(user)
    if users and g not in users:
        fail(f"{path}: selection {sel.get('guid')} was made by user GUID '{g}', which is not in "
             "<Users>; add the user or export the project again.")
    return users.get(g, g)


def read_case_attributes(root: ET.Element, path: Path, sources: set[str], guids: set[str]
                         ) -> dict[str, dict[str, str]]:
    """Source GUID -> {doc_type, organisation, year} from Cases and source VariableValues."""
    variables = {norm_guid(v.get("guid", "")): v.get("name", "")
                 for v in root.iterfind(f"{q('Variables')}/{q('Variable')}")}
    attrs: dict[str, dict[str, str]] = {}
    for case in root.iterfind(f"{q('Cases')}/{q('Case')}"):
        values = variable_values(case, variables, path)
        for ref in case.findall(q("SourceRef")):
            target = norm_guid(ref.get("targetGUID", ""))
            if target not in guids:
                fail(f"{path}: Case '{case.get('name', '')}' has a SourceRef to '{target}', which "
                     "is nowhere in the project; remove the reference or export it again.")
            if target not in sources:
                continue  # a PDF, picture, audio or video source: not analysed
            attrs.setdefault(target, {}).update(values)
    sources_el = root.find(q("Sources"))
    for src in sources_el.findall(q("TextSource")) if sources_el is not None else []:
        attrs.setdefault(norm_guid(src.get("guid", "")), {}).update(
            variable_values(src, variables, path))
    return attrs


def variable_values(el: ET.Element, variables: dict[str, str], path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for vv in el.findall(q("VariableValue")):
        ref = vv.find(q("VariableRef"))
        target = norm_guid(ref.get("targetGUID", "")) if ref is not None else ""
        if target not in variables:
            fail(f"{path}: a VariableValue of '{el.get('name', '')}' refers to variable GUID "
                 f"'{target}', which is not in <Variables>; export the project again.")
        key = attribute_key(variables[target])
        value = next((c.text for c in vv if local(c) != "VariableRef"), None)
        if key and value is not None:
            out[key] = value.strip()
    return out


def attribute_key(name: str) -> str | None:
    normal = name.strip().lower().replace(" ", "_").replace("-", "_")
    return next((key for key, names in ATTRIBUTE_NAMES.items() if normal in names), None)


# ---------------------------------------------------------------- tables


def documents_frame(names: Mapping[str, str], lengths: Mapping[str, int | None],
                    attrs: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """One row per document; ids D001.. follow document name order so both readers agree."""
    order = sorted(names, key=lambda g: (names[g], g))
    rows = []
    for i, g in enumerate(order, start=1):
        a = attrs.get(g, {})
        rows.append({
            "document_id": f"D{i:03d}", "document": names[g],
            "doc_type": a.get("doc_type") or UNSPECIFIED,
            "organisation": a.get("organisation") or UNSPECIFIED,
            "year": parse_year(a.get("year")),
            "n_chars": lengths.get(g), "source_guid": g,
        })
    frame = pd.DataFrame(rows, columns=DOCUMENT_COLUMNS)
    for col in ("year", "n_chars"):
        frame[col] = frame[col].astype("Int64")
    return frame


def parse_year(value: str | None) -> int | None:
    try:
        return int(str(value).strip()[:4]) if value not in (None, "") else None
    except ValueError:
        return None


def segments_frame(rows: list[dict[str, object]], documents: pd.DataFrame) -> pd.DataFrame:
    meta = documents.set_index("source_guid")
    seg = pd.DataFrame(rows, columns=["source_guid", "coder", "code", "code_path",
                                      "parent_code", "start", "end", "quote"])
    seg = seg.join(meta[["document_id", "document", "doc_type", "organisation", "year"]],
                   on="source_guid")
    seg = seg[SEGMENT_COLUMNS].astype({"start": "int64", "end": "int64"})
    seg["year"] = seg["year"].astype("Int64")
    keys = ["document_id", "coder", "start", "end", "code_path"]
    return seg.sort_values(keys, kind="mergesort").reset_index(drop=True)


# ---------------------------------------------------------------- flat CSV


def read_segments_csv(path: Path) -> QdaProject:
    """Read a flat CSV of coded segments; ``code`` may be a path of names joined by '/'."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        fail(f"{path}: cannot be read as a UTF-8 CSV ({err}); save it as UTF-8 CSV.")
    missing = [c for c in CSV_COLUMNS if c not in raw.columns]
    if missing:
        fail(f"{path}: missing column(s) {', '.join(missing)}; the coded-segments CSV needs "
             f"{', '.join(CSV_COLUMNS)}.")
    coders: list[str] = []
    docs: dict[str, dict[str, str]] = {}
    rows = []
    for i, rec in enumerate(raw[CSV_COLUMNS].to_dict("records")):
        rows.append(csv_row(rec, i + 2, path))
        if rec["coder"] not in coders:
            coders.append(rec["coder"])
        check_document(docs, rec, i + 2, path)
    names = {d: d for d in docs}
    documents = documents_frame(names, dict.fromkeys(docs), docs)
    for row in rows:
        row["source_guid"] = row.pop("document")
    segments = segments_frame(rows, documents)
    documents["source_guid"] = ""
    return QdaProject(segments, documents, codebook_from_paths(segments), tuple(coders), path,
                      Reading(origin="flat CSV of coded segments"))


def csv_row(rec: dict[str, str], line: int, path: Path) -> dict[str, object]:
    try:
        start, end = int(rec["start"]), int(rec["end"])
    except ValueError:
        fail(f"{path}: line {line} has start '{rec['start']}' and end '{rec['end']}', which are "
             "not whole numbers; give character offsets.")
    if not 0 <= start < end:
        fail(f"{path}: line {line} has start {start} and end {end}; start must be >= 0 and "
             "less than end.")
    parts = [p.strip() for p in rec["code"].split(SEP)]
    if not rec["document"].strip() or not all(parts):
        fail(f"{path}: line {line} has an empty document or code; fill it in or drop the row.")
    return {"document": rec["document"], "coder": rec["coder"] or "unknown", "code": parts[-1],
            "code_path": SEP.join(parts), "parent_code": parts[-2] if len(parts) > 1 else "",
            "start": start, "end": end, "quote": rec["quote"]}


def check_document(docs: dict[str, dict[str, str]], rec: dict[str, str], line: int, path: Path
                   ) -> None:
    attrs = {"doc_type": rec["type"], "organisation": rec["organisation"], "year": rec["year"]}
    seen = docs.setdefault(rec["document"], attrs)
    if seen != attrs:
        fail(f"{path}: line {line} gives document '{rec['document']}' type/organisation/year "
             f"{tuple(attrs.values())}, but an earlier row gave {tuple(seen.values())}; make "
             "them agree.")


def codebook_from_paths(segments: pd.DataFrame) -> pd.DataFrame:
    """Codebook implied by the code paths used (a CSV carries no codebook of its own)."""
    used = set(segments["code_path"])
    paths = sorted({SEP.join(p.split(SEP)[:k]) for p in used
                    for k in range(1, p.count(SEP) + 2)})
    rows = []
    for p in paths:
        parts = p.split(SEP)
        rows.append({"guid": "", "name": parts[-1], "code_path": p,
                     "parent": parts[-2] if len(parts) > 1 else "",
                     "parent_path": SEP.join(parts[:-1]), "depth": len(parts),
                     "is_codable": p in used})
    return pd.DataFrame(rows, columns=CODEBOOK_COLUMNS)
