"""Project-made REFI-QDA exports that reproduce how each QDA tool writes them (tests/fixtures/qda_tools).

No real export is redistributed (see tests/fixtures/README.md); each file here is written by this
module from one invented corpus, with the quirks of one tool:

* MAXQDA 24: lower-case ``sources/``, ``internal://``, UTF-8 with LF, code points; selection
  names hold the start of the selected text; Sets and Notes present.
* NVivo 12 (Windows): ``Sources/``, ``internal://``, UTF-8 with a BOM and CRLF; UTF-16 code
  units with CRLF as two; names hold the selected text; each Coding names another user (the
  project owner) than its selection.
* NVivo 15 (Mac): lower-case ``sources/``, ``plainTextPath`` without a scheme, UTF-16 LE text with
  a BOM and LF; UTF-16 code units; no names.
* ATLAS.ti 23: ``Sources/``, ``internal://``, UTF-8 with CRLF; code points with CRLF as one; a PDF
  and a picture source, and a Case that names the PDF.
* QualCoder 3.6: ``Sources/``, ``internal://``, UTF-8 with LF; code points.

Positions are computed here from the encoded text (``str.encode``), not by the reader's mapping,
so a test reading these files checks the reader against an independent count.

Regenerate with ``python -m tests.qda_tool_fixtures`` (byte-identical: fixed GUIDs and dates).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

NS = "urn:QDA-XML:project:1.0"
OUT = Path(__file__).parent / "fixtures" / "qda_tools"
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
WHEN = "2024-01-01T00:00:00Z"

# The invented corpus: (name, doc type, organisation, text with "\n" line ends).
DOCS = [
    ("Northshire Council - Data strategy", "local_authority", "Northshire Council",
     "Our data strategy links records across services.\nFamilies flagged early get help sooner "
     "\U0001F44D.\n\nWe will predict which households need support \U0001F642 before crisis.\n"),
    ("Acme Insight - Product sheet", "company", "Acme Insight",
     "Insight 360 spots hidden risk in family data \U0001F680.\nOne platform, one view of every "
     "child.\nBetter knowledge means better decisions.\n"),
]
# Code tree: (path, codable).
CODES = [
    ("Problem constructions", False), ("Problem constructions/Hidden risk", True),
    ("Problem constructions/Late help", True), ("Solution rationales", False),
    ("Solution rationales/Superior knowledge", True),
    ("Solution rationales/Superior knowledge/Holistic view", True),
    ("Solution rationales/Superior knowledge/Prediction", True),
    ("Solution rationales/Early intervention", True),
]
USERS = ["Coder A", "Coder B", "Project owner"]
# (document index, quote as the reader returns it, code path, coder)
CODINGS = [
    (0, "Families flagged early get help sooner \U0001F44D.", "Problem constructions/Late help",
     "Coder A"),
    (0, "We will predict which households need support \U0001F642 before crisis.",
     "Solution rationales/Superior knowledge/Prediction", "Coder A"),
    (0, "links records across services.\nFamilies flagged",
     "Solution rationales/Superior knowledge/Holistic view", "Coder B"),
    (1, "hidden risk in family data \U0001F680", "Problem constructions/Hidden risk", "Coder A"),
    (1, "One platform, one view of every child.",
     "Solution rationales/Superior knowledge/Holistic view", "Coder A"),
    (1, "Better knowledge means better decisions.", "Solution rationales/Superior knowledge",
     "Coder B"),
]


@dataclass(frozen=True)
class Tool:
    file: str
    origin: str
    folder: str  # "Sources" or "sources"
    scheme: str  # "internal://" or "" (bare file name)
    encoding: str  # how the text file is written
    bom: bytes
    newline: str  # line end in the text file
    unit: str  # "cp", "utf16", "cp_lf"
    names: bool = False  # selection name = start of the selected text
    coding_user: str | None = None  # Coding@creatingUser, when it is not the selection's
    extras: bool = False  # PDF and picture sources, a Case naming the PDF
    sets_notes: bool = False


TOOLS = [
    Tool("maxqda24.qdpx", "MAXQDA 24", "sources", "internal://", "utf-8", b"", "\n", "cp",
         names=True, sets_notes=True),
    Tool("nvivo12_windows.qdpx", "NVivo 12 Plus (Windows)", "Sources", "internal://", "utf-8",
         b"\xef\xbb\xbf", "\r\n", "utf16", names=True, coding_user="Project owner"),
    Tool("nvivo15_mac.qdpx", "NVivo 15 (Mac)", "sources", "", "utf-16-le", b"\xff\xfe", "\n",
         "utf16"),
    Tool("atlasti23.qdpx", "ATLAS.ti 23", "Sources", "internal://", "utf-8", b"", "\r\n",
         "cp_lf", extras=True),
    Tool("qualcoder.qdpx", "QualCoder 3.6", "Sources", "internal://", "utf-8", b"", "\n", "cp"),
]


def guid(tool: Tool, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"parentlink-fixture:{tool.file}:{key}"))


def offset(raw: str, i: int, unit: str) -> int:
    """Position of raw[:i] in the tool's unit, counted from the encoded text."""
    head = raw[:i]
    if unit == "utf16":
        return len(head.encode("utf-16-le")) // 2
    if unit == "cp_lf":
        return len(head.replace("\r\n", "\n"))
    return len(head)


def sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)


def project_xml(tool: Tool) -> ET.Element:
    root = ET.Element(f"{{{NS}}}Project", {"name": "Fixture", "origin": tool.origin})
    users = sub(root, "Users")
    for name in USERS:
        sub(users, "User", guid=guid(tool, f"user:{name}"), name=name)
    codes = sub(sub(root, "CodeBook"), "Codes")
    parents = {"": codes}
    for path, codable in CODES:
        parent = parents[path.rsplit("/", 1)[0] if "/" in path else ""]
        parents[path] = sub(parent, "Code", guid=guid(tool, f"code:{path}"),
                            name=path.rsplit("/", 1)[-1], isCodable=str(codable).lower())
    variables = sub(root, "Variables")
    for var in ("Document type", "Organisation"):
        sub(variables, "Variable", guid=guid(tool, f"var:{var}"), name=var, typeOfVariable="Text")
    cases = sub(root, "Cases")
    for i, (name, dtype, org, _) in enumerate(DOCS):
        case = sub(cases, "Case", guid=guid(tool, f"case:{i}"), name=name)
        for var, value in (("Document type", dtype), ("Organisation", org)):
            vv = sub(case, "VariableValue")
            sub(vv, "VariableRef", targetGUID=guid(tool, f"var:{var}"))
            sub(vv, "TextValue").text = value
        sub(case, "SourceRef", targetGUID=guid(tool, f"source:{i}"))
        if tool.extras and i == 0:
            sub(case, "SourceRef", targetGUID=guid(tool, "pdf"))
    sources = sub(root, "Sources")
    for i, (name, _, _, text) in enumerate(DOCS):
        add_text_source(tool, sources, i, name, text)
    if tool.extras:
        sub(sources, "PDFSource", guid=guid(tool, "pdf"), name="Annual report",
            path=f"internal://{guid(tool, 'pdf')}.pdf")
        sub(sources, "PictureSource", guid=guid(tool, "picture"), name="Leaflet scan",
            path=f"internal://{guid(tool, 'picture')}.png")
    if tool.sets_notes:
        note = sub(sub(root, "Notes"), "Note", guid=guid(tool, "note"), name="Memo")
        sub(note, "PlainTextContent").text = "Coding memo: flagged means identified."
        member = sub(sub(root, "Sets"), "Set", guid=guid(tool, "set"), name="Councils")
        sub(member, "MemberSource", targetGUID=guid(tool, "source:0"))
    return root


def raw_text(tool: Tool, text: str) -> str:
    return text.replace("\n", tool.newline)


def add_text_source(tool: Tool, sources: ET.Element, i: int, name: str, text: str) -> None:
    file = f"{guid(tool, f'source:{i}')}.txt"
    src = sub(sources, "TextSource", guid=guid(tool, f"source:{i}"), name=name,
              plainTextPath=f"{tool.scheme}{file}")
    raw = raw_text(tool, text)
    for k, (doc, quote, code, coder) in enumerate(CODINGS):
        if doc != i:
            continue
        at = raw.index(raw_text(tool, quote))
        end = at + len(raw_text(tool, quote))
        attrs = {"guid": guid(tool, f"sel:{k}"), "startPosition": str(offset(raw, at, tool.unit)),
                 "endPosition": str(offset(raw, end, tool.unit)),
                 "creatingUser": guid(tool, f"user:{coder}"), "creationDateTime": WHEN}
        if tool.names:
            attrs["name"] = quote[:24]
        sel = sub(src, "PlainTextSelection", **attrs)
        coding_user = tool.coding_user or coder
        coding = sub(sel, "Coding", guid=guid(tool, f"coding:{k}"),
                     creatingUser=guid(tool, f"user:{coding_user}"))
        sub(coding, "CodeRef", targetGUID=guid(tool, f"code:{code}"))


def build(tool: Tool) -> bytes:
    ET.register_namespace("", NS)
    xml = ET.tostring(project_xml(tool), encoding="utf-8", xml_declaration=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        entry(zf, "project.qde", xml)
        for i, (_, _, _, text) in enumerate(DOCS):
            data = tool.bom + raw_text(tool, text).encode(tool.encoding)
            entry(zf, f"{tool.folder}/{guid(tool, f'source:{i}')}.txt", data)
        if tool.extras:
            entry(zf, f"{tool.folder}/{guid(tool, 'pdf')}.pdf", b"%PDF-1.4\n%%EOF\n")
    return buf.getvalue()


def entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        (OUT / tool.file).write_bytes(build(tool))


if __name__ == "__main__":
    main()
