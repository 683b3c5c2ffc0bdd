"""Read a received REFI-QDA project without letting it reach anything else on the machine.

A ``.qdpx`` comes from outside the project, so every byte the reader takes is bounded and
located here:

* **Archive members** are read only through :class:`Archive`, which matches names without regard
  to case or slash style (MAXQDA and NVivo for Mac write ``sources/``, others ``Sources/``) and
  caps the number of members, each member's size, the total read and the compression ratio. A
  member's declared size is checked first and the read itself stops at the cap, so a zip whose
  headers lie cannot exhaust memory either.
* **Files outside the archive** (``relative://``, ``absolute://`` sources, or the ``Sources/``
  folder beside a bare ``.qde``) are read only by :func:`read_confined` from one folder named
  explicitly: the path is taken apart, ``..`` and absolute parts are refused, no component may be
  a symbolic link, the file must be a regular file (no devices, FIFOs or ``/proc`` entries) and is
  opened with ``O_NOFOLLOW``. The project's own ``basePath`` is never used: it is part of the
  received file.
* **XML** is parsed by :func:`parse_xml`: a first expat pass with handlers for declarations only
  (the technique defusedxml uses) stops at a DOCTYPE, entity or notation declaration anywhere,
  in any encoding, before anything is expanded; then the tree is built and element depth capped.

Every refusal is a :class:`parentlink.errors.UserError` with one sentence.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NoReturn
from xml.etree import ElementTree as ET
from xml.parsers import expat

from parentlink.errors import fail

MIB = 2**20
SOURCES = "sources"
REFUSED_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


@dataclass(frozen=True)
class Limits:
    """What one project may cost. Sizes are uncompressed bytes of what the reader opens."""

    max_file_bytes: int = 32 * MIB  # one member or external file (project.qde or a text)
    max_total_bytes: int = 128 * MIB  # everything read from one project
    max_members: int = 20_000  # entries in the zip directory
    max_ratio: float = 200.0  # uncompressed / compressed, for members above RATIO_FLOOR
    max_xml_depth: int = 256  # nested XML elements (code trees deeper than ~250 levels)


RATIO_FLOOR = 1 * MIB


class _Refusal(Exception):
    """Raised inside expat handlers; turned into a UserError outside the parser."""


def megabytes(n: int) -> str:
    return f"{n / MIB:.0f} MB"


class Budget:
    """Running total of bytes read from one project."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path, self.limits, self.used = path, limits, 0

    def take(self, n: int, what: str) -> None:
        self.used += n
        if self.used > self.limits.max_total_bytes:
            fail(f"{self.path}: reading {what} takes the project past "
                 f"{megabytes(self.limits.max_total_bytes)} of text, the limit "
                 "documents.max_total_mb; raise it in config/config.yaml if the project is "
                 "really that large.")


def too_big(path: Path, what: str, size: int, limits: Limits) -> NoReturn:
    fail(f"{path}: {what} is {megabytes(size)} uncompressed, over the "
         f"{megabytes(limits.max_file_bytes)} limit documents.max_file_mb; raise it in "
         "config/config.yaml if the file is genuine.")


class Archive:
    """The members of a .qdpx, looked up case-insensitively and read within the limits."""

    def __init__(self, zf: zipfile.ZipFile, path: Path, limits: Limits, budget: Budget) -> None:
        self.zf, self.path, self.limits, self.budget = zf, path, limits, budget
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            fail(f"{path}: the archive lists {len(infos)} entries, more than the "
                 f"{limits.max_members} a REFI-QDA project may have; export the project again.")
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if not info.is_dir():
                self.members.setdefault(member_key(info.filename), info)

    def project_member(self) -> zipfile.ZipInfo | None:
        """The root-level project.qde (or the only root-level .qde)."""
        if "project.qde" in self.members:
            return self.members["project.qde"]
        roots = [k for k in self.members if "/" not in k and k.endswith(".qde")]
        return self.members[roots[0]] if len(roots) == 1 else None

    def source(self, rel: str) -> zipfile.ZipInfo | None:
        return self.members.get(f"{SOURCES}/{rel.lower()}")

    def read(self, info: zipfile.ZipInfo) -> bytes:
        what = f"archive member {info.filename}"
        if info.file_size > self.limits.max_file_bytes:
            too_big(self.path, what, info.file_size, self.limits)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > self.limits.max_ratio:
            fail(f"{self.path}: {what} expands {ratio:.0f} times (limit "
                 f"{self.limits.max_ratio:.0f}), the mark of a zip bomb; do not use this file, "
                 "export the project again.")
        try:
            with self.zf.open(info) as fh:
                data = fh.read(self.limits.max_file_bytes + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                RuntimeError, OSError) as err:
            fail(f"{self.path}: {what} cannot be unpacked ({err}); export the project again.")
        if len(data) > self.limits.max_file_bytes:
            too_big(self.path, what, len(data), self.limits)
        self.budget.take(len(data), what)
        return data


def member_key(name: str) -> str:
    """Zip names compared without case, backslashes or a leading './'."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/").lower()


def safe_parts(rel: str) -> tuple[str, ...] | None:
    """The components of a relative path, or None if it could leave its folder."""
    rel = rel.replace("\\", "/")
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        return None
    parts = tuple(p for p in PurePosixPath(rel).parts if p != ".")
    if not parts or any(p == ".." or "\x00" in p for p in parts):
        return None
    return parts


def check_root(root: Path, key: str) -> Path:
    """The external folder named by config key ``key``, resolved; refused if it is a system
    folder or not a folder."""
    resolved = root.resolve()
    if any(resolved == r or r in resolved.parents for r in REFUSED_ROOTS):
        fail(f"{key} names {root}, a system folder; name the folder that holds the project's "
             "source texts.")
    if not resolved.is_dir():
        fail(f"{key} names {root}, which is not a folder; create it or correct the setting in "
             "config/config.yaml.")
    return resolved


def read_confined(root: Path, parts: tuple[str, ...], limits: Limits, budget: Budget,
                  what: str) -> bytes | None:
    """Bytes of root/parts if it is a regular file reached without symlinks; None if absent.

    Refuses (UserError) a symlink on the way, a non-regular file or an oversized one.
    """
    current = root
    for i, part in enumerate(parts):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return None
        except OSError as err:
            fail(f"{budget.path}: {what} cannot be looked up ({err.strerror}); check the file.")
        if stat.S_ISLNK(st.st_mode):
            fail(f"{budget.path}: {what} reaches {current}, a symbolic link, which the reader "
                 "does not follow; put the file itself in the folder.")
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            return None
        if last and not stat.S_ISREG(st.st_mode):
            fail(f"{budget.path}: {what} is {current}, which is not a regular file; the "
                 "reader reads only ordinary text files.")
    try:
        fd = os.open(current, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        fail(f"{budget.path}: {what} cannot be opened ({err.strerror}); check the file.")
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            fail(f"{budget.path}: {what} is {current}, which is not a regular file; the reader "
                 "reads only ordinary text files.")
        if st.st_size > limits.max_file_bytes:
            too_big(budget.path, what, st.st_size, limits)
        data = fh.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:
        too_big(budget.path, what, len(data), limits)
    budget.take(len(data), what)
    return data


def find_folder(parent: Path, name: str) -> Path | None:
    """A real (non-symlink) sub-folder of ``parent`` called ``name`` in any case."""
    try:
        entries = sorted(os.scandir(parent), key=lambda e: e.name)
    except OSError:
        return None
    for entry in entries:
        if entry.name.lower() == name.lower() and entry.is_dir(follow_symlinks=False):
            return Path(entry.path)
    return None


# ---------------------------------------------------------------- XML


def parse_xml(data: bytes, path: Path, limits: Limits) -> ET.Element:
    """Parse project.qde into an ElementTree, refusing DTDs and entity declarations anywhere.

    A first expat pass watches only for declarations (at C speed, stopping at the first one,
    before anything is expanded); only then does ElementTree build the tree from the same
    bytes, and element depth is checked on it without recursion.
    """
    guard = expat.ParserCreate()

    def refuse(*_: object) -> None:
        raise _Refusal("declares a DOCTYPE or entities, which REFI-QDA projects never use")

    def refuse_external(*_: object) -> int:
        raise _Refusal("refers to an external entity, which REFI-QDA projects never use")

    guard.StartDoctypeDeclHandler = refuse
    guard.EntityDeclHandler = refuse
    guard.UnparsedEntityDeclHandler = refuse
    guard.NotationDeclHandler = refuse
    guard.ExternalEntityRefHandler = refuse_external
    try:
        guard.Parse(data, True)
        root = ET.fromstring(data)
        check_depth(root, limits.max_xml_depth)
    except _Refusal as why:
        fail(f"{path}: project.qde {why}; do not use this file, export the project again.")
    except expat.ExpatError as err:
        fail(f"{path}: project.qde is not well-formed XML ({expat.ErrorString(err.code)}, line "
             f"{err.lineno}); export the project again.")
    except ET.ParseError as err:
        fail(f"{path}: project.qde is not well-formed XML ({err}); export the project again.")
    return root


def check_depth(root: ET.Element, limit: int) -> None:
    """Refuse a tree deeper than ``limit``, walking it a level at a time (no recursion)."""
    level, depth = [root], 1
    while level:
        if depth > limit:
            raise _Refusal(f"nests elements more than {limit} deep")
        level = [child for el in level for child in el]
        depth += 1
