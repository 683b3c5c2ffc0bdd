"""Reading REFI-QDA projects and flat CSVs (parentlink.qdpx) and the synthetic generator."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parentlink import qda_positions as qpos
from parentlink.documents import write_outputs
from parentlink.errors import UserError, run_stage
from parentlink.qda_archive import Limits
from parentlink.qdpx import ReadOptions, read_codes
from parentlink.synth_documents import write_corpus
from tests import qda_tool_fixtures as tools

FIXTURE = Path(__file__).parent / "fixtures" / "qdpx"
QDE = (FIXTURE / "project.qde").read_text(encoding="utf-8")
BETA = "55555555-0000-0000-0000-000000000002"
DELTA = "55555555-0000-0000-0000-000000000004"


def make_qdpx(tmp: Path, qde: str = QDE, sources: bool = True, name: str = "project.qde"
              ) -> Path:
    """Zip the hand-written fixture the way a QDA package exports it."""
    path = tmp / "fixture.qdpx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, qde)
        if sources:
            for file in sorted((FIXTURE / "Sources").iterdir()):
                zf.write(file, f"Sources/{file.name}")
    return path


def test_reads_nested_codes_users_inline_and_internal_text(tmp_path: Path) -> None:
    p = read_codes(make_qdpx(tmp_path))
    assert p.coders == ("Ann", "Ben")
    assert len(p.segments) == 17 and len(p.documents) == 4
    assert p.codebook["depth"].max() == 3
    row = p.codebook.set_index("code_path").loc["Solutions/Knowledge/Holistic"]
    assert (row["parent"], row["depth"], row["is_codable"]) == ("Knowledge", 3, True)
    # Every quote is the slice of its source text (inline S1/S3, Sources/ file S2/S4).
    beta = p.segments[p.segments["document"] == "Beta Analytics - Platform page"]
    assert set(beta["code"]) == {"Risk", "Profiling", "Early warning"}  # {BRACED} GUID resolved
    assert beta.iloc[0]["quote"] == "Our profiling engine finds hidden risk in your data."
    docs = p.documents.set_index("document")
    # Delta's attributes sit on its TextSource, the others on Cases.
    assert docs.loc["Delta Council - Data plan", "organisation"] == "Delta Council"
    assert docs.loc["Gamma Department - Statement", "year"] == 2016
    assert list(p.segments.columns) == [
        "document_id", "document", "doc_type", "organisation", "year", "coder", "code",
        "code_path", "parent_code", "start", "end", "quote"]


def test_bare_qde_reads_sources_beside_it(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "proj")
    a = read_codes(tmp_path / "proj" / "project.qde")
    b = read_codes(make_qdpx(tmp_path))
    pd.testing.assert_frame_equal(a.segments, b.segments)


def test_relative_path_sources(tmp_path: Path) -> None:
    qde = QDE.replace(f"internal://{BETA}.txt", "relative://texts/beta.txt")
    (tmp_path / "texts").mkdir()
    shutil.copy(FIXTURE / "Sources" / f"{BETA}.txt", tmp_path / "texts" / "beta.txt")
    p = read_codes(make_qdpx(tmp_path, qde), ReadOptions(external_sources=tmp_path))
    assert "Our profiling engine" in set(p.segments["quote"].str[:20])
    # Without documents.external_sources nothing outside the archive is opened.
    assert "documents.external_sources" in error_of(make_qdpx(tmp_path, qde))


def test_csv_reader_matches_qdpx(tmp_path: Path) -> None:
    p = read_codes(make_qdpx(tmp_path))
    flat = p.segments.rename(columns={"doc_type": "type"})
    flat["code"] = flat["code_path"]
    flat[["document", "type", "organisation", "year", "coder", "code", "start", "end",
          "quote"]].to_csv(tmp_path / "codes.csv", index=False)
    c = read_codes(tmp_path / "codes.csv")
    pd.testing.assert_frame_equal(c.segments, p.segments)
    assert c.coders == ("Ann", "Ben")
    assert set(c.codebook["code_path"]) >= {"Solutions", "Solutions/Knowledge"}


def error_of(path: Path) -> str:
    with pytest.raises(UserError) as info:
        read_codes(path)
    message = str(info.value)
    assert message.count(". ") == 0 or message.endswith(".")  # one sentence
    assert str(path) in message
    return message


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('<CodeRef targetGUID="cccccccc-0000-0000-0000-000000000011"/>',
     '<CodeRef targetGUID="cccccccc-0000-0000-0000-000000000099"/>',
     "refers to code GUID 'cccccccc-0000-0000-0000-000000000099', which is not in the CodeBook"),
    ('startPosition="125" endPosition="184"', 'startPosition="125" endPosition="999"',
     "spans characters 125-999, outside its source text of 184 characters"),
    ('guid="cccccccc-0000-0000-0000-000000000011" name="Bias"',
     'guid="cccccccc-0000-0000-0000-000000000002" name="Bias"',
     "GUID cccccccc-0000-0000-0000-000000000002 is used by both"),
    ('xmlns="urn:QDA-XML:project:1.0"', 'xmlns="urn:QDA-XML:codebook:1.0"',
     "namespace 'urn:QDA-XML:codebook:1.0', not Project in 'urn:QDA-XML:project:1.0'"),
    (f"internal://{BETA}.txt", "internal://missing/beta.txt",
     "points to internal://missing/beta.txt, which is missing"),
])
def test_malformed_project(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in QDE
    assert expected in error_of(make_qdpx(tmp_path, QDE.replace(old, new, 1)))


def test_missing_source_file(tmp_path: Path) -> None:
    message = error_of(make_qdpx(tmp_path, sources=False))
    assert "Sources/ folder" in message and BETA in message


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "codes.qdpx"
    path.write_text("hello")
    assert "not a zip archive" in error_of(path)


def test_zip_without_project_qde(tmp_path: Path) -> None:
    assert "no project.qde" in error_of(make_qdpx(tmp_path, name="Sources/other.xml"))


def test_csv_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("document,type,code,start,end\nd,company,X,0,5\n")
    message = error_of(path)
    assert "missing column(s) organisation, year, coder, quote" in message


def test_csv_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("document,type,organisation,year,coder,code,start,end,quote\n"
                    "d,company,O,2020,A,X,9,5,q\n")
    assert "line 2 has start 9 and end 5" in error_of(path)


# ---------------------------------------------------------------- synthetic generator


def test_generator_is_deterministic_and_readable(tmp_path: Path) -> None:
    a = write_corpus(20210601, tmp_path / "a")
    b = write_corpus(20210601, tmp_path / "b")
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes()
    q, c = read_codes(a[0]), read_codes(a[1])
    pd.testing.assert_frame_equal(q.segments, c.segments)
    assert len(q.documents) == 60 and set(q.documents["year"]) <= set(range(2015, 2022))
    double = q.segments.groupby("document_id")["coder"].nunique()
    assert (double == 2).sum() == 12  # 20% double-coded
    assert q.coders == ("Coder A", "Coder B")
    assert "SYNTHETIC" in qde_text(a[0])


def qde_text(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read("project.qde").decode("utf-8")


def test_generator_seed_changes_output(tmp_path: Path) -> None:
    a = write_corpus(1, tmp_path / "a")[1].read_bytes()
    b = write_corpus(2, tmp_path / "b")[1].read_bytes()
    assert a != b


# ---------------------------------------------------------------- each tool's export


TOOLS_DIR = Path(__file__).parent / "fixtures" / "qda_tools"
XSD = Path(__file__).parent / "fixtures" / "refi-qda" / "Project-mrt2019.xsd"
EXPECTED = sorted((tools.DOCS[d][0], quote, code, coder) for d, quote, code, coder in tools.CODINGS)
UNIT_OF = {"cp": qpos.CODE_POINTS, "utf16": qpos.UTF16, "cp_lf": qpos.CODE_POINTS_LF}


def quotes_of(p: object) -> list[tuple[str, str, str, str]]:
    seg = p.segments  # type: ignore[attr-defined]
    return sorted(zip(seg["document"], seg["quote"], seg["code_path"], seg["coder"], strict=True))


@pytest.mark.parametrize("tool", tools.TOOLS, ids=lambda t: t.file)
def test_each_tools_export_reads_the_right_quotes(tool: tools.Tool) -> None:
    p = read_codes(TOOLS_DIR / tool.file)
    assert quotes_of(p) == EXPECTED  # emoji, CRLF, BOMs, folder case and path schemes
    assert set(p.reading.units.values()) == {UNIT_OF[tool.unit]}
    assert p.coders == ("Coder A", "Coder B", "Project owner")
    assert p.codebook["depth"].max() == 3
    docs = p.documents.set_index("document")
    assert docs.loc["Acme Insight - Product sheet", "doc_type"] == "company"
    # The coder is the selection's user, never the Coding's (NVivo names the project owner).
    assert p.reading.coder_differs == (6 if tool.coding_user else 0)
    assert p.reading.skipped == ({"PDFSource": 1, "PictureSource": 1} if tool.extras else {})


@pytest.mark.parametrize("tool", tools.TOOLS, ids=lambda t: t.file)
def test_tool_fixtures_are_rebuilt_byte_identical(tool: tools.Tool) -> None:
    assert tools.build(tool) == (TOOLS_DIR / tool.file).read_bytes()


def project_qdes(tmp: Path) -> dict[str, bytes]:
    out = {t.file: zipfile.ZipFile(TOOLS_DIR / t.file).read("project.qde") for t in tools.TOOLS}
    out["qdpx/project.qde"] = (FIXTURE / "project.qde").read_bytes()
    out["synthetic corpus"] = zipfile.ZipFile(write_corpus(20210601, tmp)[0]).read("project.qde")
    return out


def test_fixtures_and_own_export_validate_against_the_refi_qda_schema(tmp_path: Path) -> None:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(XSD)))
    for name, data in project_qdes(tmp_path).items():
        assert schema.validate(etree.fromstring(data)), (name, str(schema.error_log))
    broken = QDE.replace('isCodable="false"', 'isCodable="perhaps"', 1).encode()
    assert not schema.validate(etree.fromstring(broken))  # the schema does check


def rezip(src: Path, dst: Path, edit: Callable[[str], str]) -> Path:
    """Copy an archive, passing project.qde through ``edit``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "project.qde":
                data = edit(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)
    return dst


def test_utf16_positions_found_by_names_without_the_tools_name(tmp_path: Path) -> None:
    nvivo = TOOLS_DIR / "nvivo12_windows.qdpx"
    p = read_codes(rezip(nvivo, tmp_path / "x.qdpx", lambda s: s.replace(
        'origin="NVivo 12 Plus (Windows)"', 'origin="Some tool"')))
    assert quotes_of(p) == EXPECTED


def test_a_selection_off_its_name_is_an_error(tmp_path: Path) -> None:
    nvivo = TOOLS_DIR / "nvivo12_windows.qdpx"
    sel = re.search(r'startPosition="(\d+)" endPosition="(\d+)"',
                    zipfile.ZipFile(nvivo).read("project.qde").decode())
    assert sel is not None
    s, e = int(sel[1]), int(sel[2])
    moved = rezip(nvivo, tmp_path / "x.qdpx", lambda t: t.replace(
        sel[0], f'startPosition="{s + 9}" endPosition="{e + 9}"', 1))
    assert "is named" in error_of(moved)


def test_ambiguous_positions_ask_for_documents_position_unit(tmp_path: Path) -> None:
    # MAXQDA's unit is not known to the project: without names, emoji make it ambiguous.
    bare = rezip(TOOLS_DIR / "maxqda24.qdpx", tmp_path / "x.qdpx",
                 lambda s: re.sub(r'(<PlainTextSelection [^>]*?) name="[^"]*"', r"\1", s))
    assert "set documents.position_unit" in error_of(bare)
    p = read_codes(bare, ReadOptions(position_unit=qpos.CODE_POINTS))
    assert quotes_of(p) == EXPECTED


def test_zero_codings_is_an_error_naming_the_file(tmp_path: Path) -> None:
    empty = rezip(TOOLS_DIR / "qualcoder.qdpx", tmp_path / "x.qdpx",
                  lambda s: re.sub(r"<PlainTextSelection .*?</PlainTextSelection>", "", s,
                                   flags=re.S))
    assert "no coded text (0 codings" in error_of(empty)


def deep_codes(depth: int) -> str:
    opening = "".join(f'<Code guid="{uuid.UUID(int=i + 1)}" name="c{i}" isCodable="true">'
                      for i in range(depth))
    return QDE.replace("<Codes>", "<Codes>" + opening + "</Code>" * depth, 1)


def test_deep_code_trees(tmp_path: Path) -> None:
    p = read_codes(make_qdpx(tmp_path, deep_codes(200)))
    assert p.codebook["depth"].max() == 200
    assert "nests elements more than 256 deep" in error_of(make_qdpx(tmp_path, deep_codes(3000)))


# ---------------------------------------------------------------- hostile projects

SECRET = b"PLANTED-SECRET-5f1e-must-never-reach-an-output"
OUTPUT_NAMES = ("code_frequencies", "cooccurrence", "chains", "reliability", "quotes", "segments")


def pointing_to(tmp: Path, location: str, base: str | None = None) -> Path:
    """The fixture with Beta's text taken from ``location`` (and a Project basePath)."""
    qde = QDE.replace(f"internal://{BETA}.txt", location)
    if base is not None:
        qde = qde.replace("<Project ", f'<Project basePath="{base}" ', 1)
    return make_qdpx(tmp, qde)


def bare_qde(tmp: Path, location: str) -> Path:
    folder = tmp / "proj"
    shutil.copytree(FIXTURE, folder)
    qde = folder / "project.qde"
    qde.write_text(QDE.replace(f"internal://{BETA}.txt", location), encoding="utf-8")
    return qde


def with_qde_bytes(tmp: Path, data: bytes) -> Path:
    path = tmp / "fixture.qdpx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", data)
    return path


def with_source_bytes(tmp: Path, data: bytes) -> Path:
    path = make_qdpx(tmp, sources=False)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"Sources/{BETA}.txt", data)
        zf.write(FIXTURE / "Sources" / f"{DELTA}.txt", f"Sources/{DELTA}.txt")
    return path


def doctype_after_comment(tmp: Path, secret: Path) -> Path:
    decl = f'<!DOCTYPE Project [<!ENTITY e SYSTEM "file://{secret}">]>'
    qde = QDE.replace("<Project ", "<!--" + "x" * 5000 + "-->" + decl + "<Project ", 1)
    return with_qde_bytes(tmp, qde.replace("Our profiling", "&e; Our profiling").encode())


def laughs_utf16(tmp: Path, secret: Path) -> Path:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(9))
    body = QDE.split("?>", 1)[1]
    qde = '<?xml version="1.0" encoding="UTF-16"?>' + f"<!DOCTYPE Project [{lol}]>" + body
    return with_qde_bytes(tmp, qde.replace("Our profiling", "&l8; Our profiling")
                          .encode("utf-16"))


def understated(tmp: Path) -> Path:
    """A zip bomb whose headers claim Beta's 3 MB text is 100 bytes (ratio checks see nothing)."""
    path = with_source_bytes(tmp, b"a" * 3 * 2**20)
    data = bytearray(path.read_bytes())
    name = f"Sources/{BETA}.txt".encode()
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name.decode())
    local = info.header_offset
    data[local + 22:local + 26] = (100).to_bytes(4, "little")
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + 24:central + 28] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


Case = Callable[[Path, Path], tuple[Path, ReadOptions]]


def ext(tmp: Path) -> Path:
    folder = tmp / "ext"
    folder.mkdir(exist_ok=True)
    return folder


def linked(tmp: Path, name: str, target: Path) -> Path:
    (ext(tmp) / name).symlink_to(target)
    return ext(tmp)


def fifo(tmp: Path) -> Path:
    os.mkfifo(ext(tmp) / "pipe.txt")
    return ext(tmp)


def sources_link(tmp: Path, secret: Path) -> Path:
    qde = bare_qde(tmp, "internal://link.txt")
    (qde.parent / "Sources" / "link.txt").symlink_to(secret)
    return qde


def small(**limits: int) -> ReadOptions:
    return ReadOptions(limits=Limits(**limits))


HOSTILE: dict[str, tuple[Case, str]] = {
    "absolute path, no folder configured": (
        lambda t, s: (pointing_to(t, f"absolute://{s}"), ReadOptions()),
        "is a file outside the project, which the reader opens only from a folder you name"),
    "absolute path, folder configured": (
        lambda t, s: (pointing_to(t, f"absolute://{s}"), ReadOptions(ext(t))),
        "which is missing from documents.external_sources"),
    "relative path with ..": (
        lambda t, s: (pointing_to(t, "relative://../private/secret.txt"), ReadOptions(ext(t))),
        "leaves the folder documents.external_sources"),
    "relative path against the project's basePath": (
        lambda t, s: (pointing_to(t, "relative://secret.txt", base=str(s.parent)),
                      ReadOptions(ext(t))),
        "which is missing from documents.external_sources"),
    "internal:// with .. in a .qdpx": (
        lambda t, s: (pointing_to(t, "internal://../../private/secret.txt"), ReadOptions()),
        "leaves the project's Sources/ folder"),
    "internal:// with .. beside a bare .qde": (
        lambda t, s: (bare_qde(t, "internal://../../private/secret.txt"), ReadOptions()),
        "leaves the project's Sources/ folder"),
    "symlink in the Sources/ folder of a bare .qde": (
        lambda t, s: (sources_link(t, s), ReadOptions()), "a symbolic link"),
    "symlink in the external folder": (
        lambda t, s: (pointing_to(t, "relative://link.txt"), ReadOptions(linked(t, "link.txt", s))),
        "a symbolic link"),
    "symlinked folder in the external folder": (
        lambda t, s: (pointing_to(t, "relative://sub/secret.txt"),
                      ReadOptions(linked(t, "sub", s.parent))), "a symbolic link"),
    "/proc as the external folder": (
        lambda t, s: (pointing_to(t, "absolute:///proc/self/environ"),
                      ReadOptions(Path("/proc"))), "a system folder"),
    "a FIFO in the external folder": (
        lambda t, s: (pointing_to(t, "relative://pipe.txt"), ReadOptions(fifo(t))),
        "not a regular file"),
    "DOCTYPE after a 5 kB comment": (
        lambda t, s: (doctype_after_comment(t, s), ReadOptions()), "declares a DOCTYPE"),
    "entity expansion in a UTF-16 project.qde": (
        lambda t, s: (laughs_utf16(t, s), ReadOptions()), "declares a DOCTYPE"),
    "3000-deep code tree": (
        lambda t, s: (make_qdpx(t, deep_codes(3000)), ReadOptions()), "nests elements"),
    "zip bomb (compression ratio)": (
        lambda t, s: (with_source_bytes(t, b"a" * 3 * 2**20), ReadOptions()), "zip bomb"),
    "zip whose headers understate a member's size": (
        lambda t, s: (understated(t), ReadOptions()), "cannot be unpacked"),
    "member over the size limit": (
        lambda t, s: (with_source_bytes(t, os.urandom(2**20).hex().encode()),
                      small(max_file_bytes=2**20)), "over the 1 MB limit documents.max_file_mb"),
    "project over the total limit": (
        lambda t, s: (make_qdpx(t), small(max_total_bytes=2**13)), "documents.max_total_mb"),
    "too many archive entries": (
        lambda t, s: (make_qdpx(t), small(max_members=2)), "entries, more than the 2"),
    "zero codings": (
        lambda t, s: (make_qdpx(t, re.sub(r"<PlainTextSelection .*?</PlainTextSelection>", "",
                                          QDE, flags=re.S)), ReadOptions()), "0 codings"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_project_is_one_line_and_leaks_nothing(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(SECRET + b"\n")
    make, expected = HOSTILE[name]
    source, options = make(tmp_path, secret)
    out_dir = tmp_path / "results"
    outs = {n: out_dir / f"{n}.{'json' if n == 'quotes' else 'csv'}" for n in OUTPUT_NAMES}

    def stage() -> None:
        write_outputs(read_codes(source, options), outs, synthetic=False,
                      problem_root="Problems", solution_root="Solutions")

    started = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        run_stage(stage, outputs=list(outs.values()))
    assert time.perf_counter() - started < 5
    assert info.value.code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("ERROR: ")]
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err and SECRET.decode() not in err
    written = [p for p in tmp_path.rglob("*") if p.is_file() and out_dir in p.parents]
    assert written == []
    for p in tmp_path.rglob("*"):  # nothing anywhere but the planted file holds its bytes
        if p.is_file() and not p.is_symlink() and p != secret and "ext" not in p.parts:
            assert SECRET not in p.read_bytes(), p


def test_the_same_file_without_the_attack_reads(tmp_path: Path) -> None:
    # The positive control for the cases above: a legitimate external folder is read.
    (ext(tmp_path) / "beta.txt").write_bytes((FIXTURE / "Sources" / f"{BETA}.txt").read_bytes())
    p = read_codes(pointing_to(tmp_path, "relative://beta.txt"), ReadOptions(ext(tmp_path)))
    assert len(p.segments) == 17
    q = read_codes(pointing_to(tmp_path, "absolute://C:\\Users\\ann\\beta.txt"),
                   ReadOptions(ext(tmp_path)))
    assert len(q.segments) == 17


# ---------------------------------------------------------------- position units


def reference_offset(raw: str, unit: str, u: int) -> int | None:
    """By the definition: the LF-text index of the first raw position whose count in ``unit``
    (from str.encode and str.replace) is ``u``; None if no position has it."""
    crlf_one = unit in (qpos.CODE_POINTS_LF, qpos.UTF16_LF)
    for i in range(len(raw) + 1):
        if crlf_one and 0 < i < len(raw) and raw[i - 1:i + 1] == "\r\n":
            continue  # between the CR and LF of a line end counted as one: not a position
        head = raw[:i].replace("\r\n", "\n") if crlf_one else raw[:i]
        count = len(head.encode("utf-16-le")) // 2 if unit in (qpos.UTF16, qpos.UTF16_LF) \
            else len(head)
        if count == u:
            return i - sum(raw[k:k + 2] == "\r\n" for k in range(i))
    return None


@given(st.lists(st.sampled_from(["a", "\r", "\n", "\r\n", "\U0001F600", "\u00e9", " "]),
                max_size=25).map("".join),
       st.lists(st.integers(-2, 60), min_size=1, max_size=10))
@settings(max_examples=300, deadline=None)
def test_position_units_map_by_the_definition(raw: str, offsets: list[int]) -> None:
    index = qpos.TextIndex(raw)
    u = np.array(offsets, dtype=np.int64)
    for unit in qpos.UNITS:
        raw_i, ok = index.locate(*index.events(unit), u)
        lf = raw_i - np.searchsorted(index.crs, raw_i, side="left")
        for k, off in enumerate(offsets):
            want = reference_offset(raw, unit, off)
            assert (want is not None) == bool(ok[k]), (unit, off)
            if want is not None:
                assert lf[k] == want, (unit, off)
