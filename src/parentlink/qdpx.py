"""Read coded documents: REFI-QDA projects (.qdpx / .qde) or a flat CSV of coded segments.

The REFI-QDA project exchange standard (QDA-XML 1.0, namespace ``urn:QDA-XML:project:1.0``) is
what NVivo, ATLAS.ti, MAXQDA and QualCoder export: a zip (``.qdpx``) holding ``project.qde`` and
the source files under ``Sources/``. What is read here:

* ``Users/User`` -- coders, in file order; the first is the primary coder.
* ``CodeBook/Codes/Code`` -- nested codes at any depth (``code_path`` joins names with ``/``).
* ``Sources/TextSource`` -- text inline (``PlainTextContent``) or in a file named by
  ``plainTextPath`` (``internal://`` inside the archive's ``Sources/``; ``relative://`` against
  the project's ``basePath`` or the project's folder; ``absolute://``).
* ``PlainTextSelection`` (``startPosition`` / ``endPosition`` are character offsets into the
  text, end exclusive) with ``Coding/CodeRef``; the coder is the Coding's ``creatingUser``, else
  the selection's.
* ``Variables`` + ``Cases/Case`` (``VariableValue``, ``SourceRef``) and ``VariableValue`` on the
  source itself -- the case attributes document type, organisation and year.

Other source kinds (PDF, picture, audio, video) and codes applied to a whole source are ignored.
Any problem a user can fix raises :class:`parentlink.errors.UserError` with one sentence.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import pandas as pd

from parentlink.errors import fail

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


@dataclass(frozen=True)
class QdaProject:
    """Coded documents as tidy tables; ``coders`` is in priority order (first = primary)."""

    segments: pd.DataFrame
    documents: pd.DataFrame
    codebook: pd.DataFrame
    coders: tuple[str, ...]
    source: Path


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def norm_guid(value: str) -> str:
    # The standard allows braces and either case; compare GUIDs in one spelling.
    return value.strip().strip("{}").lower()


def read_codes(path: str | Path) -> QdaProject:
    """Read a .qdpx, a .qde or a flat .csv of coded segments (chosen by file extension)."""
    path = Path(path)
    if not path.is_file():
        fail(f"{path}: file not found; set documents.source in config/config.yaml to an "
             "existing .qdpx, .qde or .csv file.")
    suffix = path.suffix.lower()
    if suffix == ".qdpx":
        return read_qdpx(path)
    if suffix == ".qde":
        return read_qde(path)
    if suffix == ".csv":
        return read_segments_csv(path)
    return fail(f"{path}: unknown extension '{path.suffix}'; give a .qdpx, .qde or .csv file.")


# ---------------------------------------------------------------- REFI-QDA


def read_qdpx(path: Path) -> QdaProject:
    """Read a REFI-QDA project archive (zip with project.qde and Sources/)."""
    if not zipfile.is_zipfile(path):
        fail(f"{path}: not a zip archive, so not a .qdpx project; export the project again "
             "from the QDA software as a REFI-QDA project (.qdpx).")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        qde = [n for n in names if "/" not in n.strip("/") and n.lower().endswith(".qde")]
        if "project.qde" in names:
            qde = ["project.qde"]
        if len(qde) != 1:
            fail(f"{path}: the archive has no project.qde at its root; export the project "
                 "again as a REFI-QDA project (.qdpx).")
        members = set(names)

        def load(rel: str) -> bytes | None:
            member = f"Sources/{rel}"
            return zf.read(member) if member in members else None

        return parse_project(zf.read(qde[0]), path, load, path.parent)


def read_qde(path: Path) -> QdaProject:
    """Read a bare project.qde; internal:// texts are looked up in a Sources/ folder beside it."""
    def load(rel: str) -> bytes | None:
        file = path.parent / "Sources" / rel
        return file.read_bytes() if file.is_file() else None

    return parse_project(path.read_bytes(), path, load, path.parent)


def parse_xml(data: bytes, path: Path) -> ET.Element:
    # A DTD is never needed in QDA-XML; refusing it rules out entity-expansion tricks.
    if b"<!DOCTYPE" in data[:4096].upper():
        fail(f"{path}: project.qde declares a DOCTYPE, which REFI-QDA projects never use; "
             "remove it or export the project again.")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        fail(f"{path}: project.qde is not well-formed XML ({err}); export the project again.")
    if root.tag != q("Project"):
        found = root.tag[1:].split("}")[0] if root.tag.startswith("{") else "no namespace"
        fail(f"{path}: root element is {root.tag.split('}')[-1]} in namespace '{found}', not "
             f"Project in '{NS}'; export a REFI-QDA 1.0 project (.qdpx).")
    return root


def parse_project(
    data: bytes, path: Path, load: Callable[[str], bytes | None], folder: Path
) -> QdaProject:
    root = parse_xml(data, path)
    check_unique_guids(root, path)
    users = read_users(root)
    codebook = read_codebook(root)
    codes = {g: row for g, row in zip(codebook["guid"], codebook.to_dict("records"), strict=True)}
    base = Path(root.get("basePath") or folder)
    texts: dict[str, str | None] = {}
    names: dict[str, str] = {}
    seg_rows: list[dict[str, object]] = []
    for src in iter_text_sources(root):
        sguid = norm_guid(src.get("guid", ""))
        text = source_text(src, path, load, base)
        texts[sguid], names[sguid] = text, src.get("name") or sguid
        seg_rows += read_selections(src, text, codes, users, path)
    attrs = read_case_attributes(root, path, set(texts))
    documents = documents_frame(names, texts, attrs)
    segments = segments_frame(seg_rows, documents)
    return QdaProject(segments, documents, codebook, tuple(users.values()) or ("unknown",), path)


def check_unique_guids(root: ET.Element, path: Path) -> None:
    seen: dict[str, ET.Element] = {}
    for el in root.iter():
        if "guid" not in el.attrib:
            continue
        g = norm_guid(el.attrib["guid"])
        if g in seen:
            fail(f"{path}: GUID {g} is used by both <{local(seen[g])} name="
                 f"'{seen[g].get('name', '')}'> and <{local(el)} name='{el.get('name', '')}'>; "
                 "every element needs its own GUID, so repair or re-export the project.")
        seen[g] = el


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
    rows: list[dict[str, object]] = []
    codes = root.find(f"{q('CodeBook')}/{q('Codes')}")
    for code in codes.findall(q("Code")) if codes is not None else []:
        walk_codes(code, "", "", 1, rows)
    return pd.DataFrame(rows, columns=CODEBOOK_COLUMNS)


def walk_codes(el: ET.Element, parent_path: str, parent: str, depth: int,
               rows: list[dict[str, object]]) -> None:
    """Flatten nested Code elements depth-first, whatever the depth."""
    name = el.get("name", "")
    path = f"{parent_path}{SEP}{name}" if parent_path else name
    rows.append({
        "guid": norm_guid(el.get("guid", "")), "name": name, "code_path": path,
        "parent": parent, "parent_path": parent_path, "depth": depth,
        "is_codable": el.get("isCodable", "true").strip().lower() in {"true", "1"},
    })
    for child in el.findall(q("Code")):
        walk_codes(child, path, name, depth + 1, rows)


def iter_text_sources(root: ET.Element) -> Iterator[ET.Element]:
    sources = root.find(q("Sources"))
    return iter(sources.findall(q("TextSource")) if sources is not None else [])


def source_text(src: ET.Element, path: Path, load: Callable[[str], bytes | None], base: Path
                ) -> str:
    label = f"TextSource '{src.get('name', '')}' ({src.get('guid', '')})"
    inline = src.find(q("PlainTextContent"))
    if inline is not None:
        return inline.text or ""
    location = src.get("plainTextPath")
    if not location:
        fail(f"{path}: {label} has neither PlainTextContent nor plainTextPath; export the "
             "project again with its text sources.")
    data = fetch_text(location, load, base)
    if data is None:
        where = "in the archive's Sources/ folder" if location.startswith("internal://") \
            else f"relative to {base}"
        fail(f"{path}: {label} points to {location}, which is missing {where}; copy the source "
             "file there or export the project again with its sources.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return fail(f"{path}: {label} text {location} is not UTF-8; re-save it as UTF-8 text.")


def fetch_text(location: str, load: Callable[[str], bytes | None], base: Path) -> bytes | None:
    scheme, _, rest = location.partition("://")
    rest = unquote(rest)
    if scheme == "internal":
        return load(str(PurePosixPath(rest)))
    if scheme in {"relative", "absolute"}:
        file = base / rest if scheme == "relative" else Path(rest)
        return file.read_bytes() if file.is_file() else None
    return None


def read_selections(
    src: ET.Element, text: str, codes: dict[str, dict[str, object]], users: dict[str, str],
    path: Path,
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    sguid = norm_guid(src.get("guid", ""))
    for sel in src.findall(q("PlainTextSelection")):
        start, end = positions(sel, src, text, path)
        for coding in sel.findall(q("Coding")):
            ref = coding.find(q("CodeRef"))
            target = norm_guid(ref.get("targetGUID", "")) if ref is not None else ""
            if target not in codes:
                fail(f"{path}: Coding in selection {sel.get('guid')} of source "
                     f"'{src.get('name', '')}' refers to code GUID '{target}', which is not in "
                     "the CodeBook; add the code or remove the coding and re-export.")
            code = codes[target]
            rows.append({
                "source_guid": sguid, "coder": coder_name(coding, sel, users, path),
                "code": code["name"], "code_path": code["code_path"],
                "parent_code": code["parent"], "start": start, "end": end,
                "quote": text[start:end],
            })
    return rows


def positions(sel: ET.Element, src: ET.Element, text: str, path: Path) -> tuple[int, int]:
    label = f"PlainTextSelection {sel.get('guid')} in source '{src.get('name', '')}'"
    try:
        start, end = int(sel.get("startPosition", "")), int(sel.get("endPosition", ""))
    except ValueError:
        fail(f"{path}: {label} lacks integer startPosition/endPosition; export the project again.")
    if not 0 <= start < end <= len(text):
        fail(f"{path}: {label} spans characters {start}-{end}, outside its source text of "
             f"{len(text)} characters; fix the positions or export the project again.")
    return start, end


def coder_name(coding: ET.Element, sel: ET.Element, users: dict[str, str], path: Path) -> str:
    user = coding.get("creatingUser") or sel.get("creatingUser")
    if user is None:
        return "unknown"
    g = norm_guid(user)
    if users and g not in users:
        fail(f"{path}: selection {sel.get('guid')} was made by user GUID '{g}', which is not in "
             "<Users>; add the user or export the project again.")
    return users.get(g, g)


def read_case_attributes(root: ET.Element, path: Path, sources: set[str]
                         ) -> dict[str, dict[str, str]]:
    """Source GUID -> {doc_type, organisation, year} from Cases and source VariableValues."""
    variables = {norm_guid(v.get("guid", "")): v.get("name", "")
                 for v in root.iterfind(f"{q('Variables')}/{q('Variable')}")}
    attrs: dict[str, dict[str, str]] = {}
    for case in root.iterfind(f"{q('Cases')}/{q('Case')}"):
        values = variable_values(case, variables, path)
        for ref in case.findall(q("SourceRef")):
            target = norm_guid(ref.get("targetGUID", ""))
            if target not in sources:
                fail(f"{path}: Case '{case.get('name', '')}' has a SourceRef to '{target}', which "
                     "is not a TextSource; remove the reference or export the project again.")
            attrs.setdefault(target, {}).update(values)
    for src in iter_text_sources(root):
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


def documents_frame(names: Mapping[str, str], texts: Mapping[str, str | None],
                    attrs: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """One row per document; ids D001.. follow document name order so both readers agree."""
    order = sorted(names, key=lambda g: (names[g], g))
    rows = []
    for i, g in enumerate(order, start=1):
        a = attrs.get(g, {})
        text = texts.get(g)
        rows.append({
            "document_id": f"D{i:03d}", "document": names[g],
            "doc_type": a.get("doc_type") or UNSPECIFIED,
            "organisation": a.get("organisation") or UNSPECIFIED,
            "year": parse_year(a.get("year")),
            "n_chars": len(text) if text is not None else None, "source_guid": g,
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
    return QdaProject(segments, documents, codebook_from_paths(segments), tuple(coders), path)


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
