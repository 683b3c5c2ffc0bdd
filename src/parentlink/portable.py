"""The dictionary of an SPSS portable (.por) file, read for what pyreadstat leaves out.

pyreadstat reads a portable file's data and labels but not its user-missing declarations: a
value declared missing (999 "Don't know", a string 'x', LO THRU -1) comes back as system-missing,
so its meaning is lost without a word. This module reads the declarations from the file's
dictionary so that ingest can refuse such a file instead (docs/deliveries.md).

The format (PSPP manual, "Portable File Format"): a 200-byte splash, a 256-byte character table,
``SPSSPORT``, then tagged records in 80-character lines. Numbers are base 30 ('0'-'9', 'A'-'T')
ending in '/', strings are a length then the characters. A variable record ('7') is followed by
its missing values: '8' one value, '9' LO THRU x, 'A' x THRU HI, 'B' x THRU y. Only the standard
character table (the one every writer seen uses) is read; the data records are not read.
"""

from __future__ import annotations

from pathlib import Path

_MISSING_TAGS = {"8": 1, "9": 1, "A": 1, "B": 2}  # tag -> how many values follow


class PortableError(ValueError):
    """The dictionary could not be read as the format describes."""


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def char(self) -> str:
        if self.pos >= len(self.text):
            raise PortableError("the dictionary ends early")
        c = self.text[self.pos]
        self.pos += 1
        return c

    def field(self) -> str:
        end = self.text.find("/", self.pos)
        if end < 0:
            raise PortableError("a number is not ended by '/'")
        out, self.pos = self.text[self.pos:end], end + 1
        return out

    def integer(self) -> int:
        raw = self.field().strip()
        try:
            return int(raw, 30)
        except ValueError:
            raise PortableError(f"'{raw}' is not a whole number") from None

    def number(self) -> None:
        if self.text.startswith("*.", self.pos):  # system-missing
            self.pos += 2
            return
        self.field()

    def string(self) -> str:
        n = self.integer()
        out = self.text[self.pos:self.pos + n]
        self.pos += n
        return out


def _lines(data: bytes) -> str:
    """The records as one string: lines padded to 80 characters, line ends removed."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return "".join(line.decode("latin-1").ljust(80) for line in lines)


def missing_declared(path: str | Path) -> dict[str, int]:
    """Variables of a portable file that declare user-missing values, with how many each declares."""
    text = _lines(Path(path).read_bytes())
    start = text.find("SPSSPORT")
    if start < 0:
        raise PortableError("no SPSSPORT signature")
    r = _Reader(text)
    r.pos = start + len("SPSSPORT")
    r.char()  # format version
    r.string()  # creation date
    r.string()  # creation time
    out: dict[str, int] = {}
    name = ""
    width = 0
    while True:
        tag = r.char()
        if tag in "123":  # product, author, sub-product
            r.string()
        elif tag in "45":  # number of variables, precision
            r.integer()
        elif tag == "6":  # weight variable
            r.string()
        elif tag == "7":
            width = r.integer()
            name = r.string()
            for _ in range(6):  # print and write formats
                r.integer()
        elif tag in _MISSING_TAGS:
            for _ in range(_MISSING_TAGS[tag]):
                r.string() if width > 0 else r.number()
            out[name] = out.get(name, 0) + 1
        elif tag == "C":  # variable label
            r.string()
        elif tag in "DEF":  # value labels, documents, data: the declarations are all read
            return out
        else:
            raise PortableError(f"unexpected record tag {tag!r} in the dictionary")
